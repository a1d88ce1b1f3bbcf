"""The fast path for byte-level BPE: the same ids and merges as the readable path, in C.

:class:`RegexBPE` and :func:`train_bpe` are the reference that learners read. Here the same
tokenizer and trainer run through the compiled extension (:mod:`llmlab.tokenizers.fast`):

* :class:`FastRegexBPE` is a ``RegexBPE`` whose hot loops are C: for the GPT-2 and cl100k
  patterns the whole ``encode_ordinary`` (pre-tokenizer and merges) runs in C; for any other
  pattern (o200k, SmolLM2) the regex stays in Python and each new piece is merged in C.
* :func:`train_bpe_fast` counts pieces with the C pre-tokenizer and learns merges with the C
  trainer, with the readable trainer's byte numbering and tie-break, so its merges are the
  same list.

``--impl fast`` on the command line picks these; tests check both paths give identical ids
and merges (``tests/test_tok_bpe_fast.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import regex

from llmlab.errors import LLMLabError
from llmlab.tokenizers import fast
from llmlab.tokenizers.bpe_regex import CL100K_PATTERN, GPT2_PATTERN, RegexBPE
from llmlab.tokenizers.byte_level import BYTE_ORDER, fix_surrogates

# The patterns the C scanners implement, by their readable-path spelling.
C_PATTERNS = {GPT2_PATTERN: "gpt2", CL100K_PATTERN: "cl100k"}
_GPT2_BYTE_ORDER = bytes(BYTE_ORDER)


class FastRegexBPE(RegexBPE):
    """A :class:`RegexBPE` that encodes through the C extension (identical ids)."""

    def __init__(self, ranks: Mapping[bytes, int], pattern: str, *args: object, **kwargs: object):
        fast._require()  # a clear error when the extension is not built
        super().__init__(ranks, pattern, *args, **kwargs)  # type: ignore[arg-type]
        self._table = fast._require().RankTable(self.ranks)
        every_byte = all(bytes([b]) in self.ranks for b in range(256))
        # The all-C path needs every byte to be a token (GPT-2, cl100k, and what we train).
        self._c_pattern = C_PATTERNS.get(pattern) if every_byte else None

    @classmethod
    def from_tokenizer(cls, tok: RegexBPE) -> FastRegexBPE:
        """The fast twin of a readable tokenizer."""
        return cls(
            tok.ranks, tok.pattern, tok.special_tokens, name=tok.name, unk_id=tok.unk_id, merges=tok._merges
        )

    def encode_ordinary(self, text: str) -> list[int]:
        if self._c_pattern is None:
            return super().encode_ordinary(text)  # Python regex, C merges through _bpe
        try:
            return self._table.encode(text, self._c_pattern)
        except UnicodeEncodeError:  # lone surrogates: replaced by U+FFFD, as the readable path does
            return self._table.encode(fix_surrogates(text), self._c_pattern)

    def _bpe(self, piece: bytes) -> list[int]:
        try:
            return self._table.encode_piece(piece)
        except (KeyError, ValueError):  # a byte without a token: the readable rule decides
            return super()._bpe(piece)


def train_bpe_fast(
    texts: Iterable[str] = (),
    vocab_size: int = 1000,
    *,
    files: Sequence[str | Path] = (),
    pattern: str = GPT2_PATTERN,
    special_tokens: Sequence[str] = (),
    min_frequency: int = 2,
    name: str = "bpe",
) -> RegexBPE:
    """:func:`~llmlab.tokenizers.train_bpe.train_bpe` on the C extension: same arguments, same
    merges, same tokenizer. ``files`` are streamed in chunks and, like
    :func:`~llmlab.tokenizers.train_bpe.train_bpe_from_files`, pre-tokenized line by line.

    Only the GPT-2 and cl100k patterns have C scanners; other patterns raise.
    """
    if pattern not in C_PATTERNS:
        raise LLMLabError("the fast BPE trainer supports the gpt2 and cl100k patterns; use --impl readable")
    if vocab_size < 256 + len(special_tokens):
        raise LLMLabError(
            f"vocab_size {vocab_size} is smaller than 256 bytes + {len(special_tokens)} special tokens"
        )
    if files and special_tokens:
        raise LLMLabError("special tokens cannot be cut out of files on the fast path; pass texts instead")
    c_pattern = C_PATTERNS[pattern]
    if files:  # line by line, as train_bpe_from_files reads them
        counts = fast.count_files(list(files), c_pattern, lines=True)
    else:
        cut = regex.compile("|".join(regex.escape(t) for t in sorted(special_tokens, key=len, reverse=True)))
        counts = {}
        for text in texts:
            for segment in cut.split(text) if special_tokens else (text,):
                counts = fast.count_pieces(segment, c_pattern, counts)
    n_new = vocab_size - 256 - len(special_tokens)
    merges = fast.train_merges(counts, n_new, min_frequency, _GPT2_BYTE_ORDER)
    tokens = fast.merges_to_tokens(merges, _GPT2_BYTE_ORDER)
    ranks = {token: i for i, token in enumerate(tokens)}
    specials = {t: len(tokens) + i for i, t in enumerate(special_tokens)}
    merge_bytes = [(tokens[left], tokens[right]) for left, right in merges]
    return RegexBPE(ranks, pattern, specials, name=name, merges=merge_bytes)
