"""Hugging Face ``tokenizer.json`` for Unigram models (T5, ALBERT, XLNet style), both ways.

``tokenizers`` describes a SentencePiece Unigram model as a pipeline of small steps:

* ``normalizer``: ``Precompiled`` (the model's character map, base64) followed by
  ``Replace`` steps that redo sentencepiece's whitespace rules, and ``Prepend("▁")``;
* ``pre_tokenizer``: ``Metaspace`` writes spaces as "▁", adds the dummy "▁" in front and may
  split the text before every "▁";
* ``model``: ``{"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ...], "byte_fallback": ...}``;
* ``decoder``: ``Metaspace``, or ``Replace("▁", " ")`` + ``ByteFallback`` + ``Fuse`` + ``Strip``;
* ``added_tokens``: ``<unk>``, ``<s>``, ``</s>`` (special) and user-defined pieces.

:func:`unigram_to_hf_json` writes our model so that ``tokenizers`` gives the same ids as
sentencepiece (the export spells every whitespace rule as a ``Replace``). Three differences
are the library's, not the export's: its ``Precompiled`` works on whole graphemes and drops
what follows a rewritten character ("Ｂ" + combining diaeresis -> "B"); it normalises the text
between added tokens separately ("a<sep>b" gets a second dummy "▁" before "b"); and it adds
scores in double precision, sentencepiece in float32, which can settle an exact tie the other
way ("nion......." as "......" + "." or "." + "......": 1 test string in 5,000).

:func:`unigram_from_hf_json` returns an :class:`HfUnigramTokenizer`, which runs the file the way
``tokenizers`` does, quirks included (double precision Viterbi, every vocabulary entry usable by
the segmentation), so its ids equal the library's for our export and for ``tokenizers``' own
conversion of sentencepiece models (``SentencePieceUnigramTokenizer.from_spm``).
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import regex

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.formats.hf_common import added_token
from llmlab.tokenizers.formats.hf_unigram_pipeline import HfUnigramTokenizer, flatten
from llmlab.tokenizers.formats.sentencepiece_model import (
    ModelProto,
    NormalizerSpec,
    PieceType,
    SentencePiece,
    TrainerSpec,
)
from llmlab.tokenizers.spm_normalizer import SPACE_SYMBOL
from llmlab.tokenizers.unigram import UnigramTokenizer


def unigram_to_hf_json(tok: UnigramTokenizer) -> dict[str, Any]:
    """A ``tokenizer.json`` dict for ``tok`` (load it with ``tokenizers.Tokenizer.from_str``); a
    tokenizer read from a ``tokenizer.json`` gives back what it was read from."""
    if not isinstance(tok, UnigramTokenizer):
        raise TypeError(f"unigram_to_hf_json needs a UnigramTokenizer, not {type(tok).__name__}")
    if isinstance(tok, HfUnigramTokenizer):
        return copy.deepcopy(tok.data)
    spec, norm = tok.model.trainer_spec, tok.model.normalizer_spec
    if spec.treat_whitespace_as_suffix:
        raise TokenizerFormatError(
            tok.path, "cannot be written as tokenizer.json", field="treat_whitespace_as_suffix"
        )
    space = SPACE_SYMBOL if norm.escape_whitespaces else " "
    steps: list[dict[str, Any]] = []
    if norm.precompiled_charsmap:
        steps.append(
            {
                "type": "Precompiled",
                "precompiled_charsmap": base64.b64encode(norm.precompiled_charsmap).decode(),
            }
        )
    if norm.remove_extra_whitespaces:  # strip leading spaces, squeeze runs
        steps += [_replace({"Regex": r"\A +"}, ""), _replace({"Regex": " {2,}"}, " ")]
    if norm.add_dummy_prefix:
        steps.append({"type": "Prepend", "prepend": " "})
    if norm.escape_whitespaces:
        steps.append(_replace({"String": " "}, SPACE_SYMBOL))
    if norm.remove_extra_whitespaces:  # trailing spaces go after escaping, with any literal "▁"
        steps.append(_replace({"Regex": f"{space}+\\z"}, ""))
    decoder = [_replace({"String": SPACE_SYMBOL}, " "), {"type": "ByteFallback"}, {"type": "Fuse"}]
    if norm.add_dummy_prefix:
        decoder.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    kinds = {PieceType.UNKNOWN: True, PieceType.CONTROL: True, PieceType.USER_DEFINED: False}
    added = [
        added_token(i, p, special=kinds[t])
        for i, (p, t) in enumerate(zip(tok.pieces, tok.types, strict=True))
        if t in kinds
    ]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": steps}, "pre_tokenizer": None, "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": decoder},
        "model": {"type": "Unigram", "unk_id": tok.unk_id, "vocab": [[p, s] for p, s in zip(tok.pieces, tok.scores, strict=True)],
                  "byte_fallback": tok.byte_fallback},
    }  # fmt: skip


def _replace(pattern: dict[str, str], content: str) -> dict[str, Any]:
    return {"type": "Replace", "pattern": pattern, "content": content}


def unigram_from_hf_json(data: dict[str, Any], path: str | Path) -> HfUnigramTokenizer:
    """An :class:`HfUnigramTokenizer` from a parsed Unigram ``tokenizer.json`` (``path`` is for errors)."""
    model = data.get("model")
    if not isinstance(model, dict) or model.get("type") != "Unigram":
        kind = model.get("type") if isinstance(model, dict) else model
        raise TokenizerFormatError(path, f"expected a Unigram model, found {kind!r}", field="model.type")
    vocab = model.get("vocab")
    if not isinstance(vocab, list) or not vocab:
        raise TokenizerFormatError(path, "expected a non-empty list of [piece, score]", field="model.vocab")
    for i, entry in enumerate(vocab):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and entry[0]
                and isinstance(entry[1], int | float)):  # fmt: skip
            raise TokenizerFormatError(
                path, f"expected [piece, score], found {entry!r}", field=f"model.vocab[{i}]"
            )
    unk_id = model.get("unk_id")
    if not isinstance(unk_id, int) or not 0 <= unk_id < len(vocab):
        raise TokenizerFormatError(path, f"{unk_id!r} is not the id of a piece", field="model.unk_id")
    added = {}
    for i, token in enumerate(data.get("added_tokens") or []):
        if not (
            isinstance(token, dict)
            and isinstance(token.get("id"), int)
            and isinstance(token.get("content"), str)
        ):
            raise TokenizerFormatError(
                path, f"expected {{id, content, ...}}, found {token!r}", field=f"added_tokens[{i}]"
            )
        added[token["id"]] = token
    byte_fallback = bool(model.get("byte_fallback"))
    pieces = []
    for i, (piece, score) in enumerate(vocab):
        kind = PieceType.NORMAL
        if i == unk_id:
            kind = PieceType.UNKNOWN
        elif i in added:
            kind = PieceType.CONTROL if added[i].get("special") else PieceType.USER_DEFINED
        elif byte_fallback and len(piece) == 6 and regex.fullmatch(r"<0x[0-9A-F]{2}>", piece):
            kind = PieceType.BYTE
        pieces.append(SentencePiece(piece, float(score), kind))
    steps = flatten(data.get("normalizer"), "normalizer", path)
    charsmap = b""
    for step in steps:
        if step["type"] == "Precompiled":
            try:
                charsmap = base64.b64decode(step["precompiled_charsmap"], validate=True)
            except ValueError:
                raise TokenizerFormatError(
                    path, "is not valid base64", field="normalizer.precompiled_charsmap"
                ) from None
    spec = NormalizerSpec("precompiled" if charsmap else "identity", charsmap)
    proto = ModelProto(
        pieces, TrainerSpec(vocab_size=len(pieces), byte_fallback=byte_fallback, unk_id=unk_id), spec
    )
    return HfUnigramTokenizer(proto, data, path=path)
