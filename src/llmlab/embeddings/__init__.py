"""Embeddings: words and texts as vectors whose geometry carries meaning.

The ladder, one file per rung:

- :mod:`~llmlab.embeddings.vectors`: :class:`WordVectors`, a word table with similarity, most
  similar, analogies (3CosAdd, 3CosMul), odd one out, save and load.
- :mod:`~llmlab.embeddings.pretrained`: the real GloVe 6B-50d vectors from the assets.
- :mod:`~llmlab.embeddings.evaluate`: analogy accuracy and word-similarity correlations.
- :mod:`~llmlab.embeddings.contextual`: one vector per token *in context*, layer by layer.
- :mod:`~llmlab.embeddings.search`: sentence embeddings and semantic search.
- :mod:`~llmlab.embeddings.project` and :mod:`~llmlab.embeddings.meaning_map`: PCA / t-SNE to
  2D, and the map as a PNG and an interactive HTML page.
"""

from llmlab.embeddings.vectors import OOVError, WordVectors

__all__ = ["OOVError", "WordVectors"]
