"""Train a byte-level BPE tokenizer (GPT-2 style) on a corpus of any size.

Unlike :meth:`BasicBPE.train <llmlab.tokenizers.bpe_basic.BasicBPE.train>`, which rescans
the whole text for every merge, this trainer works on *counts of unique pieces* and updates
pair counts incrementally, the way Hugging Face ``tokenizers`` and SentencePiece do:

1. **Pre-tokenize, streamed.** Split each text (or each line of each file) with the regex
   and count the pieces: ``Counter({" the": 9000, " and": 7000, ...})``. Only the counter is
   kept, so the corpus may be larger than memory; special-token text is cut out first.
2. **Words.** Each unique piece becomes a list of byte ids with its count. Byte ids follow
   GPT-2 byte order (``byte_level.BYTE_ORDER``: printable bytes first), as in GPT-2's
   vocabulary and Hugging Face's byte-level alphabet.
3. **Count pairs once**, weighted by word count, and index which words hold each pair.
4. **Merge**, until the vocabulary is full or no pair occurs ``min_frequency`` times:
   take the most frequent pair (a heap; entries whose count has changed since they were
   pushed are re-pushed when they surface), give it the next id, and rewrite only the words
   that hold it, adjusting the counts of the neighbouring pairs (``x a b y``: ``(x, a)`` and
   ``(b, y)`` lose, ``(x, ab)`` and ``(ab, y)`` gain).

Tie-break, deterministic: among pairs of equal count, the smaller ``(left id, right id)``
wins; this is Hugging Face's ``BpeTrainer`` rule, and with the same byte order it makes the
same merges (``tests/test_tok_bpe_train.py``). Special tokens get the ids after the merges.

>>> tok = train_bpe(["low lower lowest"] * 10, vocab_size=260)   # doctest: +SKIP
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import regex

from llmlab.errors import LLMLabError
from llmlab.tokenizers.bpe_regex import GPT2_PATTERN, RegexBPE
from llmlab.tokenizers.byte_level import BYTE_ORDER

Pair = tuple[int, int]
_TO_ID = bytes.maketrans(bytes(BYTE_ORDER), bytes(range(256)))  # byte value -> its id (GPT-2 byte order)


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    *,
    pattern: str = GPT2_PATTERN,
    special_tokens: Sequence[str] = (),
    min_frequency: int = 2,
    show_progress: bool | None = None,
    name: str = "bpe",
) -> RegexBPE:
    """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``texts`` (any iterable).

    Pieces never cross from one string of ``texts`` to the next. ``min_frequency``: a pair
    seen fewer times is not merged (training may stop short of ``vocab_size``).
    ``show_progress``: a progress bar on stderr; by default only when stderr is a terminal.
    """
    if vocab_size < 256 + len(special_tokens):
        raise LLMLabError(
            f"vocab_size {vocab_size} is smaller than 256 bytes + {len(special_tokens)} special tokens"
        )
    counts = count_pieces(texts, pattern, special_tokens)  # 1.
    state = PairCounts(counts)  # 2. and 3.
    n_merges = vocab_size - 256 - len(special_tokens)
    with _Progress(show_progress, n_merges) as advance:
        while len(state.tokens) < 256 + n_merges:  # 4.
            best = state.best()
            if best is None or best[0] < max(min_frequency, 1):
                break
            state.merge(best[1])
            advance()
    ranks = {token: i for i, token in enumerate(state.tokens)}
    specials = {t: len(state.tokens) + i for i, t in enumerate(special_tokens)}
    merges = [(state.tokens[a], state.tokens[b]) for a, b in state.merges]
    return RegexBPE(ranks, pattern, specials, name=name, merges=merges)


def train_bpe_from_files(paths: Sequence[str | Path], vocab_size: int, **options: object) -> RegexBPE:
    """:func:`train_bpe` on the lines of text files, read lazily (as Hugging Face reads files)."""
    return train_bpe(_lines(paths), vocab_size, **options)  # type: ignore[arg-type]


def count_pieces(
    texts: Iterable[str], pattern: str = GPT2_PATTERN, special_tokens: Sequence[str] = ()
) -> Counter[str]:
    """How often each piece of the split occurs; special-token text is removed first."""
    split = regex.compile(pattern)
    cut = regex.compile("|".join(regex.escape(t) for t in sorted(special_tokens, key=len, reverse=True)))
    counts: Counter[str] = Counter()
    for text in texts:
        for segment in cut.split(text) if special_tokens else (text,):
            counts.update(split.findall(segment))
    return counts


class PairCounts:
    """The trainer's state: words as id lists, pair counts, pair -> words index, and a heap.

    :meth:`best` peeks at the pair to merge next, :meth:`merge` merges any pair; tests use
    them to replay another trainer's merges and check that each was a most frequent pair.
    """

    def __init__(self, piece_counts: Mapping[str, int]):
        self.tokens = [bytes([b]) for b in BYTE_ORDER]  # id -> bytes
        self.ids = {t: i for i, t in enumerate(self.tokens)}  # bytes -> id
        self.merges: list[Pair] = []
        self.words = [list(piece.encode("utf-8").translate(_TO_ID)) for piece in piece_counts]
        self.freqs = list(piece_counts.values())
        self.pair_counts: defaultdict[Pair, int] = defaultdict(int)
        self.where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> words that (may) hold it
        for i, (word, freq) in enumerate(zip(self.words, self.freqs, strict=True)):
            for pair in zip(word, word[1:], strict=False):
                self.pair_counts[pair] += freq
                self.where[pair].add(i)
        self.heap = [(-count, pair) for pair, count in self.pair_counts.items()]
        heapq.heapify(self.heap)  # smallest first: highest count, then smallest pair

    def count(self, pair: Pair) -> int:
        return self.pair_counts.get(pair, 0)

    def best(self) -> tuple[int, Pair] | None:
        """``(count, pair)`` of the most frequent pair (smallest pair on ties), or None."""
        heap = self.heap
        while heap:
            neg, pair = heap[0]
            count = self.pair_counts.get(pair, 0)
            if -neg == count:
                return count, pair
            if count > 0:  # a stale entry: its pair's count changed since it was pushed
                heapq.heapreplace(heap, (-count, pair))
            else:
                heapq.heappop(heap)
        return None

    def merge(self, pair: Pair) -> int:
        """Merge ``pair`` in every word that holds it; returns the id of the merged token."""
        a, b = pair
        merged = self.tokens[a] + self.tokens[b]
        new = self.ids.get(merged)
        if new is None:  # subtle: two pairs can spell the same bytes; the token keeps one id
            new = self.ids[merged] = len(self.tokens)
            self.tokens.append(merged)
        self.merges.append(pair)
        counts, where, words, freqs = self.pair_counts, self.where, self.words, self.freqs
        gained: set[Pair] = set()
        for i in self.where.pop(pair, ()):
            word, freq = words[i], freqs[i]
            out: list[int] = []
            j, n = 0, len(word)
            while j < n:
                if word[j] == a and j + 1 < n and word[j + 1] == b:
                    if out:  # x a b -> x ab
                        x = out[-1]
                        counts[(x, a)] -= freq
                        counts[(x, new)] += freq
                        where[(x, new)].add(i)
                        gained.add((x, new))
                    if j + 2 < n:  # a b y -> ab y
                        y = word[j + 2]
                        counts[(b, y)] -= freq
                        counts[(new, y)] += freq
                        where[(new, y)].add(i)
                        gained.add((new, y))
                    out.append(new)
                    j += 2
                else:
                    out.append(word[j])
                    j += 1
            words[i] = out
        counts.pop(pair, None)
        for p in gained:
            if counts[p] > 0:
                heapq.heappush(self.heap, (-counts[p], p))
        return new


def _lines(paths: Sequence[str | Path]) -> Iterator[str]:
    for path in paths:
        with open(path, encoding="utf-8", newline="") as f:
            yield from f


class _Progress:
    """A rich progress bar on stderr, shown when asked or when stderr is a terminal."""

    def __init__(self, show: bool | None, total: int):
        from llmlab.cli.console import err_console

        self.show = err_console.is_terminal if show is None else show
        self.total, self.console, self.done = total, err_console, 0

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.show:
            return lambda: None
        from rich.progress import Progress

        self.bar = Progress(console=self.console, transient=True)
        self.bar.start()
        self.task = self.bar.add_task("training BPE: merges", total=self.total)

        def advance() -> None:
            self.done += 1
            if self.done % 50 == 0 or self.done == self.total:
                self.bar.update(self.task, completed=self.done)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.stop()
