"""Tokenizers, as a ladder from characters to production formats (see docs/tokenizers.md)."""

from llmlab.tokenizers.base import SpecialTokenError, Tokenizer, TokenizerFormatError

__all__ = ["SpecialTokenError", "Tokenizer", "TokenizerFormatError"]
