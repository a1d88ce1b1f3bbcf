"""Byte-level BPE with regex pre-tokenization: the tokenizer of GPT-2, GPT-4 (cl100k) and GPT-4o (o200k).

Unlike the basic BPE (``bpe_basic.py``), the text is first cut into *pieces* by a regular
expression (words with their leading space, runs of digits, punctuation, whitespace), and
merges happen only inside a piece, so no token spans " the" and the next word. Three more
things make it production-grade:

* **Ranks instead of a merge list.** ``ranks`` maps each token's bytes to its id, and the id is
  also its merge priority (tiktoken's format). Encoding a piece: start from its single bytes;
  repeatedly merge the neighbouring pair whose *concatenation* has the lowest rank (leftmost
  on ties); stop when no concatenation is a token. A piece that is itself a token is looked up
  directly (this shortcut changes nothing when every token can be built by merges, which holds
  for all vocabularies in :mod:`llmlab.tokenizers.pretrained`).
* **A cache per piece.** Text repeats its words, so each distinct piece is merged once.
* **Special tokens** (``<|endoftext|>``) are matched before the regex, under the caller's
  policy (see :mod:`llmlab.tokenizers.base`).

>>> from llmlab.tokenizers.pretrained import load_pretrained
>>> tok = load_pretrained("gpt2")                       # doctest: +SKIP
>>> tok.encode("Hello world")                           # pieces "Hello", " world"
[15496, 995]

References: Radford et al. 2019 (GPT-2, ``encoder.py``); tiktoken's ``_educational.py``;
Karpathy's minbpe ``regex.py``.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import accumulate

import regex

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer
from llmlab.tokenizers.byte_level import fix_surrogates, str_to_token, token_to_str
from llmlab.tokenizers.chars import straddles_special

# GPT-2's split: contractions, words with one optional leading space, numbers, punctuation
# runs, and whitespace (a whitespace run leaves its last space to the next word).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# cl100k (GPT-3.5/4): case-insensitive contractions, numbers of at most 3 digits, newlines kept
# together, punctuation may carry following newlines. Possessive quantifiers as in tiktoken.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

# o200k (GPT-4o): like cl100k, but words split at case changes ("camelCase" -> "camel", "Case")
# and keep their contraction ("they're" is one piece).
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# SmolLM2 (Hugging Face: pre-tokenizers Digits(individual_digits) then ByteLevel's GPT-2
# regex; llama.cpp: pre-tokenizer "smollm"). Both stages as one regex: every digit is its own
# piece, and because a digit ends the first stage's chunk, whitespace before a digit ends
# there too, hence the lookahead (?![^\s\p{N}]) ("not followed by a non-space non-digit").
SMOLLM2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+"""

# Where encode_iterable may cut text for these patterns (see ``safe_split``): before a space
# between two letters, or after a newline between two non-spaces (not before "/": o200k's
# punctuation runs swallow "\n/").
_SAFE_CUT = regex.compile(r"(?<=\p{L})(?= \p{L})|(?<=\S\n)(?=[^\s/])", flags=regex.REVERSE)
_SAFE_CUT_PATTERNS = {GPT2_PATTERN, CL100K_PATTERN, O200K_PATTERN, SMOLLM2_PATTERN}

_NO_RANK = sys.maxsize  # "this pair is not a token"
_CACHE_SIZE = 100_000  # pieces remembered before the cache starts over


