"""HF ``tokenizer.json`` for WordPiece models (BERT, MiniLM, ...): read it and write it.

Unlike ``vocab.txt``, which holds only the vocabulary, ``tokenizer.json`` spells out the whole
pipeline, one JSON object per stage. llmlab reads the stages BERT uses and refuses anything
else, naming the field:

* ``normalizer``: ``BertNormalizer`` (its four switches), or ``null`` for none;
* ``pre_tokenizer``: ``BertPreTokenizer``;
* ``model``: ``WordPiece`` (``vocab``, ``unk_token``, ``continuing_subword_prefix``,
  ``max_input_chars_per_word``);
* ``post_processor``: ``TemplateProcessing`` with BERT's template, or ``BertProcessing``;
* ``decoder``: ``WordPiece`` with the model's prefix;
* ``added_tokens``: special tokens that are already in the vocabulary, matched as written.

``truncation`` and ``padding`` are per-call choices in llmlab (``encode_for_model``'s
``max_length`` and ``padding``), so the file's values are not applied.
:func:`wordpiece_to_hf_json` writes the same layout, which ``tokenizers.Tokenizer.from_str`` loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.bert_normalizer import BertNormalizer
from llmlab.tokenizers.formats.hf_common import added_special_tokens
from llmlab.tokenizers.wordpiece import WordPieceTokenizer

_FLAGS = ("single_word", "lstrip", "rstrip", "normalized")


def load_hf_wordpiece(path: str | Path) -> WordPieceTokenizer:
    """Read a WordPiece ``tokenizer.json`` file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TokenizerFormatError(path, f"not valid JSON ({e.msg})", line=e.lineno) from None
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerFormatError(path, f"cannot read the file ({e})") from None
    return wordpiece_from_hf_json(data, path)


