"""Training a WordPiece vocabulary: BPE merges over words whose inner characters carry "##".

:mod:`wordpiece` only reads a vocabulary; this file learns one from text, the way HF's
``WordPieceTrainer`` does (it is a BPE trainer with a continuing-subword prefix):

1. count words: normalise and pre-tokenize the corpus as the tokenizer will, keeping only a
   count per distinct word (the corpus itself is never held in memory);
2. vocabulary = special tokens, then the alphabet (the ``limit_alphabet`` most frequent
   characters, in code-point order);
3. spell each word as symbols: its first character plain, every later one with ``##``
   ("the" -> ``t ##h ##e``); each new ``##x`` symbol joins the vocabulary when first met;
4. count adjacent symbol pairs, weighted by word count;
5. merge the most frequent pair everywhere it occurs (``t`` + ``##h`` -> ``th``,
   ``##h`` + ``##e`` -> ``##he``), add the result to the vocabulary, update the pair counts
   around each merge, and repeat until the vocabulary is full or no pair reaches
   ``min_frequency``. Ties go to the pair with the smaller ids.

The result is only the vocabulary (WordPiece forgets the merges): a trained tokenizer
segments with greedy longest-match, not by replaying merges.

# subtle: HF gives ``##x`` symbols their ids while walking a Rust ``HashMap``, whose order is
random per process, and ties between equal counts follow those ids; so HF itself learns slightly
different vocabularies from run to run. Here words are walked in first-seen order, which makes
training deterministic; the parity test replays HF's own ``##x`` order and gets HF's vocabulary.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from llmlab.cli.console import err_console
from llmlab.errors import LLMLabError
from llmlab.tokenizers.bert_normalizer import BertNormalizer
from llmlab.tokenizers.bert_pretokenizer import split_words
from llmlab.tokenizers.wordpiece import SPECIAL_TOKENS, WordPieceTokenizer

Pair = tuple[int, int]


def train_wordpiece(
    texts: Iterable[str] = (),
    *,
    files: Sequence[str | Path] = (),
    vocab_size: int = 30_000,
    min_frequency: int = 2,
    limit_alphabet: int | None = 1000,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
    continuing_subword_prefix: str = "##",
    normalizer: BertNormalizer | None = None,
    show_progress: bool | None = None,
) -> WordPieceTokenizer:
    """A WordPiece tokenizer trained on ``texts`` and/or the lines of ``files`` (UTF-8).

    The defaults are those of ``tokenizers.BertWordPieceTokenizer.train``. ``show_progress=None``
    draws a progress bar only when stderr is a terminal.
    """
    if "[UNK]" not in special_tokens:
        raise LLMLabError("special_tokens must include [UNK], the token for words WordPiece cannot cover")
    for path in files:
        if not Path(path).is_file():
            raise LLMLabError(f"{path}: no such file to train on")
    normalizer = normalizer or BertNormalizer()
    show = err_console.is_terminal if show_progress is None else show_progress
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not show) as progress:
        counting = progress.add_task("counting words (bytes)", total=_total_size(files, texts))
        counts = count_words(
            _advancing(itertools.chain(texts, _file_lines(files)), progress, counting), normalizer
        )
        merging = progress.add_task("merging pairs", total=vocab_size)
        tokens = learn_vocab(
            counts,
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            limit_alphabet=limit_alphabet,
            special_tokens=special_tokens,
            continuing_subword_prefix=continuing_subword_prefix,
            on_new_token=lambda n: progress.update(merging, completed=n),
        )
    return WordPieceTokenizer(
        tokens,
        normalizer=normalizer,
        continuing_subword_prefix=continuing_subword_prefix,
        special_tokens=special_tokens,
    )


def _file_lines(files: Sequence[str | Path]) -> Iterator[str]:
    """The lines of each file in turn, one line in memory at a time."""
    for path in files:
        with open(path, encoding="utf-8") as f:
            try:
                yield from f
            except UnicodeDecodeError as e:
                raise LLMLabError(
                    f"{path}: not UTF-8 text ({e.reason} at byte {e.start} of a read block)"
                ) from None


def _total_size(files: Sequence[str | Path], texts: Iterable[str]) -> int | None:
    """Bytes to read, when known up front (files only, or files plus a list of texts)."""
    if not isinstance(texts, (list, tuple)):
        return None
    return sum(Path(f).stat().st_size for f in files) + sum(len(t.encode("utf-8")) for t in texts) or None


def _advancing(lines: Iterable[str], progress: Progress, task: TaskID) -> Iterator[str]:
    for line in lines:
        yield line
        progress.advance(task, len(line.encode("utf-8")))


def count_words(texts: Iterable[str], normalizer: BertNormalizer | None = None) -> Counter[str]:
    """Step 1: how often each word occurs, as the tokenizer will see words, in first-seen order."""
    normalizer = normalizer or BertNormalizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(split_words(normalizer.normalize(text)))
    return counts


def learn_vocab(
    word_counts: Mapping[str, int],
    *,
    vocab_size: int,
    min_frequency: int = 2,
    limit_alphabet: int | None = 1000,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
    continuing_subword_prefix: str = "##",
    on_new_token: Callable[[int], None] | None = None,
) -> list[str]:
    """Steps 2-5 on counted words: the vocabulary, in id order. ``##x`` symbols get their ids in
    the order their characters are first met walking ``word_counts``; ``on_new_token(n)`` (if
    given) is called with the vocabulary size after each merge."""
    prefix = continuing_subword_prefix
    tokens: list[str] = []
    ids: dict[str, int] = {}

    def add(token: str) -> int:
        if token not in ids:
            ids[token] = len(tokens)
            tokens.append(token)
        return ids[token]

    # 2. Special tokens, then the alphabet: the most frequent characters, in code-point order.
    for token in special_tokens:
        add(token)
    char_counts: Counter[str] = Counter()
    for word, count in word_counts.items():
        for ch in word:
            char_counts[ch] += count
    by_frequency = sorted(char_counts, key=lambda ch: (-char_counts[ch], ch))  # ties: lower code point
    for ch in sorted(by_frequency[:limit_alphabet]):
        add(ch)

    # 3. Words as symbol ids; characters left out of the alphabet are dropped from the word.
    words: list[list[int]] = []
    counts: list[int] = []
    for word, count in word_counts.items():
        words.append([add(ch if i == 0 else prefix + ch) for i, ch in enumerate(word) if ch in ids])
        counts.append(count)

    # 4. Pair counts, and for each pair the words it occurs in.
    pair_counts: defaultdict[Pair, int] = defaultdict(int)
    where: defaultdict[Pair, set[int]] = defaultdict(set)
    for w, symbols in enumerate(words):
        for pair in itertools.pairwise(symbols):
            pair_counts[pair] += counts[w]
            where[pair].add(w)
    # A max-heap by count, then min by pair ids; each entry carries the words to visit.
    # subtle: as in HF, a pair can sit in the queue more than once, each entry with its own
    # words, and one pop merges only that entry's words.
    order = itertools.count()
    queue = [(-pair_counts[p], p, next(order), ws) for p, ws in where.items() if pair_counts[p] > 0]
    heapq.heapify(queue)

    # 5. Merge until the vocabulary is full.
    while len(tokens) < vocab_size and queue:
        neg_count, pair, _, where_pair = heapq.heappop(queue)
        count = pair_counts[pair]
        if -neg_count != count:  # stale entry: the count changed since it was queued
            heapq.heappush(queue, (-count, pair, next(order), where_pair))
            continue
        if count < 1 or count < min_frequency:
            break
        left, right = tokens[pair[0]], tokens[pair[1]]
        new_id = add(left + right.removeprefix(prefix))  # "##h" + "##e" -> "##he"
        new_where: defaultdict[Pair, set[int]] = defaultdict(set)
        for w in sorted(where_pair):
            for changed, delta in _merge(words[w], pair, new_id):
                pair_counts[changed] += delta * counts[w]
                if delta > 0:
                    new_where[changed].add(w)
        for p, ws in new_where.items():
            if pair_counts[p] > 0:
                heapq.heappush(queue, (-pair_counts[p], p, next(order), ws))
        if on_new_token is not None:
            on_new_token(len(tokens))
    return tokens


def _merge(symbols: list[int], pair: Pair, new_id: int) -> list[tuple[Pair, int]]:
    """Replace each ``pair`` in ``symbols`` (left to right, not overlapping) by ``new_id``, in
    place, and return the pair-count changes around each merge: ``(pair, -1)`` for the pairs the
    merge breaks, ``(pair, +1)`` for those it makes. Like HF, the merged pair itself is not
    counted down."""
    first, second = pair
    changes: list[tuple[Pair, int]] = []
    i = 0
    while i < len(symbols) - 1:
        if symbols[i] == first and symbols[i + 1] == second:
            if i > 0:
                changes += [((symbols[i - 1], first), -1), ((symbols[i - 1], new_id), 1)]
            symbols[i : i + 2] = [new_id]
            if i < len(symbols) - 1:
                changes += [((second, symbols[i + 1]), -1), ((new_id, symbols[i + 1]), 1)]
        i += 1
    return changes