class RegexBPE(Tokenizer):
    """Byte-level BPE: ``ranks`` (token bytes -> id), a split ``pattern`` and special tokens.

    ``unk_id``: the id for a byte that has no token (some vocabularies, e.g. SmolLM2's, lack
    bytes that never occur in UTF-8 text); ``None`` drops such bytes, as Hugging Face does.
    ``merges``: the merge list, when it is known (a trainer's output); else recovered from the
    ranks on demand (:func:`recover_merges`).
    """

    def __init__(
        self,
        ranks: Mapping[bytes, int],
        pattern: str,
        special_tokens: Mapping[str, int] | None = None,
        *,
        name: str = "bpe",
        unk_id: int | None = None,
        merges: Sequence[tuple[bytes, bytes]] | None = None,
    ):
        self.ranks = dict(ranks)
        self.pattern = pattern
        self.special_tokens = dict(special_tokens or {})
        self.name = name
        self.unk_id = unk_id
        self._merges = list(merges) if merges is not None else None
        self._regex = regex.compile(pattern)
        self._decoder = {i: b for b, i in self.ranks.items()}  # id -> bytes
        self._decoder.update({i: t.encode() for t, i in self.special_tokens.items()})
        if len(self._decoder) != len(self.ranks) + len(self.special_tokens):
            raise ValueError("two tokens share an id")
        self._cache: dict[str, list[int]] = {}

    # -- encoding -------------------------------------------------------------------------
    def encode_ordinary(self, text: str) -> list[int]:
        try:
            return self._encode_pieces(self._regex.findall(text))
        except UnicodeEncodeError:  # lone surrogates: replaced by U+FFFD, as tiktoken does
            return self._encode_pieces(self._regex.findall(fix_surrogates(text)))

    def _encode_pieces(self, pieces: list[str]) -> list[int]:
        ids: list[int] = []
        cache = self._cache
        for piece in pieces:
            piece_ids = cache.get(piece)
            if piece_ids is None:
                piece_ids = self._bpe(piece.encode("utf-8"))
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[piece] = piece_ids
            ids += piece_ids
        return ids

    def _bpe(self, piece: bytes) -> list[int]:
        """Ids of one piece: the piece itself if it is a token, else the merges by rank."""
        rank = self.ranks.get(piece)
        if rank is not None:
            return [rank]
        parts = bpe_parts(self.ranks, piece)
        try:
            return [self.ranks[p] for p in parts]
        except KeyError:  # a byte without a token
            unk = [] if self.unk_id is None else [self.unk_id]
            return [i for p in parts for i in ([self.ranks[p]] if p in self.ranks else unk)]

    def encode_bytes(self, data: bytes) -> list[int]:
        """Ids of raw bytes, which need not be valid UTF-8 (tiktoken's ``_encode_bytes``).

        The regex needs characters, so only the valid UTF-8 prefix is split into pieces.
        Everything from the last of those pieces on (stretched back over whitespace-only
        tokens) up to the end of ``data`` is merged as one piece. Valid UTF-8 gives
        exactly ``encode_ordinary``.
        """
        try:
            return self.encode_ordinary(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            valid = e.start  # 1. the longest valid prefix
        pieces = self._regex.findall(data[:valid].decode("utf-8"))
        ids = self._encode_pieces(pieces)  # 2. encode it as usual
        n_last = len(self._encode_pieces(pieces[-1:]))  # tokens of the last piece

        def all_space(i: int) -> bool:
            return all(b in b" \n\t" for b in self._decoder[i])

        # subtle: tiktoken also re-merges whitespace tokens before the last piece, because
        # cl100k's "\s*[\r\n]" may regroup them once more text follows.
        if n_last and all_space(ids[-n_last]):
            while n_last < len(ids) and all_space(ids[-n_last - 1]):
                n_last += 1
        keep = len(ids) - n_last
        tail = b"".join(self._decoder[i] for i in ids[keep:]) + data[valid:]
        return ids[:keep] + self._bpe(tail)  # 3. the rest as one piece

    def encode_with_offsets(self, text: str) -> list[tuple[int, int, int]]:
        """``(id, start, end)`` per token of ``encode_ordinary(text)``, in characters.

        A token that holds only part of a character's bytes ("é" split in two tokens) covers
        that whole character, so neighbouring spans can share it.
        """
        text = fix_surrogates(text)
        out: list[tuple[int, int, int]] = []
        for m in self._regex.finditer(text):
            piece, start = m.group(), m.start()
            ids = self._encode_pieces([piece])
            if len(ids) == 1:
                out.append((ids[0], start, m.end()))
                continue
            char_at = list(
                accumulate((len(c.encode()) for c in piece), initial=0)
            )  # byte offset of each char
            b = 0
            for i in ids:
                n = len(self._decoder[i])
                first, last = bisect_right(char_at, b) - 1, bisect_right(char_at, b + n - 1) - 1
                out.append((i, start + first, start + last + 1))
                b += n
        return out

    def safe_split(self, text: str) -> tuple[str, str]:
        """Cut before a space between letters, or after a newline between non-spaces.

        For the four known patterns no piece reaches across such a cut, and nothing before it
        looks past it (each piece ending there stops at the space or newline, whether or not
        more text follows), so ``encode_iterable`` equals ``encode`` of the joined text; the
        property test in ``tests/test_tok_bpe_props.py`` checks this. Other patterns hold all
        text back until the end.
        """
        if self.pattern in _SAFE_CUT_PATTERNS:
            for m in _SAFE_CUT.finditer(text):  # from the end backwards
                if not straddles_special(text, m.start(), self.special_tokens):
                    return text[: m.start()], text[m.start() :]
        return "", text

    # -- decoding and the vocabulary ------------------------------------------------------
    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """The bytes of ``ids`` (special tokens as their UTF-8 text)."""
        try:
            return b"".join(self._decoder[i] for i in ids)
        except KeyError as e:
            raise LLMLabError(f"id {e.args[0]} is not in the vocabulary of {self.name}") from None

    def decode(self, ids: Sequence[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes that id ``token_id`` stands for."""
        return self._decoder[token_id]

    def id_to_token(self, token_id: int) -> str:
        if token_id in self.special_tokens.values():
            return self._decoder[token_id].decode()
        return token_to_str(self._decoder[token_id])

    def token_to_id(self, token: str) -> int | None:
        if token in self.special_tokens:
            return self.special_tokens[token]
        try:
            return self.ranks.get(str_to_token(token))
        except KeyError:
            return None

    @property
    def vocab_size(self) -> int:
        return max(self._decoder) + 1

    @property
    def merges(self) -> list[tuple[bytes, bytes]]:
        """The merge list, in rank order (recovered from the ranks if not given)."""
        if self._merges is None:
            self._merges = recover_merges(self.ranks)
        return self._merges


def bpe_parts(ranks: Mapping[bytes, int], piece: bytes, max_rank: int = _NO_RANK) -> list[bytes]:
    """Merge the bytes of ``piece`` by rank, only through tokens ranked below ``max_rank``.

    1. Start from single bytes and the rank of each neighbouring pair's concatenation.
    2. Merge the pair of lowest rank (the leftmost one on ties).
    3. Update the ranks of the two pairs around the merged part; repeat until no pair is a token.
    """
    parts = [piece[i : i + 1] for i in range(len(piece))]

    def rank_of(pair: bytes) -> int:
        r = ranks.get(pair, _NO_RANK)
        return r if r < max_rank else _NO_RANK

    pair_ranks = [rank_of(a + b) for a, b in zip(parts, parts[1:], strict=False)]  # 1.
    while pair_ranks:
        best = min(pair_ranks)
        if best == _NO_RANK:
            break
        i = pair_ranks.index(best)  # 2. leftmost lowest rank
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
        del pair_ranks[i]  # 3. pair i is gone; the old pair i+1 is now pair i
        if i > 0:
            pair_ranks[i - 1] = rank_of(parts[i - 1] + parts[i])
        if i < len(parts) - 1:
            pair_ranks[i] = rank_of(parts[i] + parts[i + 1])
    return parts


def recover_merges(ranks: Mapping[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The merge list behind tiktoken-style ``ranks``, in rank order.

    Each multi-byte token must come out of BPE with only lower-ranked tokens as exactly two
    parts: those two parts are its merge (as in tiktoken's ``data_gym`` loader and minbpe).
    """
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) < 2:
            continue
        parts = bpe_parts(ranks, token, max_rank=rank)
        if len(parts) != 2:
            raise LLMLabError(
                f"token {token_to_str(token)!r} (rank {rank}) is not a merge of two lower-ranked tokens"
            )
        merges.append((parts[0], parts[1]))
    return merges
