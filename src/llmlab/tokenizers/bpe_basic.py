"""Byte-pair encoding on raw bytes: learn merges of frequent neighbours, then apply them in order.

Unlike :class:`~llmlab.tokenizers.chars.ByteTokenizer`, which spends one id per byte, BPE adds
new ids for byte sequences that occur often, so common text gets shorter. Training:

1. Start from the UTF-8 bytes of the text, ids 0..255.
2. Count every pair of neighbouring ids.
3. Give the most frequent pair a new id (256, 257, ...) and replace each of its occurrences,
   left to right, by that id. Remember the merge ``(a, b) -> new``.
4. Repeat 2-3 until the vocabulary has ``vocab_size`` ids.

Encoding replays the merges on new text: among the pairs present, merge the one learned
earliest (lowest rank), until no learned pair is left. Decoding just concatenates the bytes
of each id, so ``decode(encode(x)) == x`` for every string.

This rung treats the text as one long sequence: merges may cross word boundaries ("e t" in
"the tree"), and each training step rescans the whole text, so it suits texts of a few
hundred KB. ``bpe_regex.py`` splits text into pieces first; ``train_bpe.py`` trains fast
on counts of unique pieces. Reference: Sennrich et al. 2016; Karpathy's minbpe ``basic.py``.

>>> tok = BasicBPE.train("aaabdaaabac", vocab_size=259)
>>> tok.merges                   # "aa" -> 256, "aa"+"a" -> 257, "aaa"+"b" -> 258
[(97, 97), (256, 97), (257, 98)]
>>> [tok.id_to_token(i) for i in tok.encode("aaabdaaabac")]
['aaab', 'd', 'aaab', 'a', 'c']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer
from llmlab.tokenizers.byte_level import fix_surrogates, token_to_str, unicode_to_bytes


class BasicBPE(Tokenizer):
    """Merges over raw bytes: ``merges[i] = (a, b)`` makes id ``256 + i``."""

    name = "bpe-basic"

    def __init__(
        self, merges: Sequence[tuple[int, int]], special_tokens: Mapping[str, int] | Sequence[str] = ()
    ):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {pair: 256 + i for i, pair in enumerate(self.merges)}  # pair -> the id it makes
        self.vocab = {i: bytes([i]) for i in range(256)}  # id -> the bytes it stands for
        for pair, new_id in self.ranks.items():
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
        if not isinstance(special_tokens, Mapping):
            special_tokens = {t: len(self.vocab) + i for i, t in enumerate(special_tokens)}
        self.special_tokens = dict(special_tokens)
        self._id_to_special = {i: t for t, i in self.special_tokens.items()}

    @classmethod
    def train(cls, text: str | bytes, vocab_size: int, special_tokens: Sequence[str] = ()) -> BasicBPE:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Ties between equally frequent pairs go to the pair that occurs first in the text
        (``Counter`` keeps first-seen order and ``max`` returns the first maximum).
        Training stops early when no pair occurs twice.
        """
        n_merges = vocab_size - 256 - len(special_tokens)
        if n_merges < 0:
            raise LLMLabError(
                f"vocab_size {vocab_size} is smaller than 256 bytes + {len(special_tokens)} specials"
            )
        ids = list(text.encode("utf-8") if isinstance(text, str) else text)
        merges: list[tuple[int, int]] = []
        for step in range(n_merges):
            counts = Counter(zip(ids, ids[1:], strict=False))  # 2. count neighbouring pairs
            if not counts:
                break
            pair = max(counts, key=counts.__getitem__)  # 3. the most frequent, first seen on ties
            if counts[pair] < 2:
                break  # a merge that saves one id is not worth a vocabulary entry
            ids = merge(ids, pair, 256 + step)
            merges.append(pair)
        return cls(merges, special_tokens)

    def encode_ordinary(self, text: str) -> list[int]:
        return self.encode_bytes(_utf8(text))

    def encode_bytes(self, data: bytes) -> list[int]:
        """Ids of raw bytes (valid UTF-8 or not): the learned merges, earliest first."""
        ids = list(data)
        while len(ids) >= 2:
            present = set(zip(ids, ids[1:], strict=False))
            pair = min(present, key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.ranks:
                break  # no learned merge applies any more
            ids = merge(ids, pair, self.ranks[pair])
        return ids

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """The bytes of ``ids`` (special tokens as their UTF-8 text)."""
        return b"".join(
            self._id_to_special[i].encode() if i in self._id_to_special else self.vocab[i] for i in ids
        )

    def decode(self, ids: Sequence[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def id_to_token(self, token_id: int) -> str:
        if token_id in self._id_to_special:
            return self._id_to_special[token_id]
        return token_to_str(self.vocab[token_id])

    def token_to_id(self, token: str) -> int | None:
        if token in self.special_tokens:
            return self.special_tokens[token]
        if not hasattr(self, "_token_ids"):
            self._token_ids = {token_to_str(b): i for i, b in self.vocab.items()}
        if any(c not in unicode_to_bytes() for c in token):
            return None
        return self._token_ids.get(token)

    @property
    def vocab_size(self) -> int:
        return max([len(self.vocab) - 1, *self.special_tokens.values()]) + 1


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with each occurrence of ``pair``, scanning left to right, replaced by ``new_id``.

    # subtle: occurrences may overlap ("aaa" holds (a, a) twice); the left one wins: [aa, a].
    """
    out: list[int] = []
    a, b = pair
    i, n = 0, len(ids)
    while i < n:
        if ids[i] == a and i + 1 < n and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return fix_surrogates(text).encode("utf-8")
