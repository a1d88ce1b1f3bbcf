"""Pieces of Hugging Face's ``tokenizer.json`` that every model type writes the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def added_token(token_id: int, content: str, special: bool = True) -> dict[str, Any]:
    """One ``added_tokens`` entry: matched whole, before normalisation."""
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": special,
    }


def added_special_tokens(special_tokens: Mapping[str, int]) -> list[dict[str, Any]]:
    """``added_tokens`` for a tokenizer's special tokens, in id order."""
    return [added_token(i, t) for t, i in sorted(special_tokens.items(), key=lambda kv: kv[1])]
