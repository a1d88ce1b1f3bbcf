"""Byte-level BPE ``tokenizer.json``: our export loads in HF ``tokenizers`` with the same ids, and back.

Checked live with ``tokenizers.Tokenizer.from_str`` for every kind of split we write
(``ByteLevel`` regex, ``Digits`` + ``ByteLevel``, ``Split`` + ``ByteLevel``), on tokenizers we
train and on GPT-2's; an HF-written ``tokenizer.json`` (SmolLM2's, rebuilt from the GGUF) is
read back to the same tokenizer as the GGUF loader's. Malformed fields raise one-line errors.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from llmlab.errors import LLMLabError
from llmlab.tokenizers import TokenizerFormatError
from llmlab.tokenizers.bpe_regex import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN, SMOLLM2_PATTERN, RegexBPE
from llmlab.tokenizers.formats.hf_bpe import bpe_from_hf_json, bpe_to_hf_json
from llmlab.tokenizers.pretrained import PRETRAINED, load_pretrained
from llmlab.tokenizers.train_bpe import train_bpe
from test_tok_bpe_smollm2 import hf_twin
from test_tok_bpe_tiktoken import varied_strings

Need = Callable[..., list[Path]]
EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def wiki_lines() -> list[str]:
    from conftest import REAL_HOME

    folder = REAL_HOME / "assets" / "wiki100" / "wiki100"
    if not folder.is_dir():
        pytest.skip("real asset 'wiki100' is not pulled: run `llmlab assets pull wiki100`")
    return "".join(p.read_text() for p in sorted(folder.glob("*.txt"))[:4]).splitlines(True)


def same_ids(ours: RegexBPE, hf: Tokenizer, texts: list[str]) -> None:
    """Same ids, and (for text without special tokens) the same character offsets: a token
    holding part of a character's bytes covers that whole character in both."""
    for text in texts:
        encoding = hf.encode(text)
        assert ours.encode(text, allowed_special="all") == encoding.ids, repr(text)
        if "<|" not in text:
            assert ours.encode_with_offsets(text) == [
                (i, *span) for i, span in zip(encoding.ids, encoding.offsets, strict=True)
            ]
    ids = ours.encode(texts[0], allowed_special="all")
    assert hf.decode(ids, skip_special_tokens=False) == ours.decode(ids)


@pytest.mark.parametrize(
    "pattern",
    [GPT2_PATTERN, CL100K_PATTERN, O200K_PATTERN, SMOLLM2_PATTERN],
    ids=["gpt2", "cl100k", "o200k", "smollm2"],
)
def test_trained_tokenizer_exports_to_hf(wiki_lines: list[str], pattern: str) -> None:
    ours = train_bpe(wiki_lines, 1200, pattern=pattern, special_tokens=[EOT], show_progress=False)
    data = bpe_to_hf_json(ours)
    hf = Tokenizer.from_str(json.dumps(data))
    same_ids(ours, hf, [*varied_strings(1000, seed=5), *wiki_lines[:300]])
    back = bpe_from_hf_json(json.loads(hf.to_str()), "exported.json")  # as HF writes it
    assert (back.ranks, back.special_tokens, back.pattern) == (ours.ranks, ours.special_tokens, ours.pattern)


def test_gpt2_exports_to_hf(real_assets: Need) -> None:
    real_assets("gpt2-ranks")
    ours = load_pretrained("gpt2")
    hf = Tokenizer.from_str(json.dumps(bpe_to_hf_json(ours)))
    same_ids(ours, hf, varied_strings(2000, seed=6))


def test_hf_written_smollm2_json_reads_like_the_gguf(real_assets: Need) -> None:
    [folder] = real_assets("smollm2-135m-instruct")
    hf, _ = hf_twin(folder / PRETRAINED["smollm2"].file)
    from_json = bpe_from_hf_json(json.loads(hf.to_str()), "tokenizer.json")
    from_gguf = load_pretrained("smollm2")
    assert from_json.ranks == from_gguf.ranks and from_json.special_tokens == from_gguf.special_tokens
    assert from_json.pattern == SMOLLM2_PATTERN and from_json.unk_id == from_gguf.unk_id == 0


def tiny() -> dict:
    """A valid byte-level tokenizer.json with 256 bytes, two merges and one special token."""
    tok = train_bpe(["abab abab abab"], 259, special_tokens=[EOT], show_progress=False)
    return bpe_to_hf_json(tok)