def wordpiece_from_hf_json(data: dict[str, Any], path: str | Path) -> WordPieceTokenizer:
    """Build the tokenizer a parsed ``tokenizer.json`` describes; ``path`` is only for messages."""

    def need(obj: Any, key: str, kind: type | tuple[type, ...], field: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise TokenizerFormatError(path, "missing", field=field)
        value = obj[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TokenizerFormatError(
                path, f"expected {_kind_name(kind)}, found {json.dumps(value)[:40]}", field=field
            )
        return value

    def expect_type(obj: Any, field: str, wanted: str) -> None:
        found = need(obj, "type", str, f"{field}.type")
        if found != wanted:
            raise TokenizerFormatError(
                path, f"expected {wanted!r}, found {found!r} (not supported)", field=f"{field}.type"
            )

    if not isinstance(data, dict):
        raise TokenizerFormatError(path, "the top level must be a JSON object")
    # 1. The model: the vocabulary and WordPiece's three settings.
    model = need(data, "model", dict, "model")
    expect_type(model, "model", "WordPiece")
    vocab = need(model, "vocab", dict, "model.vocab")
    for token, token_id in vocab.items():
        if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id < 0:
            raise TokenizerFormatError(path, f"id must be an integer >= 0, found {json.dumps(token_id)}",
                                       field=f"model.vocab[{token!r}]")  # fmt: skip
    if len(set(vocab.values())) != len(vocab):
        raise TokenizerFormatError(path, "two tokens share an id", field="model.vocab")
    unk = need(model, "unk_token", str, "model.unk_token")
    if unk not in vocab:
        raise TokenizerFormatError(path, f"{unk!r} is not in model.vocab", field="model.unk_token")
    prefix = need(model, "continuing_subword_prefix", str, "model.continuing_subword_prefix")
    max_chars = need(model, "max_input_chars_per_word", int, "model.max_input_chars_per_word")

    # 2. The stages around it.
    normalizer = BertNormalizer(False, False, False, False)
    if data.get("normalizer") is not None:
        expect_type(data["normalizer"], "normalizer", "BertNormalizer")
        n = data["normalizer"]
        strip = n.get("strip_accents")
        if strip is not None and not isinstance(strip, bool):
            raise TokenizerFormatError(path, "expected true, false or null", field="normalizer.strip_accents")
        normalizer = BertNormalizer(
            clean_text=need(n, "clean_text", bool, "normalizer.clean_text"),
            handle_chinese_chars=need(n, "handle_chinese_chars", bool, "normalizer.handle_chinese_chars"),
            strip_accents=strip,
            lowercase=need(n, "lowercase", bool, "normalizer.lowercase"),
        )
    expect_type(data.get("pre_tokenizer"), "pre_tokenizer", "BertPreTokenizer")
    _check_post_processor(data.get("post_processor"), vocab, path, need)
    decoder = data.get("decoder")
    expect_type(decoder, "decoder", "WordPiece")
    if need(decoder, "prefix", str, "decoder.prefix") != prefix:
        raise TokenizerFormatError(path, "must equal model.continuing_subword_prefix", field="decoder.prefix")

    # 3. Special tokens: HF's added tokens, which must be vocabulary entries with the same id.
    specials = []
    for i, added in enumerate(need(data, "added_tokens", list, "added_tokens")):
        field = f"added_tokens[{i}]"
        content = need(added, "content", str, f"{field}.content")
        if vocab.get(content) != need(added, "id", int, f"{field}.id"):
            raise TokenizerFormatError(
                path, f"{content!r} must be in model.vocab with this id", field=f"{field}.id"
            )
        if not need(added, "special", bool, f"{field}.special"):
            raise TokenizerFormatError(
                path, "non-special added tokens are not supported", field=f"{field}.special"
            )
        for flag in _FLAGS:
            if added.get(flag, False):
                raise TokenizerFormatError(path, "only false is supported", field=f"{field}.{flag}")
        specials.append(content)
    return WordPieceTokenizer(
        vocab,
        normalizer=normalizer,
        unk_token=unk,
        continuing_subword_prefix=prefix,
        max_input_chars_per_word=max_chars,
        special_tokens=specials,
        cleanup=need(decoder, "cleanup", bool, "decoder.cleanup"),
    )


def _check_post_processor(post: Any, vocab: dict[str, int], path: str | Path, need: Any) -> None:
    """Accept only BERT's framing, ``[CLS] $A [SEP]`` / ``[CLS] $A [SEP] $B:1 [SEP]:1``."""
    kind = need(post, "type", str, "post_processor.type")
    if kind == "BertProcessing":
        for name, token in (("cls", "[CLS]"), ("sep", "[SEP]")):
            if need(post, name, list, f"post_processor.{name}") != [token, vocab.get(token)]:
                raise TokenizerFormatError(
                    path, f"expected [{token!r}, its vocab id]", field=f"post_processor.{name}"
                )
        return
    if kind != "TemplateProcessing":
        raise TokenizerFormatError(path, f"expected 'TemplateProcessing' or 'BertProcessing', found {kind!r}",
                                   field="post_processor.type")  # fmt: skip
    template = _bert_template()
    for part in ("single", "pair"):
        if need(post, part, list, f"post_processor.{part}") != template[part]:
            raise TokenizerFormatError(
                path, "only BERT's template is supported", field=f"post_processor.{part}"
            )
    for token, entry in need(post, "special_tokens", dict, "post_processor.special_tokens").items():
        if not isinstance(entry, dict) or entry.get("ids") != [vocab.get(token)]:
            raise TokenizerFormatError(path, "ids must be the token's vocab id",
                                       field=f"post_processor.special_tokens[{token!r}]")  # fmt: skip


def _bert_template() -> dict[str, list[dict[str, Any]]]:
    def special(token: str, type_id: int) -> dict[str, Any]:
        return {"SpecialToken": {"id": token, "type_id": type_id}}

    def sequence(name: str, type_id: int) -> dict[str, Any]:
        return {"Sequence": {"id": name, "type_id": type_id}}

    single = [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)]
    return {"single": single, "pair": [*single, sequence("B", 1), special("[SEP]", 1)]}


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer", bool: "true or false"}
    return " or ".join(names[k] for k in (kind if isinstance(kind, tuple) else (kind,)))


def wordpiece_to_hf_json(tok: WordPieceTokenizer) -> dict[str, Any]:
    """The ``tokenizer.json`` content for ``tok`` (dump it with ``json.dumps``)."""
    n = tok.normalizer
    template = _bert_template()
    framing = {
        t: {"id": t, "ids": [tok.vocab[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]") if t in tok.vocab
    }
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_special_tokens(tok.special_tokens),
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": n.clean_text,
            "handle_chinese_chars": n.handle_chinese_chars,
            "strip_accents": n.strip_accents,
            "lowercase": n.lowercase,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing", **template, "special_tokens": framing},
        "decoder": {"type": "WordPiece", "prefix": tok.prefix, "cleanup": tok.cleanup},
        "model": {
            "type": "WordPiece",
            "unk_token": tok.unk_token,
            "continuing_subword_prefix": tok.prefix,
            "max_input_chars_per_word": tok.max_input_chars_per_word,
            "vocab": dict(sorted(tok.vocab.items(), key=lambda item: item[1])),
        },
    }
