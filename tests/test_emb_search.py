"""Semantic search through our BERT vs sentence-transformers live; documents from files and folders."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llmlab.embeddings.search import DEMO_DOCUMENTS, SemanticIndex, encode, load_documents
from llmlab.errors import LLMLabError
from llmlab.models.sentence import SentenceEncoder


@pytest.fixture(scope="module")
def encoders(real_home_path):
    from sentence_transformers import SentenceTransformer

    folder = real_home_path("all-minilm-l6-v2")
    return SentenceEncoder.from_folder(folder), SentenceTransformer(str(folder), device="cpu")


def test_search_embeddings_equal_sentence_transformers(encoders) -> None:
    ours, st = encoders
    texts = [*DEMO_DOCUMENTS[:6], "How do neural networks learn?", "word " * 300]  # the last one is truncated
    mine = encode(texts, ours, batch_size=4)  # several chunks and batches
    theirs = torch.from_numpy(st.encode(texts, batch_size=4, normalize_embeddings=True))
    assert mine.shape == theirs.shape == (len(texts), 384)
    cos = F.cosine_similarity(mine, theirs, dim=-1)
    assert cos.min().item() >= 0.99999


def test_search_ranks_like_sentence_transformers(encoders) -> None:
    from sentence_transformers import util

    ours, st = encoders
    index = SemanticIndex(DEMO_DOCUMENTS, ours)
    queries = ["interest rates and inflation", "how do computers understand text", "pets and animals"]
    refs = util.semantic_search(st.encode(queries), st.encode(list(DEMO_DOCUMENTS)), top_k=4)
    for query, ref in zip(queries, refs, strict=True):
        hits = index.search(query, k=4)
        assert [h.index for h in hits] == [r["corpus_id"] for r in ref]
        for h, r in zip(hits, ref, strict=True):
            assert h.score == pytest.approx(r["score"], abs=1e-5)
            assert h.text == DEMO_DOCUMENTS[h.index]
    assert index.search("interest rates and inflation", k=1)[0].text.startswith("The central bank")


def test_documents_from_a_file_and_a_folder(tmp_path) -> None:
    (tmp_path / "docs.txt").write_text("first doc\n\n  second doc  \n")
    assert load_documents(tmp_path / "docs.txt") == ["first doc", "second doc"]
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.md").write_text("# Title\nbody   text\n")
    (folder / "sub" / "a.txt").write_text("nested")
    (folder / "empty.txt").write_text("  \n")
    (folder / "image.png").write_bytes(b"\x89PNG")
    assert load_documents(folder) == ["# Title body text", "nested"]


def test_bad_document_sources_are_clear_errors(tmp_path) -> None:
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(LLMLabError, match="has no non-empty line"):
        load_documents(tmp_path / "empty.txt")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(LLMLabError, match="no non-empty .txt or .md file in"):
        load_documents(tmp_path / "nothing")
    with pytest.raises(LLMLabError, match="no such file or folder"):
        load_documents(tmp_path / "missing")


def test_empty_inputs_are_refused(encoders) -> None:
    ours, _ = encoders
    with pytest.raises(LLMLabError, match="no documents to search"):
        SemanticIndex([], ours)
    with pytest.raises(LLMLabError, match="the query is empty"):
        SemanticIndex(["a doc"], ours).search("  ")
    assert encode([], ours).shape == (0, 384)
