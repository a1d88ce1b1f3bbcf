"""The first step of Unigram training: words, an alphabet, and a large seed vocabulary.

Training does not grow a vocabulary like BPE; it starts from far too many candidate pieces
and prunes. This file makes the candidates, following sentencepiece's trainer
(``trainer_interface.cc`` and ``unigram_model_trainer.cc``):

1. **words.** Each normalised sentence ("▁the▁cat▁sat") is cut before every "▁" into words
   ("▁the", "▁cat", "▁sat"), counted in a dictionary while the corpus streams by, so memory
   grows with the number of *distinct* words, not with the corpus.
2. **alphabet.** Characters are sorted by frequency and kept until they cover
   ``character_coverage`` of all characters (1.0 keeps all); the rest become "▅" (U+2585),
   which the model will treat as unknown.
3. **seed pieces.** Every substring of a word, up to ``max_sentencepiece_length`` characters,
   that may be a piece: "▁" only at its start, one script (Han, Hiragana and Katakana count
   as one), no digit next to other characters when ``split_digits``. Its frequency is the
   sum over words of (occurrences in the word x word count). Sentencepiece finds the
   frequent substrings of whole sentences with a suffix array; counting inside words gives
   the same frequencies (a valid piece never crosses a "▁") and reads more simply. As in a
   suffix array, only substrings seen twice or more that are not always followed by the same
   character are kept. The ``seed_sentencepiece_size`` best by ``frequency x length`` join
   the alphabet, with log probabilities ``log(frequency x length / total)``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from array import array
from collections import Counter
from dataclasses import dataclass

import numpy as np
import regex

from llmlab.tokenizers.formats.sentencepiece_model import TrainerSpec
from llmlab.tokenizers.spm_normalizer import SPACE_SYMBOL
from llmlab.tokenizers.unigram import f32

UNK_CHAR = "\u2585"  # ▅: stands for characters outside the alphabet during training
BOUNDARY = "\t"  # meta pieces (<s>, user-defined) found in the corpus are cut out with this
_ANY = ""  # the "script" of characters that join any script
_SCRIPT = regex.compile(
    r"(?P<Han>[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\u30fc])|(?P<Common>\p{sc=Common})"
    r"|(?P<Inherited>\p{sc=Inherited})|(?P<Latin>\p{sc=Latin})|(?P<Greek>\p{sc=Greek})"
    r"|(?P<Cyrillic>\p{sc=Cyrillic})|(?P<Arabic>\p{sc=Arabic})|(?P<Hangul>\p{sc=Hangul})"
)
_script_cache: dict[str, str] = {}
_WORD = re.compile(f"{SPACE_SYMBOL}[^{SPACE_SYMBOL}]*|[^{SPACE_SYMBOL}]+")


def script(char: str) -> str:
    """The Unicode script of ``char`` as sentencepiece groups them (Han, Hiragana, Katakana
    and "ー" are one script). Scripts outside the list above are named by the first word of
    the character's Unicode name ("THAI", "DEVANAGARI"): close enough to split pieces."""
    found = _script_cache.get(char)
    if found is None:
        m = _SCRIPT.match(char)
        found = m.lastgroup if m else unicodedata.name(char, "UNKNOWN").split()[0]
        _script_cache[char] = found  # type: ignore[assignment]
    return found  # type: ignore[return-value]


def split_words(normalized: str) -> list[str]:
    """Cut before every "▁": "▁a▁▁b" -> ["▁a", "▁", "▁b"] (sentencepiece's ``SplitIntoWords``)."""
    return _WORD.findall(normalized)


def required_characters(words: Counter[str], spec: TrainerSpec) -> dict[str, int]:
    """Step 2: the alphabet as ``{char: count}``, most frequent first."""
    counts: Counter[str] = Counter()
    for word, freq in words.items():
        for char in word:
            counts[char] += freq
    total = sum(counts.values())
    required = set(spec.required_chars)
    alphabet: dict[str, int] = {}
    covered = 0
    coverage_goal = f32(spec.character_coverage)
    ranked = sorted(counts.keys() | required, key=lambda c: (c not in required, -counts[c], c))
    for char in ranked:
        if total and f32(covered / total) >= coverage_goal:  # subtle: compared as float32, like spm
            break
        covered += counts[char]
        if char not in (BOUNDARY, UNK_CHAR):
            alphabet[char] = counts[char]
    return alphabet


def mask_rare(words: Counter[str], alphabet: dict[str, int]) -> Counter[str]:
    """Replace characters outside the alphabet by "▅" (words that become equal are merged)."""
    out: Counter[str] = Counter()
    for word, freq in words.items():
        if all(c in alphabet for c in word):
            out[word] += freq
        else:
            out["".join(c if c in alphabet else UNK_CHAR for c in word)] += freq
    return out


