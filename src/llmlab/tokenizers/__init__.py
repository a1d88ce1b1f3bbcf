"""Tokenizers, as a ladder from characters to production formats (see docs/tokenizers.md).

The names below are imported on first use, so ``import llmlab.tokenizers`` stays cheap:

>>> from llmlab.tokenizers import load_tokenizer       # doctest: +SKIP
>>> load_tokenizer("gpt2").encode("Hello world")
[15496, 995]
"""

from __future__ import annotations

import importlib
from typing import Any

from llmlab.tokenizers.base import SpecialTokenError, Tokenizer, TokenizerFormatError

_LAZY = {
    "ByteTokenizer": "chars",
    "CharTokenizer": "chars",
    "WordTokenizer": "words",
    "BasicBPE": "bpe_basic",
    "RegexBPE": "bpe_regex",
    "FastRegexBPE": "bpe_fast",
    "WordPieceTokenizer": "wordpiece",
    "UnigramTokenizer": "unigram",
    "train_bpe": "train_bpe",
    "train_bpe_fast": "bpe_fast",
    "train_wordpiece": "train_wordpiece",
    "train_unigram": "train_unigram",
    "load_pretrained": "pretrained",
    "load_sentencepiece": "sentencepiece",
    "load_tokenizer": "registry",
    "save_tokenizer": "registry",
    "ChatTemplate": "chat",
    "SpmTokenizer": "spm_base",
}

__all__ = ["SpecialTokenError", "Tokenizer", "TokenizerFormatError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"llmlab.tokenizers.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'llmlab.tokenizers' has no attribute {name!r}")
