"""BERT's basic pre-tokenizer: whitespace splits words, and every punctuation mark is a word.

The second rung of the BERT ladder, after :mod:`bert_normalizer`. WordPiece never sees a
sentence, only the words this step cuts out of the normalised text, in two passes (as HF's
``BertPreTokenizer`` does):

1. split on whitespace (the Unicode White_Space property) and drop it;
2. split every punctuation character off as a word of its own, so "don't!" gives
   ``don``, ``'``, ``t``, ``!``.

Punctuation is BERT's definition: the 32 ASCII symbols ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``
(so ``$``, ``+``, ``^`` count, though Unicode files them as symbols), plus every character
whose Unicode category starts with "P". Each word keeps its ``(start, end)`` character offsets
into the text it came from, which is how token offsets reach back to the user's text.
"""

from __future__ import annotations

import re
import unicodedata

from llmlab.tokenizers.bert_normalizer import WHITESPACE

_ASCII_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
# Pass 1 and the ASCII half of pass 2 in one regex: an ASCII punctuation mark, or a run of
# characters that are neither whitespace nor ASCII punctuation.
_PIECE = re.compile(f"[{re.escape(_ASCII_PUNCT)}]|[^{re.escape(WHITESPACE + _ASCII_PUNCT)}]+")
_PUNCT_CACHE: dict[str, bool] = {}


def is_punctuation(ch: str) -> bool:
    """BERT punctuation: an ASCII symbol or a Unicode "P*" character."""
    found = _PUNCT_CACHE.get(ch)
    if found is None:
        found = _PUNCT_CACHE[ch] = ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")
    return found


def pre_tokenize(text: str) -> list[tuple[str, int, int]]:
    """The words of ``text`` as ``(word, start, end)``, character offsets into ``text``.

    >>> pre_tokenize("hey, you!")
    [('hey', 0, 3), (',', 3, 4), ('you', 5, 8), ('!', 8, 9)]
    """
    words: list[tuple[str, int, int]] = []
    for m in _PIECE.finditer(text):
        piece = m.group()
        if piece.isascii():
            words.append((piece, *m.span()))
        else:  # the rest of pass 2: split off non-ASCII punctuation, character by character
            start = m.start()
            words += [(w, start + s, start + e) for w, s, e in _split_punctuation(piece)]
    return words


def split_words(text: str) -> list[str]:
    """The words of ``text`` without offsets: :func:`pre_tokenize`, faster."""
    pieces = _PIECE.findall(text)
    if text.isascii():
        return pieces
    return [
        w
        for piece in pieces
        for w in ([piece] if piece.isascii() else [w for w, _, _ in _split_punctuation(piece)])
    ]


def _split_punctuation(piece: str) -> list[tuple[str, int, int]]:
    words = []
    start = 0
    for i, ch in enumerate(piece):
        if is_punctuation(ch):
            if start < i:
                words.append((piece[start:i], start, i))
            words.append((ch, i, i + 1))
            start = i + 1
    if start < len(piece):
        words.append((piece[start:], start, len(piece)))
    return words
