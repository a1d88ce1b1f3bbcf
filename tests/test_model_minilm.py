"""all-MiniLM-L6-v2 through our BERT, tokenizer and mean pooling vs sentence-transformers."""

from __future__ import annotations

import json
import random

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from llmlab.models.base import ModelError
from llmlab.models.sentence import SentenceEncoder, mean_pool

BASE = [
    "The cat sat on the mat.",
    "A man is playing a guitar on stage!",
    "How do I reset my password?",
    "Stock markets fell sharply on Tuesday, dragging the index down 3.2%.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "I can't believe it's already December...",
    "Il fait très beau aujourd'hui à Paris.",
    "Die Straßenbahn fährt über die Brücke.",
    "¿Dónde está la biblioteca? ¡Necesito estudiar!",
    "東京は日本の首都です。",
    "我喜欢在周末读书。",
    "Москва — столица России.",
    "Η γλώσσα είναι ελληνική.",
    "مرحبا بالعالم",
    "Emoji are fun 😀🎉👍, aren't they?",
    "naïve café résumé coöperate Ångström",
    "E = mc², ∑ x_i ≥ 0, and ∞ − 1 = ∞.",
    "e-mail: someone@example.com, url: https://example.org/a?b=c&d=e",
    "Version 3.11.4 (released 2023-06-06) fixes bug #10234.",
    "   leading and trailing spaces   ",
    "tabs\tand\nnew\nlines",
    "UPPER CASE TEXT SHOULD BE LOWERCASED",
    "A [MASK] token written in the text, and [SEP] too.",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "zero\u200bwidth space and soft\u00adhyphen",
    "Quotes: “curly” ‘single’ «guillemets» — dashes – too",
]


def sentences() -> list[str]:
    """100 varied texts: the base ones, pairs and triples of them, and a few past 256 tokens."""
    rng = random.Random(0)
    texts = list(BASE) + ["", "?", "ok"]
    while len(texts) < 96:
        texts.append(" ".join(rng.sample(BASE, rng.randint(2, 3))))
    while len(texts) < 100:  # truncated at 256 tokens (300 to 500 tokens each)
        texts.append(" ".join(rng.choice(BASE) for _ in range(rng.randint(20, 30))))
    return texts


@pytest.fixture(scope="module")
def minilm(real_home_path):
    """Our encoder and sentence-transformers' on the same folder, loaded once for the module
    (conftest sets HF_HUB_OFFLINE, so sentence-transformers reads the local folder only)."""
    from sentence_transformers import SentenceTransformer

    folder = real_home_path("all-minilm-l6-v2")
    return SentenceEncoder.from_folder(folder), SentenceTransformer(str(folder), device="cpu")


def test_sentence_embeddings_equal_sentence_transformers(minilm):
    texts = sentences()
    assert len(texts) == 100
    ours, theirs = minilm
    mine = ours.encode(texts, batch_size=32)
    ref = theirs.encode(texts, batch_size=32, convert_to_tensor=True, normalize_embeddings=True)
    assert mine.shape == ref.shape == (100, 384)
    assert_close(mine.norm(dim=-1), torch.ones(100), rtol=0, atol=1e-5)
    cosine = F.cosine_similarity(mine, ref.float().cpu())
    print(f"MiniLM: minimum cosine to sentence-transformers over 100 texts: {cosine.min().item():.9f}")
    assert cosine.min() >= 0.99999, texts[int(cosine.argmin())]


def test_token_ids_equal_sentence_transformers_tokenizer(minilm):
    texts = sentences()
    encoder, st = minilm
    assert encoder.max_seq_len == st.max_seq_length == 256
    ref = st.tokenizer(texts, truncation=True, max_length=st.max_seq_length)["input_ids"]
    mine = [encoder.tokenizer.encode_for_model(t, max_length=256, allowed_special="all").ids for t in texts]
    assert mine == ref
    assert sum(len(r) == 256 for r in ref) == 4  # the long texts really were truncated
    ids, mask = encoder.tokenize(texts[:3] + [texts[-1]])
    assert ids.shape == mask.shape == (4, 256)
    assert mask.sum(dim=1).tolist() == [len(r) for r in ref[:3]] + [256]


def test_batching_and_order_do_not_change_the_embeddings(minilm):
    texts = BASE[:8]
    encoder, _ = minilm
    together = encoder.encode(texts, batch_size=32)
    one_by_one = encoder.encode(texts[::-1], batch_size=1).flip(0)
    assert_close(together, one_by_one, rtol=0, atol=1e-5)  # padding is masked out of attention and mean
    raw = encoder.encode(texts[:2], normalize=False)
    assert_close(F.normalize(raw, dim=-1), together[:2], rtol=0, atol=1e-6)
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(2))


def test_mean_pool_equals_sentence_transformers_pooling():
    from sentence_transformers.sentence_transformer.modules.pooling import Pooling

    torch.manual_seed(0)
    hidden = torch.randn(3, 7, 16)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6])
    ref = Pooling(16, pooling_mode="mean")({"token_embeddings": hidden, "attention_mask": mask})
    assert_close(mean_pool(hidden, mask), ref["sentence_embedding"], rtol=1e-6, atol=1e-6)
    assert_close(mean_pool(hidden, mask)[2], hidden[2, 0])  # pads are left out of the mean


def test_folders_with_another_pipeline_are_refused(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    modules = [{"type": f"sentence_transformers.models.{m}"} for m in ("Transformer", "Pooling", "Normalize")]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(
        ModelError, match=r"only mean pooling is supported, .* asks for \['pooling_mode_cls_token'\]"
    ):
        SentenceEncoder.from_folder(tmp_path)
    (tmp_path / "modules.json").write_text(json.dumps(modules[:2]))
    with pytest.raises(
        ModelError,
        match=r"expected modules Transformer, Pooling, Normalize, found \['Transformer', 'Pooling'\]",
    ):
        SentenceEncoder.from_folder(tmp_path)
    (tmp_path / "modules.json").unlink()
    with pytest.raises(ModelError, match="modules.json is missing: not a sentence-transformers model folder"):
        SentenceEncoder.from_folder(tmp_path)
