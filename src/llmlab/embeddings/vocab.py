"""From text to the word ids word2vec and GloVe train on: words, a vocabulary, and two word2vec tables.

The first step of training word embeddings, shared by :mod:`~llmlab.embeddings.word2vec` and
:mod:`~llmlab.embeddings.glove`:

1. **Words.** The text is lowercased and every run of letters, with inner apostrophes, is a word
   (the regex ``\\p{L}+(?:'\\p{L}+)*``: "Don't stop, 1984!" -> ``don't``, ``stop``). Numbers and
   punctuation are dropped. A blank line ends a *sentence* (a paragraph): context windows never
   cross it. A sentence longer than 10,000 words is cut into pieces of 10,000, because gensim
   truncates longer ones (``MAX_WORDS_IN_BATCH``), and the tests feed gensim the very same lists.
2. **Vocabulary.** Words seen fewer than ``min_count`` times are dropped (they are too rare to
   learn anything about); the rest are sorted by count, most frequent first.
3. **Subsampling of frequent words** (Mikolov et al. 2013, "Distributed Representations of Words
   and Phrases and their Compositionality", section 2.3; the formula of the C code and gensim).
   With ``f`` a word's count and ``t = sample * total``, each occurrence is kept with probability::

       keep(w) = min(1, (sqrt(f / t) + 1) * t / f)

   "the" (5% of a corpus) is kept about 1 time in 6 with ``sample=1e-3``; rare words always.
4. **The negative-sampling table.** Negatives are drawn from the unigram distribution raised to
   the 3/4 power, ``P(w) = f(w)^0.75 / sum_v f(v)^0.75``, which gives rare words a little more
   weight. As in gensim, ``cum_table`` holds the cumulative sums scaled to ``2**31 - 1``; a draw
   is ``searchsorted(cum_table, r)`` with ``r`` uniform in ``[0, cum_table[-1])``.

``tests/test_emb_vocab.py`` checks the counts, the order, the keep probabilities and the table
against gensim's ``Word2Vec.build_vocab`` on the same sentences, live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import regex

from llmlab.errors import LLMLabError

WORD_RE = regex.compile(r"\p{L}+(?:'\p{L}+)*")  # a run of letters, inner apostrophes allowed
SENTENCE_END_RE = regex.compile(r"\n[ \t]*\n")  # a blank line ends a sentence (a paragraph)
MAX_SENTENCE_WORDS = 10_000  # gensim's MAX_WORDS_IN_BATCH: longer sentences are cut into pieces
CORPUS_ASSETS = ("shakespeare", "wiki100", "botchan")  # corpora an asset name can name


def words(text: str) -> list[str]:
    """The lowercased words of ``text``: ``words("Don't stop, 1984!") == ["don't", "stop"]``."""
    return WORD_RE.findall(text.lower())


def sentences(text: str) -> list[list[str]]:
    """``text`` as sentences of words: one per paragraph, none empty, none over 10,000 words."""
    out = []
    for paragraph in SENTENCE_END_RE.split(text):
        ws = words(paragraph)
        out.extend(ws[i : i + MAX_SENTENCE_WORDS] for i in range(0, len(ws), MAX_SENTENCE_WORDS))
    return out


def corpus_texts(corpus: str) -> list[str]:
    """The documents of ``corpus``: asset names (comma-separated: "wiki100,shakespeare") or a
    text file or a folder of ``.txt`` files. Every document of an asset is used (all splits)."""
    from llmlab.training.corpus import corpus_documents

    texts: list[str] = []
    for part in [p.strip() for p in corpus.split(",") if p.strip()]:
        if not Path(part).expanduser().exists() and part not in CORPUS_ASSETS:
            raise LLMLabError(
                f"corpus {part!r} is neither a file, a folder nor a corpus asset ({', '.join(CORPUS_ASSETS)})"
            )
        texts.extend(corpus_documents(part, splits=("all",)))
    if not texts:
        raise LLMLabError("no corpus given: name an asset (e.g. wiki100,shakespeare) or a text file")
    return texts


def load_sentences(corpus: str | Sequence[Sequence[str]]) -> list[list[str]]:
    """Sentences of words from a corpus name/path (see :func:`corpus_texts`) or already-split
    sentences (a list of lists of words, used as they are)."""
    if isinstance(corpus, str):
        return [s for text in corpus_texts(corpus) for s in sentences(text)]
    return [list(s) for s in corpus if len(s)]


class Vocabulary:
    """The words kept for training, most frequent first, with their counts.

    ``words[i]`` has id ``i`` and ``counts[i]`` occurrences. Build one with :meth:`build`.
    """

    def __init__(self, words: Sequence[str], counts: Sequence[int] | np.ndarray):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)  # (V,)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 5) -> Vocabulary:
        """Count every word, keep those seen at least ``min_count`` times, sort by count.

        Ties keep gensim's order (``np.lexsort((-first_seen, -count))``): among words with the
        same count, the one first seen *later* comes first.
        """
        if min_count < 1:
            raise LLMLabError(f"min_count must be at least 1, got {min_count}")
        counter: Counter[str] = Counter()
        for s in sentences:
            counter.update(s)
        if not counter:
            raise LLMLabError("the corpus is empty: it holds no words to train on")
        seen = [w for w, c in counter.items() if c >= min_count]  # first-seen order (dicts keep it)
        if not seen:
            top = max(counter.values())
            raise LLMLabError(
                f"no word occurs {min_count} times (the most frequent occurs {top}): lower min_count "
                "or use a bigger corpus"
            )
        counts = np.array([counter[w] for w in seen], dtype=np.int64)
        # subtle: gensim breaks ties by *descending* first-seen position; we match it so ids agree
        order = np.lexsort((-np.arange(len(seen)), -counts))
        return cls([seen[i] for i in order], counts[order])

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self):,} words, {self.total:,} tokens)"

    @property
    def total(self) -> int:
        """Occurrences of all kept words: the corpus length after dropping rare words."""
        return int(self.counts.sum())

    def check_size(self, window: int, negative: int = 0) -> None:
        """A clear error when the vocabulary cannot fill a context window or draw negatives.

        A window of ``w`` words each side needs at least ``w + 1`` distinct words to be more than
        repetition, and ``k`` negatives need ``k + 2`` words so they can differ from the target.
        """
        need = max(window + 1, negative + 2 if negative else 0, 2)
        if len(self) < need:
            raise LLMLabError(
                f"a vocabulary of {len(self)} words is too small for window {window}"
                + (f" and {negative} negatives" if negative else "")
                + f": it needs at least {need} words; use a bigger corpus or a lower min_count"
            )

    def encode(self, sentences: Iterable[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """All kept words as ids, concatenated, and the sentence each one belongs to.

        Returns ``ids`` (N,) int32 and ``sentence`` (N,) int32. Dropped (rare) words are skipped
        *before* windows are drawn, as in gensim, so a window reaches past them.
        """
        ids: list[int] = []
        sent: list[int] = []
        index = self.index
        for k, s in enumerate(sentences):
            row = [index[w] for w in s if w in index]
            ids.extend(row)
            sent.extend([k] * len(row))
        return np.array(ids, dtype=np.int32), np.array(sent, dtype=np.int32)

    def keep_probabilities(self, sample: float = 1e-3) -> np.ndarray:
        """keep(w) = min(1, (sqrt(f/t) + 1) * t/f), t = sample * total; all ones if ``sample`` is 0.

        (V,) float64, the probability that one occurrence of each word is kept for training.
        """
        if not sample:
            return np.ones(len(self))
        t = sample * self.total
        f = self.counts.astype(np.float64)
        return np.minimum(1.0, (np.sqrt(f / t) + 1) * t / f)

    def sample_ints(self, sample: float = 1e-3) -> np.ndarray:
        """gensim's integer form of :meth:`keep_probabilities`: keep when a random uint32 <= it."""
        return (self.keep_probabilities(sample) * (2**32 - 1)).astype(np.uint32)

    def negative_table(self, exponent: float = 0.75, domain: int = 2**31 - 1) -> np.ndarray:
        """cum_table[i] = round(domain * sum_{j<=i} f_j^exponent / sum_j f_j^exponent), (V,) uint32."""
        cumulative = np.cumsum(self.counts.astype(np.float64) ** exponent)  # (V,)
        # subtle: the total is the last cumulative sum, added one by one as gensim does; weights.sum()
        # adds pairwise and could differ in the last bit, moving a rounded entry by one
        return np.round(cumulative / cumulative[-1] * domain).astype(np.uint32)
