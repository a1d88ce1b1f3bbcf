"""GPT-2's printable alphabet for bytes: how byte-level tokens are written down as text.

A byte-level BPE token is a string of *bytes*, and many bytes are not printable (``0x0A`` is a
newline, ``0x20`` a space, ``0x80``-``0xFF`` are halves of UTF-8 characters). GPT-2's
``encoder.json`` and ``vocab.bpe``, and every Hugging Face byte-level ``tokenizer.json``,
therefore write each byte as one printable character:

* the 188 bytes that are already printable Latin-1 characters (``!``..``~``, ``¡``..``¬``,
  ``®``..``ÿ``) stand for themselves;
* the other 68 (controls, space, ``0x7F``..``0xA0``, soft hyphen ``0xAD``) are shifted to
  ``chr(256 + n)``, in byte order: space ``0x20`` becomes ``Ġ``, newline ``0x0A`` becomes ``Ċ``.

So the token ``b" the"`` is written ``"Ġthe"``. Sorting the 256 characters by code point gives
*GPT-2 byte order* (printable bytes first), the order of the first 256 ids in GPT-2's vocabulary
and of Hugging Face's byte-level alphabet; the trainer uses it for its tie-break.

Reference: ``bytes_to_unicode`` in openai/gpt-2 ``src/encoder.py``.
"""

from __future__ import annotations

from functools import cache


@cache
def bytes_to_unicode() -> dict[int, str]:
    """Byte value -> the printable character that stands for it (GPT-2's table)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


@cache
def unicode_to_bytes() -> dict[str, int]:
    """The inverse table: printable character -> byte value."""
    return {c: b for b, c in bytes_to_unicode().items()}


BYTE_ORDER: tuple[int, ...] = tuple(sorted(range(256), key=lambda b: bytes_to_unicode()[b]))
"""The 256 byte values in GPT-2 byte order (by the code point of their printable character)."""


def token_to_str(token: bytes) -> str:
    """Write token bytes in the printable alphabet: ``b" the"`` -> ``"Ġthe"``."""
    table = bytes_to_unicode()
    return "".join(table[b] for b in token)


def str_to_token(text: str) -> bytes:
    """Read a token written in the printable alphabet back to bytes: ``"Ġthe"`` -> ``b" the"``.

    Raises ``KeyError`` (with the character) when ``text`` holds a character outside the
    alphabet; file loaders turn that into a :class:`TokenizerFormatError` naming the line.
    """
    table = unicode_to_bytes()
    return bytes(table[c] for c in text)


def fix_surrogates(text: str) -> str:
    """``text`` with lone surrogates (``"\\ud800"``) replaced by U+FFFD, so it has a UTF-8 form.

    A Python string may hold surrogate code points, which UTF-8 cannot encode. Like tiktoken,
    byte-level tokenizers first join valid surrogate pairs into their character and replace the
    rest with U+FFFD (so such a string does not survive encode + decode unchanged).
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