def broken(change: Callable[[dict], object]) -> dict:
    data = copy.deepcopy(tiny())
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d["model"].update(type="WordPiece"), "model.type", "expected a BPE model, found 'WordPiece'"),
        (lambda d: d.pop("model"), "model.type", "expected a BPE model, found None"),
        (lambda d: d["model"].update(vocab=[]), "model.vocab", "expected an object of token -> id"),
        (lambda d: d["model"]["vocab"].update({"\u4e00": 300}), "model.vocab['\u4e00']", "character '\u4e00' is not in the byte-level alphabet"),
        (lambda d: d["model"]["vocab"].update({"ab": "x"}), "model.vocab['ab']", "the id 'x' is not a non-negative integer"),
        (lambda d: d["model"]["vocab"].update({"zz": 300}), "model.vocab['zz']", "the token is neither a byte nor made by a merge"),
        (lambda d: d["model"].update(merges="a b"), "model.merges", "expected a list of merges"),
        (lambda d: d["model"]["merges"].append(["a"]), "model.merges[2]", "expected two tokens, found ['a']"),
        (lambda d: d["model"]["merges"].append("x y"), "model.merges[2]", "the merge makes 'xy', which is not in model.vocab"),
        (lambda d: d["model"]["merges"].append(["xy", "z"]), "model.merges[2]", "['xy', 'z'] uses a token that is neither a byte nor made by an earlier merge"),
        (lambda d: d["model"]["merges"].reverse(), "model.merges[0]", "['ab', 'ab'] uses a token that is neither a byte nor made by an earlier merge"),
        (lambda d: d["model"].update(continuing_subword_prefix="##"), "model.continuing_subword_prefix", "'##' is not supported (byte-level BPE uses none)"),
        (lambda d: d["model"].update(byte_fallback=True), "model.byte_fallback", "byte fallback is a SentencePiece-style option, not byte-level BPE"),
        (lambda d: d["model"].update(unk_token="<unk>"), "model.unk_token", "'<unk>' is not in model.vocab"),
        (lambda d: d.update(normalizer={"type": "NFC"}), "normalizer", "normalizer 'NFC' is not supported"),
        (lambda d: d.update(pre_tokenizer={"type": "Whitespace"}), "pre_tokenizer",
         "'Whitespace' is not a supported byte-level split (ByteLevel with use_regex, Digits + ByteLevel, or Split + ByteLevel, all without add_prefix_space)"),
        (lambda d: d["pre_tokenizer"].update(add_prefix_space=True), "pre_tokenizer", "'ByteLevel' is not a supported byte-level split"),
        (lambda d: d.update(added_tokens=[{"id": "1", "content": EOT}]), "added_tokens[0].id", "the id '1' is not a non-negative integer"),
        (lambda d: d.update(added_tokens=[{"id": 1}]), "added_tokens[0].content", "expected a non-empty string"),
    ],
)  # fmt: skip
def test_malformed_tokenizer_json(change: Callable[[dict], object], field: str, message: str) -> None:
    with pytest.raises(TokenizerFormatError) as e:
        bpe_from_hf_json(broken(change), "tok/tokenizer.json")
    assert str(e.value).startswith(f"tok/tokenizer.json, field {field}: {message}")
    assert "\n" not in str(e.value)


def test_bad_split_regex() -> None:
    split = {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": False}
    data = broken(
        lambda d: d.update(
            pre_tokenizer={
                "type": "Sequence",
                "pretokenizers": [split, {"type": "ByteLevel", "use_regex": False}],
            }
        )
    )
    with pytest.raises(
        TokenizerFormatError,
        match=r"^t\.json, field pre_tokenizer\.pretokenizers\[0\]\.pattern: the regex does not compile: ",
    ):
        bpe_from_hf_json(data, "t.json")


def test_export_refuses_a_pattern_hf_would_read_differently() -> None:
    tok = train_bpe(["ab 1234 ab"], 258, pattern=r"\p{N}{1,3}+|\p{L}+|\s+|.", show_progress=False)
    with pytest.raises(
        LLMLabError, match=r"possessive count \{n,m\}\+, which HF's regex engine reads differently$"
    ):
        bpe_to_hf_json(tok)


def test_smollm2_exports_to_hf_with_its_unknown_token(real_assets: Need) -> None:
    real_assets("smollm2-135m-instruct")
    ours = load_pretrained("smollm2")
    hf = Tokenizer.from_str(json.dumps(bpe_to_hf_json(ours)))
    same_ids(ours, hf, ["a\x04b\x06 has bytes without a token", *varied_strings(1000, seed=10)])
    assert hf.encode("a\x04").ids == ours.encode("a\x04") == [81, 0]
