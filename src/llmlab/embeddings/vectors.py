"""Word vectors: a table of words and one row of numbers per word, and the questions you ask it.

This is the object every other file of :mod:`llmlab.embeddings` hands around: pretrained GloVe
(:mod:`~llmlab.embeddings.pretrained`), the vectors our own word2vec and GloVe training produce,
the snapshots of the "meaning map". It holds ``words`` (V,) and ``vectors`` (V, D) float32, and a
row-normalised copy made on first use, so that cosine similarity is a dot product::

    cos(a, b) = a . b / (||a|| ||b||)        unit[i] = vectors[i] / ||vectors[i]||

The queries mirror gensim's ``KeyedVectors`` (the production twin the tests compare with, live):

- ``most_similar(positive, negative)``: mean of the unit vectors (+1 for positive, -1 for
  negative, divided by the total weight), normalised, then the top cosines over the whole table,
  leaving out the query words. ``analogy("man", "king", "woman")`` ("man is to king as woman is
  to ?") is ``most_similar([king, woman], [man])``: **3CosAdd** (Mikolov et al. 2013).
- **3CosMul** (Levy & Goldberg 2014, "Linguistic Regularities in Sparse and Explicit Word
  Representations", eq. 4): cosines are shifted to [0, 1] and multiplied instead of added, so one
  large similarity cannot dominate::

      argmax_x  cos'(x, king) * cos'(x, woman) / (cos'(x, man) + eps),   cos' = (1 + cos) / 2

- ``odd_one_out``: the word least similar to the (normalised) mean of all of them.

Saved as one ``.safetensors`` file: the (V, D) matrix as tensor ``vectors`` and the words as a JSON
list in the header's metadata. No pickle, so loading someone else's file cannot run code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from llmlab.errors import LLMLabError
from llmlab.formats.safetensors import WeightsFormatError, load_file, read_header, save_file

FORMAT = "llmlab.word_vectors"  # the ``format`` entry of the metadata of a saved file
Query = str | np.ndarray  # a word, or a raw (D,) vector


class OOVError(LLMLabError, KeyError):
    """A word is not in the vocabulary; the message lists the nearest spellings that are."""

    def __str__(self) -> str:  # subtle: KeyError's __str__ would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


def normalised(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to length 1 along its last axis (a vector, or every row of a matrix).

    subtle: an all-zero vector would divide by zero; it stays zero (cosine 0 with everything).
    """
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), np.finfo(np.float32).tiny)


