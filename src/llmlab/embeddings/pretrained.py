"""Pretrained GloVe 6B-50d: 400,000 words x 50 numbers, trained by Stanford on 6 billion tokens.

Unlike the vectors we train ourselves (:mod:`llmlab.embeddings.word2vec`, ``glove``), these come
ready-made from the ``glove-6b-50d`` asset (Pennington, Socher & Manning, "GloVe: Global Vectors
for Word Representation", EMNLP 2014; Wikipedia 2014 + Gigaword 5, lowercased). The asset is a
numpy array ``glove_6B_50d_emb.npy`` (400000, 50) float32 and a parquet table
``glove_6B_index.parquet`` whose one column holds the words, most frequent first (row ``i`` of
the array belongs to word ``i``). We read both once and wrap them in :class:`WordVectors`::

    glove = load_glove()
    glove.similarity("king", "queen")             # 0.7839
    glove.analogy("man", "king", "woman")[0]      # ('queen', 0.852...)
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from llmlab import assets
from llmlab.embeddings.vectors import WordVectors
from llmlab.errors import LLMLabError

ASSET = "glove-6b-50d"


def load_glove(folder: str | Path | None = None) -> WordVectors:
    """GloVe 6B-50d as :class:`WordVectors` (cached per folder: the second call is free).

    ``folder`` defaults to the ``glove-6b-50d`` asset, pulled on first use unless offline.
    """
    folder = Path(folder) if folder is not None else assets.require(ASSET)
    return _load(folder.resolve())


@functools.cache
def _load(folder: Path) -> WordVectors:
    vectors = np.load(folder / "glove_6B_50d_emb.npy")  # (400000, 50) float32
    table = pq.read_table(folder / "glove_6B_index.parquet")
    # subtle: the parquet was written by pandas; its only data column is named "index"
    words = table.column(table.column_names[0]).to_pylist()
    if len(words) != len(vectors):
        raise LLMLabError(f"{folder}: {len(words)} words but {len(vectors)} vectors; re-pull the asset")
    return WordVectors(words, vectors, metadata={"source": ASSET})
