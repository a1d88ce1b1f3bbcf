"""The first rung: one id per character, or one id per byte.

:class:`CharTokenizer` gives each character of a fixed alphabet an id (nanoGPT's Shakespeare
model uses 65 of them). It is exact and tiny, but a character outside the alphabet has no id,
and sequences are long: one id per character.

:class:`ByteTokenizer` fixes the first problem. It encodes text as UTF-8 and uses the 256
possible byte values as ids, so *every* string has ids and ``decode(encode(x)) == x``. A
character outside ASCII costs 2 to 4 ids ("é" is ``[195, 169]``), so sequences get even
longer; byte-pair encoding (``bpe_basic.py``) starts from these bytes and merges frequent
pairs into new ids to shorten them.

>>> ByteTokenizer().encode("hé")
[104, 195, 169]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer
from llmlab.tokenizers.byte_level import bytes_to_unicode, fix_surrogates, unicode_to_bytes


class UnknownCharacterError(LLMLabError):
    """The text holds a character that the tokenizer's alphabet does not have."""


class CharTokenizer(Tokenizer):
    """Character ``alphabet[i]`` has id ``i``; special tokens follow the alphabet."""

    name = "chars"

    def __init__(self, alphabet: Iterable[str], special_tokens: Sequence[str] = ()):
        self.alphabet = list(alphabet)
        if any(len(c) != 1 for c in self.alphabet) or len(set(self.alphabet)) != len(self.alphabet):
            raise ValueError("the alphabet must be distinct single characters")
        self._ids = {c: i for i, c in enumerate(self.alphabet)}
        self.special_tokens = {t: len(self.alphabet) + i for i, t in enumerate(special_tokens)}
        self._id_to_special = {i: t for t, i in self.special_tokens.items()}

    @classmethod
    def from_text(cls, text: str, special_tokens: Sequence[str] = ()) -> CharTokenizer:
        """The alphabet of ``text``: its distinct characters, sorted by code point."""
        return cls(sorted(set(text)), special_tokens)

    def encode_ordinary(self, text: str) -> list[int]:
        try:
            return [self._ids[c] for c in text]
        except KeyError as e:
            at = next(i for i, c in enumerate(text) if c not in self._ids)
            raise UnknownCharacterError(
                f"character {e.args[0]!r} at position {at} is not in the alphabet of {len(self.alphabet)} characters"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.id_to_token(i) for i in ids)

    def id_to_token(self, token_id: int) -> str:
        if token_id in self._id_to_special:
            return self._id_to_special[token_id]
        if not 0 <= token_id < len(self.alphabet):
            raise IndexError(f"id {token_id} is outside the vocabulary of {self.vocab_size}")
        return self.alphabet[token_id]

    def token_to_id(self, token: str) -> int | None:
        return self.special_tokens.get(token, self._ids.get(token))

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet) + len(self.special_tokens)

    def encode_with_offsets(self, text: str) -> list[tuple[int, int, int]]:
        return [(i, k, k + 1) for k, i in enumerate(self.encode_ordinary(text))]


class ByteTokenizer(Tokenizer):
    """Byte ``b`` of the UTF-8 text has id ``b``; special tokens get ids from 256 up."""

    name = "bytes"

    def __init__(self, special_tokens: Mapping[str, int] | Sequence[str] = ()):
        if not isinstance(special_tokens, Mapping):
            special_tokens = {t: 256 + i for i, t in enumerate(special_tokens)}
        if any(i < 256 for i in special_tokens.values()):
            raise ValueError("special-token ids must be 256 or more (0-255 are the bytes)")
        self.special_tokens = dict(special_tokens)
        self._id_to_special = {i: t for t, i in self.special_tokens.items()}

    def encode_ordinary(self, text: str) -> list[int]:
        return list(self._utf8(text))

    def encode_bytes(self, data: bytes) -> list[int]:
        """Ids of raw bytes, valid UTF-8 or not."""
        return list(data)

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        """The bytes of ``ids`` (special tokens as their UTF-8 text)."""
        out = bytearray()
        for i in ids:
            out += self._id_to_special[i].encode() if i in self._id_to_special else bytes([i])
        return bytes(out)

    def decode(self, ids: Sequence[int]) -> str:
        # subtle: a cut in the middle of a character ([195] without its 169) is invalid UTF-8;
        # like every byte-level tokenizer we show it as U+FFFD instead of raising.
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def id_to_token(self, token_id: int) -> str:
        if token_id in self._id_to_special:
            return self._id_to_special[token_id]
        return bytes_to_unicode()[token_id]  # KeyError outside 0..255

    def token_to_id(self, token: str) -> int | None:
        if token in self.special_tokens:
            return self.special_tokens[token]
        return unicode_to_bytes().get(token)

    @property
    def vocab_size(self) -> int:
        return max([255, *self.special_tokens.values()]) + 1

    def encode_with_offsets(self, text: str) -> list[tuple[int, int, int]]:
        text = fix_surrogates(text)
        return [(b, k, k + 1) for k, c in enumerate(text) for b in c.encode()]

    def safe_split(self, text: str) -> tuple[str, str]:
        # Bytes never merge, so any cut is safe except inside a special token.
        cut = len(text)
        while cut > 0 and straddles_special(text, cut, self.special_tokens):
            cut -= 1
        return text[:cut], text[cut:]

    @staticmethod
    def _utf8(text: str) -> bytes:
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return fix_surrogates(text).encode("utf-8")


def straddles_special(text: str, cut: int, specials: Iterable[str]) -> bool:
    """Whether some special token could cross position ``cut``: its first ``k`` characters end
    at ``cut`` and the text after ``cut`` (as far as it goes) agrees with the rest of it.
    ``encode_iterable`` must not cut there, or ``"<|endof" + "text|>"`` would lose the token."""
    for s in specials:
        for k in range(1, len(s)):
            if text.endswith(s[:k], 0, cut) and s[k:].startswith(text[cut : cut + len(s) - k]):
                return True
    return False