class WordVectors:
    """``words`` (V,) and their ``vectors`` (V, D); row ``i`` belongs to ``words[i]``.

    Tables sorted by frequency (GloVe's and ours are) make ``restrict=N`` mean "the N most
    frequent words", as gensim's ``restrict_vocab``.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, metadata: dict[str, str] | None = None):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise LLMLabError(f"word vectors must be a (V, D) matrix, got shape {vectors.shape}")
        if len(words) != vectors.shape[0]:
            raise LLMLabError(f"{len(words)} words but {vectors.shape[0]} vectors: they must match")
        self.words = list(words)
        self.vectors = vectors  # (V, D) float32
        self.key_to_index = {w: i for i, w in enumerate(self.words)}
        if len(self.key_to_index) != len(self.words):
            seen: set[str] = set()
            dup = next(w for w in self.words if w in seen or seen.add(w))
            raise LLMLabError(f"the word {dup!r} appears twice: each word needs exactly one vector")
        self.metadata = dict(metadata or {})
        self._unit: np.ndarray | None = None
        self._norms: np.ndarray | None = None
        self._spelling: dict[str, list[int]] | None = None
        self._lookups: dict[tuple[int | None, bool], dict[str, int]] = {}

    # --- the table --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"WordVectors({len(self):,} words x {self.dim} dims)"

    @property
    def dim(self) -> int:
        """D, the length of each vector."""
        return self.vectors.shape[1]

    @property
    def norms(self) -> np.ndarray:
        """||vectors[i]|| for every row, (V,); computed once, on first use."""
        if self._norms is None:
            self._norms = np.linalg.norm(self.vectors, axis=1)
        return self._norms

    @property
    def unit(self) -> np.ndarray:
        """The rows scaled to length 1, (V, D) float32; made once, on first use."""
        if self._unit is None:
            self._unit = normalised(self.vectors)  # (V, D)
        return self._unit

    def index(self, word: str) -> int:
        """The row of ``word``; an :class:`OOVError` naming the nearest spellings if it has none."""
        i = self.key_to_index.get(word)
        if i is None:
            near = ", ".join(self.nearest_spellings(word)) or "none close"
            raise OOVError(
                f"{word!r} is not in the vocabulary ({len(self):,} words); nearest spellings: {near}"
            )
        return i

    def lookup(self, restrict: int | None = None, case_insensitive: bool = False) -> dict[str, int]:
        """Spelling -> row among the first ``restrict`` words (gensim's ``ok_vocab``); upper-cased
        when ``case_insensitive``, where the most frequent casing wins. Built once per setting."""
        key = (restrict, case_insensitive)
        if key not in self._lookups:
            ok: dict[str, int] = {}
            for i, w in enumerate(self.words[:restrict]):
                ok.setdefault(w.upper() if case_insensitive else w, i)
            self._lookups[key] = ok
        return self._lookups[key]

    def vector(self, word: str, norm: bool = False) -> np.ndarray:
        """The (D,) vector of ``word`` (a copy; unit length when ``norm``)."""
        return (self.unit if norm else self.vectors)[self.index(word)].copy()

    # --- similarity queries -----------------------------------------------------------------
    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words, in [-1, 1]."""
        return float(self.unit[self.index(a)] @ self.unit[self.index(b)])

    def most_similar(
        self,
        positive: Query | Sequence[Query] = (),
        negative: Query | Sequence[Query] = (),
        topn: int = 10,
        restrict: int | None = None,
    ) -> list[tuple[str, float]]:
        """The ``topn`` words closest (cosine) to mean(positive) - mean(negative), query words left out.

        1. mean = sum(+u for positive, -u for negative) / n_terms, u the unit vectors
        2. scores = unit[:restrict] @ (mean / ||mean||)                       (V,)
        3. the ``topn + n_query_words`` best by argpartition, sorted, query words dropped
        """
        positive, negative = _as_list(positive), _as_list(negative)
        if not positive and not negative:
            raise LLMLabError("most_similar needs at least one word")
        terms = [(q, 1.0) for q in positive] + [(q, -1.0) for q in negative]
        mean = np.zeros(self.dim, dtype=np.float32)
        for q, weight in terms:
            mean += weight * self._unit_query(q)
        mean = normalised(mean / len(terms))
        scores = self.unit[:restrict] @ mean  # (V,)
        return self._top(scores, topn, exclude=self._query_rows(positive + negative))

    def most_similar_cosmul(
        self,
        positive: Query | Sequence[Query] = (),
        negative: Query | Sequence[Query] = (),
        topn: int = 10,
        eps: float = 1e-6,
    ) -> list[tuple[str, float]]:
        """3CosMul: prod over positive of (1+cos)/2, divided by (prod over negative of (1+cos)/2) + eps.

        ``eps`` is gensim's 1e-6 (Levy & Goldberg used 1e-3; the ranking barely moves).
        """
        positive, negative = _as_list(positive), _as_list(negative)
        if not positive:
            raise LLMLabError("3CosMul needs at least one positive word")
        shifted = [(1 + self.unit @ self._unit_query(q)) / 2 for q in positive + negative]  # each (V,)
        scores = np.prod(shifted[: len(positive)], axis=0) / (np.prod(shifted[len(positive) :], axis=0) + eps)
        return self._top(scores, topn, exclude=self._query_rows(positive + negative))

    def analogy(
        self, a: str, b: str, c: str, method: str = "3cosadd", topn: int = 10
    ) -> list[tuple[str, float]]:
        """a is to b as c is to ?  (``analogy("man", "king", "woman")`` -> queen first).

        3CosAdd: the words nearest to b - a + c; 3CosMul: see :meth:`most_similar_cosmul`.
        """
        missing = [w for w in (a, b, c) if w not in self]
        if missing:
            raise OOVError(
                f"the analogy cannot be computed: {self._oov_list(missing)}"
                + (" is" if len(missing) == 1 else " are")
                + f" not in the vocabulary ({len(self):,} words)"
            )
        if method == "3cosadd":
            return self.most_similar([b, c], [a], topn=topn)
        if method == "3cosmul":
            return self.most_similar_cosmul([b, c], [a], topn=topn)
        raise LLMLabError(f"unknown analogy method {method!r}; choose 3cosadd or 3cosmul")

    def odd_one_out(self, words: Sequence[str]) -> str:
        """The word that fits least: lowest cosine with the normalised mean of the unit vectors."""
        if len(words) < 2:
            raise LLMLabError("odd one out needs at least two words")
        units = self.unit[[self.index(w) for w in words]]  # (n, D)
        mean = normalised(units.mean(axis=0))
        cosines = units @ mean  # (n,)
        return min(zip(cosines.tolist(), words, strict=True))[1]

    # --- saving and loading -----------------------------------------------------------------
    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
        """Write one ``.safetensors`` file (atomically): tensor ``vectors``, words in the metadata.

        ``metadata`` (str -> str, e.g. ``{"step": "1000"}``) is stored too and comes back in
        ``.metadata`` after :meth:`load`.
        """
        path = Path(path)
        meta = {**self.metadata, **(metadata or {})}
        meta.update({"format": FORMAT, "words": json.dumps(self.words, ensure_ascii=False)})
        save_file({"vectors": torch.from_numpy(self.vectors)}, path, metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> WordVectors:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise LLMLabError(f"{path}: no such word-vectors file")
        entries, meta = read_header(path)
        if meta.get("format") != FORMAT or "words" not in meta or "vectors" not in entries:
            raise WeightsFormatError(path, "not a word-vectors file (saved by WordVectors.save)")
        vectors = load_file(path)["vectors"].numpy()
        words = json.loads(meta.pop("words"))
        meta.pop("format")
        return cls(words, vectors, metadata=meta)

    # --- helpers ----------------------------------------------------------------------------
    def nearest_spellings(self, word: str, n: int = 5, max_distance: int = 2) -> list[str]:
        """Up to ``n`` words within ``max_distance`` edits (Levenshtein) of ``word``, closest first.

        Fast on 400k words: only words of a similar length that share the first or the last
        letter are compared (a typo rarely hits both), then ties go to the more frequent word.
        """
        if not word:
            return []
        if self._spelling is None:
            buckets: dict[str, list[int]] = {}
            for i, w in enumerate(self.words):
                if w:
                    buckets.setdefault("^" + w[0], []).append(i)
                    buckets.setdefault(w[-1] + "$", []).append(i)
            self._spelling = buckets
        rows = set(self._spelling.get("^" + word[0], ())) | set(self._spelling.get(word[-1] + "$", ()))
        scored = []
        for i in rows:
            w = self.words[i]
            if abs(len(w) - len(word)) <= max_distance:
                d = edit_distance(word, w, max_distance)
                if d <= max_distance:
                    scored.append((d, i))
        return [self.words[i] for _, i in sorted(scored)[:n]]

    def _unit_query(self, q: Query) -> np.ndarray:
        if isinstance(q, str):
            return self.unit[self.index(q)]
        v = np.asarray(q, dtype=np.float32)
        if v.shape != (self.dim,):
            raise LLMLabError(f"a query vector must have shape ({self.dim},), got {v.shape}")
        return normalised(v)

    def _query_rows(self, queries: Iterable[Query]) -> set[int]:
        return {self.key_to_index[q] for q in queries if isinstance(q, str) and q in self.key_to_index}

    def _oov_list(self, missing: list[str]) -> str:
        parts = []
        for w in missing:
            near = self.nearest_spellings(w)
            parts.append(f"{w!r}" + (f" (did you mean {', '.join(near[:3])}?)" if near else ""))
        return ", ".join(parts)

    def _top(self, scores: np.ndarray, topn: int, exclude: set[int]) -> list[tuple[str, float]]:
        k = min(topn + len(exclude), len(scores))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]  # the k largest, in no order: O(V), not O(V log V)
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best if i not in exclude][:topn]


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance (insert, delete, substitute each cost 1), by rows of the DP table.

    With ``limit``, stops as soon as a whole row exceeds it and returns ``limit + 1``.
    """
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if limit is not None and min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1] if limit is None else min(previous[-1], limit + 1)


def _as_list(q: Query | Sequence[Query]) -> list[Query]:
    if isinstance(q, str | np.ndarray):
        return [q]
    return list(q)
