"""The fast path's functions in plain Python: short, slow, and the definition the C code must match.

``fast.py`` runs pre-tokenizing, piece counting, rank-based encoding and BPE training in C
(``_fastbpe.c``). Each function here computes the same result in a few readable lines with the
``regex`` module, and the tests (``tests/test_tok_fast*.py``) compare the two on thousands of
inputs. Read these first to know *what* the C code computes; read the C to see *how* it is fast.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from itertools import pairwise

import regex

from llmlab.tokenizers.bpe_regex import CL100K_PATTERN, GPT2_PATTERN

# GPT-2's pre-tokenizer (openai/gpt-2 encoder.py). tiktoken's r50k pattern is an equivalent,
# faster spelling; the tests check both give the same pieces.
# The two patterns the C scanners implement, shared with the readable tokenizer.
PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k": CL100K_PATTERN}
_COMPILED = {name: regex.compile(pattern) for name, pattern in PATTERNS.items()}


def split(text: str, pattern: str) -> list[str]:
    """The pre-tokenizer's pieces: ``regex.findall`` with the named pattern."""
    return _COMPILED[pattern].findall(text)


def count_pieces(text: str, pattern: str, counts: dict[bytes, int] | None = None) -> dict[bytes, int]:
    """How often each piece occurs, keyed by its UTF-8 bytes; adds to ``counts`` if given."""
    counts = {} if counts is None else counts
    for piece, n in Counter(split(text, pattern)).items():
        key = piece.encode("utf-8")
        counts[key] = counts.get(key, 0) + n
    return counts


# Where text can be cut without changing its pieces: pieces(a + b) == pieces(a) + pieces(b).
# 1. After a newline with non-whitespace on both sides ("end.\n|Next"): no alternative of either
#    pattern runs from a non-space across a newline into a non-space, and the piece holding the
#    newline ("\n", or ".\n" in cl100k) ends at the cut whether or not the text goes on.
# 2. Before a space that follows a letter ("word| next"): every alternative that can take the
#    letter stops there, whether a space or the end of the text comes next. (CRLF files need this
#    one: "\r\n" has whitespace before its "\n".)
_NEWLINE_CUT = regex.compile(r"(?r)(?<=\S)\n(?=\S)")
_SPACE_CUT = regex.compile(r"(?r)(?<=\p{L}) ")


def safe_cut(text: str) -> int:
    """The last index where ``text`` can be cut without changing its pieces (0 if there is none)."""
    m = _NEWLINE_CUT.search(text)
    if m:
        return m.end()
    m = _SPACE_CUT.search(text)
    return m.start() if m else 0


def encode_piece(ranks: Mapping[bytes, int], piece: bytes) -> list[int]:
    """Token ids of one piece by rank-based byte-pair merging (tiktoken's ``_byte_pair_merge``).

    1. A piece that is itself a token is that token.
    2. Otherwise start from single bytes and repeatedly merge the adjacent pair whose
       concatenation has the lowest rank (the leftmost on a tie), until no pair is a token.
    """
    if piece in ranks:
        return [ranks[piece]]
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        candidates = [(ranks[a + b], i) for i, (a, b) in enumerate(pairwise(parts)) if a + b in ranks]
        if not candidates:
            break
        _, i = min(candidates)
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return [ranks[part] for part in parts]


def encode(ranks: Mapping[bytes, int], text: str, pattern: str) -> list[int]:
    """Pre-tokenize, then encode every piece (tiktoken's ``encode_ordinary``)."""
    return [i for piece in split(text, pattern) for i in encode_piece(ranks, piece.encode("utf-8"))]


def merge_order_key(pair: tuple[int, int], count: int) -> tuple:
    """Which pair BPE merges next: the smallest key wins. The C trainer's ``merge_before`` is the
    same rule: the higher count, then the smaller left symbol id, then the smaller right id
    (Hugging Face's ``BpeTrainer`` rule, and ``train_bpe.py``'s)."""
    left, right = pair
    return (-count, left, right)


def train_merges(
    word_counts: Mapping[bytes, int], num_merges: int, min_frequency: int = 0, byte_order: bytes | None = None
) -> list[tuple[int, int]]:
    """Byte-level BPE training until ``num_merges`` new tokens exist.

    ``byte_order[i]`` is the byte whose symbol id is ``i`` (default: the byte value itself);
    ``train_bpe.py`` numbers bytes in GPT-2 byte order, and ties are broken on ids. Each merge
    makes the next symbol id, unless its bytes already are a token (``"a"+"aa"`` after
    ``"aa"+"a"``): then it reuses that token's id, as ``train_bpe.py`` and Hugging Face do.

    1. Every word is a list of byte symbols; count every adjacent pair, weighted by word count,
       and remember which words contain each pair.
    2. Pick the pair with the smallest ``merge_order_key``; stop when it occurs fewer than
       ``max(min_frequency, 1)`` times.
    3. In each word that contains it, take the word's pairs out of the counts, merge the pair
       (left to right, non-overlapping), and put the word's new pairs back.
    """
    order = bytes(range(256)) if byte_order is None else byte_order
    to_id = bytes.maketrans(order, bytes(range(256)))
    words = [list(w.translate(to_id)) for w, c in word_counts.items() if len(w) >= 2 and c > 0]
    counts = [c for w, c in word_counts.items() if len(w) >= 2 and c > 0]
    tokens = [bytes([b]) for b in order]
    ids = {t: i for i, t in enumerate(tokens)}
    stats: Counter[tuple[int, int]] = Counter()
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for i, word in enumerate(words):  # 1.
        for pair in pairwise(word):
            stats[pair] += counts[i]
            where[pair].add(i)
    merges: list[tuple[int, int]] = []
    while len(tokens) < 256 + num_merges:
        if not stats:
            break
        top = max(stats.values())  # 2.
        if top < max(min_frequency, 1):
            break
        best = min((p for p, c in stats.items() if c == top), key=lambda p: merge_order_key(p, top))
        merged = tokens[best[0]] + tokens[best[1]]
        new = ids.get(merged)
        if new is None:
            new = ids[merged] = len(tokens)
            tokens.append(merged)
        merges.append(best)
        for i in sorted(where.pop(best)):  # 3.
            old = words[i]
            for pair in pairwise(old):
                stats[pair] -= counts[i]
            words[i] = merged = _merge(old, best, new)
            for pair in pairwise(merged):
                stats[pair] += counts[i]
                where[pair].add(i)
            for pair in set(pairwise(old)):
                if stats[pair] == 0:
                    del stats[pair]  # subtle: keep only live pairs, so `max` never sees a zero
    return merges


def _merge(word: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """``word`` with every non-overlapping occurrence of ``pair`` (left to right) replaced by ``new``."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out
