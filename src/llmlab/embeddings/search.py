"""Semantic search: find the documents that *mean* what the query means, not those sharing its words.

Builds on the sentence embeddings of :mod:`llmlab.models.sentence` (our BERT with the
all-MiniLM-L6-v2 weights; mean pooling, normalised), which match sentence-transformers'
to cosine >= 0.99999. Search is then three steps, the core of every RAG system:

1. embed every document once: ``D = encode(docs)``                 (N, C), rows of length 1
2. embed the query:           ``q = encode([query])[0]``           (C,)
3. score by cosine = dot product, keep the best k: ``topk(D @ q)``  (N,) -> k

"I lost my wallet" finds "Where can I report missing property?" although no word is shared,
because the encoder was trained (contrastively, on a billion sentence pairs) to put texts
with the same meaning close together. (Reimers & Gurevych, "Sentence-BERT", EMNLP 2019.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from llmlab.cli.console import count_bar
from llmlab.errors import LLMLabError
from llmlab.models.sentence import SentenceEncoder

DEMO_DOCUMENTS = (
    "The cat sat on the windowsill, watching birds in the garden.",
    "Dogs need daily walks and plenty of exercise to stay healthy.",
    "The central bank raised interest rates to slow down inflation.",
    "Stock prices fell sharply after the company's earnings report.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar.",
    "The Pacific is the largest and deepest of the world's oceans.",
    "Mount Everest is the highest mountain above sea level.",
    "Python is a popular programming language for data science.",
    "A transformer model uses self-attention to relate words in a sentence.",
    "Regular sleep and a balanced diet improve concentration.",
    "The recipe calls for flour, butter, sugar and two eggs.",
    "The football match ended in a draw after extra time.",
)
TEXT_SUFFIXES = (".txt", ".md")


@dataclass
class Hit:
    index: int  # position of the document in the list searched
    score: float  # cosine similarity with the query, in [-1, 1]
    text: str


@functools.cache
def sentence_encoder() -> SentenceEncoder:
    """all-MiniLM-L6-v2 through our BERT (loaded once; pulled on first use unless offline)."""
    return SentenceEncoder.from_folder()


def encode(
    texts: list[str],
    encoder: SentenceEncoder | None = None,
    batch_size: int = 32,
    show_progress: bool | None = None,
) -> Tensor:
    """Unit-length sentence embeddings (N, C) in the order given, with a progress bar for long lists.

    ``show_progress=None`` draws the bar only when stderr is a terminal.
    """
    encoder = encoder or sentence_encoder()
    parts = []
    with count_bar(show_progress) as bar:
        task = bar.add_task("embedding", total=len(texts))
        step = batch_size * 8  # the encoder sorts each chunk by length so batches hold little padding
        for start in range(0, len(texts), step):
            chunk = list(texts[start : start + step])
            parts.append(encoder.encode(chunk, batch_size=batch_size))  # (n, C)
            bar.advance(task, len(chunk))
    if not parts:
        return torch.zeros(0, encoder.model.config.d_model)
    return torch.cat(parts)  # (N, C)


class SemanticIndex:
    """Documents and their embeddings; ``search(query, k)`` returns the k closest by cosine."""

    def __init__(
        self,
        documents: list[str] | tuple[str, ...],
        encoder: SentenceEncoder | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.documents = [d for d in documents]
        if not self.documents:
            raise LLMLabError("no documents to search: give a file with one document per line, or a folder")
        self.encoder = encoder or sentence_encoder()
        self.embeddings = encode(self.documents, self.encoder, show_progress=show_progress)  # (N, C)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The ``k`` documents most similar to ``query``, best first."""
        if not query.strip():
            raise LLMLabError("the query is empty")
        q = self.encoder.encode([query])[0]  # (C,)
        scores = self.embeddings @ q  # (N,): cosine, as every row has length 1
        best = torch.topk(scores, min(k, len(scores)))
        return [
            Hit(i, s, self.documents[i])
            for s, i in zip(best.values.tolist(), best.indices.tolist(), strict=True)
        ]


def load_documents(path: str | Path) -> list[str]:
    """Documents from a text file (one per non-empty line) or a folder (one per .txt/.md file, sorted)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES and p.is_file())
        docs = [" ".join(p.read_text(encoding="utf-8", errors="replace").split()) for p in files]
        docs = [d for d in docs if d]
        where = f"no non-empty .txt or .md file in {path}"
    elif path.is_file():
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        docs = [line.strip() for line in lines if line.strip()]
        where = f"{path} has no non-empty line"
    else:
        raise LLMLabError(f"{path}: no such file or folder")
    if not docs:
        raise LLMLabError(f"no documents to search: {where}")
    return docs
