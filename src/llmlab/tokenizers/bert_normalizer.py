"""BERT's text normaliser: the clean-up that runs before WordPiece ever sees the text.

The first rung of the BERT ladder. WordPiece itself only splits words into pieces; what makes
"Café\u00a0NAÏVE\x00" come out as ``cafe naive`` is this normaliser, the same four switchable
steps as HF's ``BertNormalizer`` (and the original ``tokenization.py`` of BERT), applied in this
order:

1. ``clean_text``: drop NUL, U+FFFD and control characters (categories Cc, Cf, Co, Cs, except
   tab, newline and carriage return), then map every whitespace character to a plain space;
2. ``handle_chinese_chars``: put a space on each side of every CJK ideograph, so each one becomes
   a word of its own (Chinese is written without spaces);
3. ``strip_accents``: decompose to NFD ("é" -> "e" + U+0301) and drop the non-spacing marks (Mn);
   ``None`` (the default) means "strip when lowercasing", HF's rule for ``strip_accents: null``;
4. ``lowercase``: lowercase each character on its own (so a final "Σ" becomes "σ", not "ς").

Every step maps one character to zero or more characters, which gives two ways to run it:
:meth:`BertNormalizer.normalize` (fast: ``str.translate`` with lazily filled tables) and
:meth:`BertNormalizer.normalize_with_sources`, which also says, for each output character, which
input character it came from. Token offsets are read from that map, exactly as HF reads its
``alignments``.

# subtle: Unicode versions. Character classes come from Python's ``unicodedata`` (Unicode 14 on
Python 3.11). HF tokenizers take categories from an older table (about Unicode 8) and lowercase
with Rust's newer one, so a few hundred of the 1.1 million code points (characters added or
recategorised since) are treated differently; every character that existed in Unicode 3.2 with
the same category today is treated the same (tested).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

# Rust's `char::is_whitespace`: the Unicode White_Space property (PropList.txt). Python's
# `str.isspace` adds U+001C..U+001F, which are control characters here.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

# The CJK Unified Ideograph blocks (BERT's `_is_chinese_char`). Hangul, Hiragana and Katakana are
# not in them: those scripts separate words with spaces.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_whitespace(ch: str) -> bool:
    """BERT whitespace: the Unicode White_Space property (tab, newline, CR included)."""
    return ch in WHITESPACE


def is_control(ch: str) -> bool:
    """A control character that clean-up drops: categories Cc, Cf, Co, Cs, but not tab/newline/CR.

    # subtle: unassigned code points (Cn) are kept, as HF keeps them; BERT's original Python
    dropped every "C*" category.
    """
    return ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def is_cjk(ch: str) -> bool:
    """True for a CJK ideograph (one of the blocks in ``_CJK_RANGES``)."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


class _CharTable(dict):
    """A ``str.translate`` table filled on demand: ``table[ord(ch)]`` computes ``rule(ch)`` once."""

    def __init__(self, rule: Callable[[str], str]):
        super().__init__()
        self.rule = rule

    def __missing__(self, cp: int) -> str:
        out = self[cp] = self.rule(chr(cp))
        return out


@dataclass(frozen=True)
class BertNormalizer:
    """HF's ``BertNormalizer``: the same four options, the same defaults as ``BertWordPieceTokenizer``."""

    clean_text: bool = True  # drop control characters, whitespace -> " "
    handle_chinese_chars: bool = True  # " 中 " around every CJK ideograph
    strip_accents: bool | None = None  # None: follow `lowercase`
    lowercase: bool = True  # per-character lowercase

    @property
    def strips_accents(self) -> bool:
        """Whether step 3 runs (``strip_accents=None`` follows ``lowercase``)."""
        return self.lowercase if self.strip_accents is None else self.strip_accents

    # -- per-character rules: steps 1+2 (before NFD) and 3b+4 (after NFD) --------------------
    def _before_nfd(self, ch: str) -> str:
        if self.clean_text:
            if ch in "\x00\ufffd" or is_control(ch):
                return ""
            if is_whitespace(ch):
                return " "
        if self.handle_chinese_chars and is_cjk(ch):
            return f" {ch} "
        return ch

    def _after_nfd(self, ch: str) -> str:
        if self.strips_accents and unicodedata.category(ch) == "Mn":
            return ""
        return ch.lower() if self.lowercase else ch

    @cached_property
    def _tables(self) -> tuple[_CharTable, _CharTable]:
        # subtle: cached_property writes to the instance __dict__, which a frozen dataclass allows.
        return _CharTable(self._before_nfd), _CharTable(self._after_nfd)

    # -- the two ways to run it ------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        """The normalised text (what HF's ``normalizer.normalize_str`` returns)."""
        before, after = self._tables
        text = text.translate(before)  # 1. clean, 2. space out CJK
        if self.strips_accents:
            text = unicodedata.normalize("NFD", text)  # 3a. decompose (and reorder marks)
        return text.translate(after)  # 3b. drop Mn, 4. lowercase

    def normalize_with_sources(self, text: str) -> tuple[str, list[int]]:
        """The normalised text and, per output character, the index of its input character.

        Characters a step inserts (the spaces around CJK, the marks of a decomposition, the extra
        characters of a lowercase like "İ" -> "i̇") point at the character that produced them.
        """
        if text.isascii():  # the common case: ASCII maps 1:1 unless control characters are dropped
            out = self.normalize(text)
            if len(out) == len(text):
                return out, list(range(len(text)))
        before, after = self._tables
        chars = [(out, i) for i, ch in enumerate(text) for out in before[ord(ch)]]  # steps 1, 2
        if self.strips_accents:  # step 3a, one character at a time
            chars = [(d, i) for ch, i in chars for d in unicodedata.normalize("NFD", ch)]
            # subtle: NFD also sorts each run of combining marks by combining class, across
            # characters; the marks move but the sources stay in place, as in HF's alignments.
            reordered = unicodedata.normalize("NFD", "".join(ch for ch, _ in chars))
            chars = list(zip(reordered, [i for _, i in chars], strict=True))
        chars = [(out, i) for ch, i in chars for out in after[ord(ch)]]  # steps 3b, 4
        return "".join(ch for ch, _ in chars), [i for _, i in chars]
