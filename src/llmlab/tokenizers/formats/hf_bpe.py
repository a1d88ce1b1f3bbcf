"""Hugging Face ``tokenizer.json`` for byte-level BPE (GPT-2, SmolLM2, Llama 3 style), both ways.

A ``tokenizer.json`` describes a pipeline: ``normalizer`` -> ``pre_tokenizer`` -> ``model`` ->
``post_processor``, plus ``decoder`` and ``added_tokens``. For byte-level BPE:

* ``model``: ``{"type": "BPE", "vocab": {"Ġthe": 262, ...}, "merges": [["Ġ", "t"], ...]}``
  (older files write a merge as the string ``"Ġ t"``), tokens in the alphabet of
  ``byte_level.py``;
* ``pre_tokenizer``: ``ByteLevel`` with ``use_regex`` (the GPT-2 regex); or a ``Sequence`` of
  ``Digits(individual_digits)`` and ``ByteLevel`` (SmolLM2); or of ``Split`` with a regex and
  ``ByteLevel`` without one (Llama 3, and our export of cl100k/o200k-style patterns);
* ``added_tokens``: matched in the text before anything else; they become our special tokens.

Hugging Face merges by the merge list, we by the rank of the concatenation (``bpe_regex.py``):
the two agree when ids rise in merge order and each token is a byte or a merge result, which
loading checks. Anything else raises :class:`TokenizerFormatError` naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import regex

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer, TokenizerFormatError
from llmlab.tokenizers.bpe_regex import CL100K_PATTERN, GPT2_PATTERN, SMOLLM2_PATTERN, RegexBPE
from llmlab.tokenizers.byte_level import str_to_token, token_to_str
from llmlab.tokenizers.formats.hf_common import added_special_tokens

_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
_DIGITS = {"type": "Digits", "individual_digits": True}

# subtle: HF's regex engine (Oniguruma) reads "{1,3}+" as "({1,3})+", one or more groups of up
# to three digits, not as a possessive count. At the end of cl100k's alternative possessive
# and greedy match the same, so the file spells it without the "+" (and we read it back).
_HF_SPELLING = {CL100K_PATTERN: CL100K_PATTERN.replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")}
_FROM_HF_SPELLING = {v: k for k, v in _HF_SPELLING.items()}


def bpe_from_hf_json(data: dict, path: str | Path) -> Tokenizer:
    """A :class:`RegexBPE` from a parsed byte-level BPE ``tokenizer.json`` (``path`` is for errors)."""

    def fail(field: str, problem: str) -> TokenizerFormatError:
        return TokenizerFormatError(path, problem, field=field)

    model = data.get("model")
    if not isinstance(model, dict) or model.get("type") != "BPE":
        raise fail("model.type", f"expected a BPE model, found {_type_of(model)!r}")
    for key, off in (("dropout", None), ("continuing_subword_prefix", ""), ("end_of_word_suffix", "")):
        if model.get(key) not in (None, off, 0.0):
            raise fail(f"model.{key}", f"{model[key]!r} is not supported (byte-level BPE uses none)")
    if model.get("byte_fallback"):
        raise fail("model.byte_fallback", "byte fallback is a SentencePiece-style option, not byte-level BPE")
    if data.get("normalizer") is not None:
        raise fail("normalizer", f"normalizer {_type_of(data['normalizer'])!r} is not supported")
    pattern = _pattern_of(data.get("pre_tokenizer"), fail)
    specials = _added_tokens(data.get("added_tokens") or [], fail)
    return bpe_from_vocab_and_merges(
        model.get("vocab"),
        model.get("merges"),
        specials,
        pattern,
        path=path,
        unk_token=model.get("unk_token"),
    )


def bpe_from_vocab_and_merges(
    vocab: Any,
    merges: Any,
    specials: dict[str, int],
    pattern: str,
    *,
    path: str | Path,
    unk_token: str | None = None,
    vocab_field: str = "model.vocab",
    merges_field: str = "model.merges",
) -> RegexBPE:
    """A :class:`RegexBPE` from a byte-level vocabulary (token -> id) and merge list, checked.

    Shared by ``tokenizer.json`` and GGUF loading; ``*_field`` name the fields in errors.
    """

    def fail(field: str, problem: str) -> TokenizerFormatError:
        return TokenizerFormatError(path, problem, field=field)

    if not isinstance(vocab, dict):
        raise fail(vocab_field, "expected an object of token -> id")
    special_ids = set(specials.values())
    by_bytes: dict[bytes, int] = {}
    for token, token_id in vocab.items():
        if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id < 0:
            raise fail(f"{vocab_field}[{token!r}]", f"the id {token_id!r} is not a non-negative integer")
        if token_id in special_ids:
            continue
        try:
            by_bytes[str_to_token(token)] = token_id
        except KeyError as e:
            raise fail(
                f"{vocab_field}[{token!r}]", f"character {e.args[0]!r} is not in the byte-level alphabet"
            ) from None
    ranks = {t: i for t, i in by_bytes.items() if len(t) == 1}
    if not isinstance(merges, list):
        raise fail(merges_field, "expected a list of merges")
    previous, merge_list = -1, []
    for n, merge in enumerate(merges):
        field = f"{merges_field}[{n}]"
        parts = merge.split(" ") if isinstance(merge, str) else merge
        if not isinstance(parts, list) or len(parts) != 2 or not all(isinstance(p, str) and p for p in parts):
            raise fail(field, f"expected two tokens, found {merge!r}")
        try:
            left, right = str_to_token(parts[0]), str_to_token(parts[1])
        except KeyError as e:
            raise fail(field, f"character {e.args[0]!r} is not in the byte-level alphabet") from None
        if left not in ranks or right not in ranks:
            raise fail(field, f"{merge!r} uses a token that is neither a byte nor made by an earlier merge")
        merged_id = by_bytes.get(left + right)
        if merged_id is None:
            raise fail(
                field, f"the merge makes {token_to_str(left + right)!r}, which is not in {vocab_field}"
            )
        merge_list.append((left, right))
        if left + right in ranks:
            continue  # a second merge making the same token
        if merged_id <= previous:
            raise fail(field, f"the merge makes id {merged_id}, not above the previous merge's id {previous}")
        previous = ranks[left + right] = merged_id
    orphans = [t for t in by_bytes if t not in ranks]
    if orphans:
        raise fail(
            f"{vocab_field}[{token_to_str(orphans[0])!r}]", "the token is neither a byte nor made by a merge"
        )
    unk_id = None if unk_token is None else vocab.get(unk_token)
    if unk_token is not None and unk_id is None:
        raise fail("model.unk_token", f"{unk_token!r} is not in {vocab_field}")
    return RegexBPE(ranks, pattern, specials, name=Path(path).name, unk_id=unk_id, merges=merge_list)


def bpe_to_hf_json(tok: RegexBPE) -> dict[str, Any]:
    """``tok`` as a ``tokenizer.json`` dict that Hugging Face ``tokenizers`` loads to the same ids."""
    if tok.pattern == GPT2_PATTERN:
        pre_tokenizer: dict[str, Any] = dict(_BYTE_LEVEL)
    elif tok.pattern == SMOLLM2_PATTERN:
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [_DIGITS, _BYTE_LEVEL]}
    else:
        pattern = _HF_SPELLING.get(tok.pattern, tok.pattern)
        if regex.search(r"\{\d+(,\d*)?\}\+", pattern):
            raise LLMLabError(
                f"the pattern of {tok.name} has a possessive count {{n,m}}+, which HF's regex engine reads differently"
            )
        split = {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [split, {**_BYTE_LEVEL, "use_regex": False}]}
    vocab = {token_to_str(t): i for t, i in sorted(tok.ranks.items(), key=lambda kv: kv[1])}
    vocab.update(tok.special_tokens)  # HF's files list added tokens in the model's vocab too
    added = added_special_tokens(tok.special_tokens)
    unk = None if tok.unk_id is None else tok.id_to_token(tok.unk_id)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": None,
        "decoder": {**_BYTE_LEVEL, "add_prefix_space": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": unk,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [[token_to_str(a), token_to_str(b)] for a, b in tok.merges],
        },
    }


def _pattern_of(pre: Any, fail: Any) -> str:
    """The regex that does the same split as the ``pre_tokenizer`` entry."""
    if _is_byte_level(pre, use_regex=True):
        return GPT2_PATTERN
    steps = pre.get("pretokenizers") if isinstance(pre, dict) and pre.get("type") == "Sequence" else None
    if isinstance(steps, list) and len(steps) == 2 and all(isinstance(step, dict) for step in steps):
        first, second = steps
        if first == _DIGITS and _is_byte_level(second, use_regex=True):
            return SMOLLM2_PATTERN
        spec = first.get("pattern")
        split = spec.get("Regex") if isinstance(spec, dict) else None
        if (
            first.get("type") == "Split" and isinstance(split, str) and first.get("behavior") == "Isolated"
            and not first.get("invert") and _is_byte_level(second, use_regex=False)
        ):  # fmt: skip
            try:
                regex.compile(split)
            except regex.error as e:
                raise fail(
                    "pre_tokenizer.pretokenizers[0].pattern", f"the regex does not compile: {e}"
                ) from None
            return _FROM_HF_SPELLING.get(split, split)
    raise fail(
        "pre_tokenizer",
        f"{_type_of(pre)!r} is not a supported byte-level split (ByteLevel with use_regex, "
        "Digits + ByteLevel, or Split + ByteLevel, all without add_prefix_space)",
    )


def _is_byte_level(step: Any, *, use_regex: bool) -> bool:
    return (
        isinstance(step, dict) and step.get("type") == "ByteLevel" and not step.get("add_prefix_space")
        and step.get("use_regex", True) == use_regex
    )  # fmt: skip


def _added_tokens(entries: Any, fail: Any) -> dict[str, int]:
    if not isinstance(entries, list):
        raise fail("added_tokens", "expected a list")
    specials = {}
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str) or not entry["content"]:
            raise fail(f"added_tokens[{n}].content", "expected a non-empty string")
        token_id = entry.get("id")
        if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id < 0:
            raise fail(f"added_tokens[{n}].id", f"the id {token_id!r} is not a non-negative integer")
        specials[entry["content"]] = token_id
    return specials


def _type_of(entry: Any) -> Any:
    return entry.get("type") if isinstance(entry, dict) else entry