def piece_ends(word: str, spec: TrainerSpec) -> list[int]:
    """For each start ``i``, the largest ``e`` such that ``word[i:e]`` may be a piece (``i``
    itself when not even one character may). Being a valid piece is lost for good once lost
    (a second script, a "▁" inside, an unknown character), so ``word[i:j]`` is valid for every
    ``i < j <= ends[i]``."""
    n, longest = len(word), spec.max_sentencepiece_length
    kinds = [_KINDS.get(c) or _kind(c) for c in word]
    if all(k == kinds[-1] or (i == 0 and k == SPACE_SYMBOL) for i, k in enumerate(kinds)) and kinds[-1] not in (
        "bad", "digit", "Inherited", SPACE_SYMBOL
    ):  # fmt: skip
        return [min(n, i + longest) for i in range(n)]  # one script throughout: the common case
    ends = []
    for start in range(n):
        prev, end = _ANY, start
        for pos in range(start, min(n, start + longest)):
            kind = kinds[pos]
            if kind == "bad" or (kind == SPACE_SYMBOL and pos > start):  # "▁" only as the first character
                break
            if kind == "digit":
                if spec.split_digits and pos > start:
                    break  # with split_digits a digit is a piece of its own
                kind = _ANY if not spec.split_by_number else "Common"
            if kind != SPACE_SYMBOL:
                if kind == "Inherited":  # combining marks take the script before them
                    kind = prev
                if spec.split_by_unicode_script and kind != _ANY and prev != _ANY and kind != prev:
                    break
                prev = kind
            if spec.split_digits and pos > start and kinds[start] == "digit":
                break
            end = pos + 1
        ends.append(end)
    return ends


def _kind(char: str) -> str:
    """What :func:`piece_ends` needs to know about a character: its script, or one of
    "bad" (never in a piece), "digit", "▁" (remembered in ``_KINDS``)."""
    if char in (UNK_CHAR, BOUNDARY, " ", "\0"):
        kind = "bad"
    elif char == SPACE_SYMBOL:
        kind = SPACE_SYMBOL
    elif "0" <= char <= "9" or "\uff10" <= char <= "\uff19":  # ASCII and full-width digits
        kind = "digit"
    else:
        kind = script(char)
    _KINDS[char] = kind
    return kind


_KINDS: dict[str, str] = {}


@dataclass
class Substrings:
    """Every substring of every distinct word that may be a piece, found in one pass: the
    seed counts and, later, the edges of every word's lattice both come from here.

    ``ids`` maps a substring to its number. Per occurrence ``k``: the word ``word[k]``, the
    span ``start[k]:end[k]`` in it and the substring number ``piece[k]``; per substring
    number, ``parent`` is the number of the substring one character shorter (-1 for one
    character).
    """

    ids: dict[str, int]
    parent: np.ndarray
    word: np.ndarray
    start: np.ndarray
    end: np.ndarray
    piece: np.ndarray


def find_substrings(words: list[str], spec: TrainerSpec) -> Substrings:
    """Step 3a: walk every word once (the only loop over substrings in Python)."""
    ids: dict[str, int] = {}
    parent, found = array("q"), array("q")  # per substring; per occurrence
    group_word, group_start, group_size = array("q"), array("q"), array("q")  # per (word, start)
    lookup, add = ids.get, found.append  # (bound once: this loop runs millions of times)
    for k, word in enumerate(words):
        for start, end in enumerate(piece_ends(word, spec)):
            prev = -1
            for stop in range(start + 1, end + 1):
                sub = word[start:stop]
                sid = lookup(sub)
                if sid is None:
                    sid = ids[sub] = len(parent)
                    parent.append(prev)
                add(sid)
                prev = sid
            if end > start:
                group_word.append(k), group_start.append(start), group_size.append(end - start)
    sizes = np.frombuffer(group_size, dtype=np.int64)
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)  # each occurrence's offset inside its group
    start_ = np.repeat(np.frombuffer(group_start, dtype=np.int64), sizes)
    end_ = start_ + 1 + np.arange(len(first)) - first
    word_ = np.repeat(np.frombuffer(group_word, dtype=np.int64), sizes)
    return Substrings(
        ids, np.frombuffer(parent, dtype=np.int64), word_, start_, end_, np.frombuffer(found, dtype=np.int64)
    )


def seed_pieces(
    table: Substrings, weight: np.ndarray, alphabet: dict[str, int], spec: TrainerSpec
) -> tuple[list[tuple[str, float]], np.ndarray]:
    """Step 3b: ``[(piece, log probability)]``, the alphabet first, then the best substrings;
    and for each substring number its seed index (-1 if it is not a seed)."""
    n = len(table.parent)
    counts = np.bincount(table.piece, weights=weight[table.word], minlength=n)
    length = np.zeros(n, dtype=np.int64)
    length[table.piece] = table.end - table.start
    # like a suffix array's internal nodes: seen twice or more, and not always followed by one character
    longest_child = np.zeros(n)
    has_parent = table.parent >= 0
    np.maximum.at(longest_child, table.parent[has_parent], counts[has_parent])
    candidate = np.flatnonzero((length >= 2) & (counts >= 2) & (counts > longest_child))
    score = counts[candidate] * length[candidate]
    best = candidate[np.lexsort((candidate, -score))][: spec.seed_sentencepiece_size]
    names = list(table.ids)  # subtle: a dict keeps insertion order, so names[sid] is substring sid
    chars = sorted(alphabet.items(), key=lambda x: (-x[1], x[0]))
    seeds = chars + [(names[sid], float(counts[sid] * length[sid])) for sid in best.tolist()]
    seed_of = np.full(n, -1)
    for i, (char, _) in enumerate(chars):
        if char in table.ids:  # (a required character may not occur at all)
            seed_of[table.ids[char]] = i
    seed_of[best] = np.arange(len(chars), len(seeds))
    log_total = math.log(sum(v for _, v in seeds))
    return [(p, math.log(v) - log_total) for p, v in seeds], seed_of
