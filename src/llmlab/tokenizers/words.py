"""Words as tokens: Penn Treebank splitting rules and a vocabulary of the most frequent words.

The second rung. Unlike characters, a word carries meaning on its own, and sequences are
short; but the vocabulary is open (every name, typo and number is a new word), so a word
tokenizer keeps the ``vocab_size`` most frequent words of its training text and maps every
other word to ``<unk>``. It also forgets spacing: ``decode`` can only join words with spaces.

Splitting text into words is less obvious than ``text.split()``: "don't." is three tokens in
the Penn Treebank convention (``do``, ``n't``, ``.``). :func:`treebank_words` applies the
Treebank rules, in order (from Robert MacIntyre's ``tokenizer.sed``, as ported by NLTK):

1. opening double quotes become ``\u0060\u0060``;
2. punctuation is padded with spaces: ``: ,`` (unless a digit follows, keeping "3,000"),
   ``...``, ``; @ # $ % &``, a final period, ``? !``, a single quote before a space;
3. brackets are padded, and ``--``;
4. closing double quotes become ``''``, and clitics split off: ``'s 'm 'd 'll 're 've n't``;
5. a few fused words split: "cannot" -> "can not", "gonna" -> "gon na", "'tis" -> "'t is";
6. split on whitespace.

A period inside the text ("Mr. Smith", "York.  Please") stays attached: Treebank expects
one sentence at a time. ``tests/test_tok_words.py`` checks the rules against NLTK's
``TreebankWordTokenizer`` on thousands of sentences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import regex

from llmlab.tokenizers.base import Tokenizer

_RULES = [
    # 1. starting quotes
    (r'^"', r"``"),
    (r"(``)", r" \1 "),
    (r"([ \(\[{<])(\"|\'{2})", r"\1 `` "),
    # 2. punctuation
    (r"([:,])([^\d])", r" \1 \2"),
    (r"([:,])$", r" \1 "),
    (r"\.\.\.", r" ... "),
    (r"[;@#$%&]", r" \g<0> "),
    (r'([^\.])(\.)([\]\)}>"\']*)\s*$', r"\1 \2\3 "),  # the final period, maybe before closing brackets/quotes
    (r"[?!]", r" \g<0> "),
    (r"([^'])' ", r"\1 ' "),
    # 3. brackets and double dashes
    (r"[\]\[\(\)\{\}\<\>]", r" \g<0> "),
    (r"--", r" -- "),
]
_ENDING_RULES = [
    # 4. ending quotes and clitics (the text is padded with a space on each side first)
    (r"''", " '' "),
    (r'"', " '' "),
    (r"([^' ])('[sS]|'[mM]|'[dD]|') ", r"\1 \2 "),
    (r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r"\1 \2 "),
    # 5. fused words
    *[
        (rf"(?i)\b({a})({b}){end}", r" \1 \2 ")
        for a, b, end in [
            ("can", "not", r"\b"),
            ("d", "'ye", r"\b"),
            ("gim", "me", r"\b"),
            ("gon", "na", r"\b"),
            ("got", "ta", r"\b"),
            ("lem", "me", r"\b"),
            ("more", "'n", r"\b"),
            ("wan", "na", r"(?=\s)"),
        ]
    ],  # fmt: skip
    (r"(?i) ('t)(is)\b", r" \1 \2 "),
    (r"(?i) ('t)(was)\b", r" \1 \2 "),
]
_COMPILED = [(regex.compile(p), r) for p, r in _RULES]
_COMPILED_ENDING = [(regex.compile(p), r) for p, r in _ENDING_RULES]


def treebank_words(text: str) -> list[str]:
    """``text`` split into words and punctuation by the Penn Treebank rules (steps 1-6 above)."""
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    text = " " + text + " "
    for pattern, replacement in _COMPILED_ENDING:
        text = pattern.sub(replacement, text)
    return text.split()


class WordTokenizer(Tokenizer):
    """One id per Treebank word; words outside the vocabulary become ``unk_token``."""

    name = "words"

    def __init__(self, vocab: Sequence[str], *, unk_token: str = "<unk>", special_tokens: Sequence[str] = ()):
        words = [unk_token, *(w for w in vocab if w != unk_token)]
        self.vocab = words
        self.unk_token = unk_token
        self._ids = {w: i for i, w in enumerate(words)}
        self.special_tokens = {t: len(words) + i for i, t in enumerate(special_tokens)}
        self._id_to_special = {i: t for t, i in self.special_tokens.items()}

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        min_frequency: int = 1,
        unk_token: str = "<unk>",
        special_tokens: Sequence[str] = (),
    ) -> WordTokenizer:
        """Keep the most frequent words (ties: first seen first) seen ``min_frequency`` times,
        so that words + ``unk_token`` + special tokens make ``vocab_size`` ids."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(treebank_words(text))
        room = vocab_size - 1 - len(special_tokens)
        keep = [w for w, c in counts.most_common() if c >= min_frequency and w != unk_token][: max(room, 0)]
        return cls(keep, unk_token=unk_token, special_tokens=special_tokens)

    def encode_ordinary(self, text: str) -> list[int]:
        return [self._ids.get(w, 0) for w in treebank_words(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """The words joined by single spaces: the original spacing is gone ("do n't .")."""
        return " ".join(self.id_to_token(i) for i in ids)

    def id_to_token(self, token_id: int) -> str:
        if token_id in self._id_to_special:
            return self._id_to_special[token_id]
        return self.vocab[token_id]

    def token_to_id(self, token: str) -> int | None:
        return self.special_tokens.get(token, self._ids.get(token))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)
