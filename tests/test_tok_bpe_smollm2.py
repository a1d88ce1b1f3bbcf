"""SmolLM2's tokenizer (from its GGUF) against Hugging Face ``tokenizers``, live.

The twin is built the way SmolLM2's ``tokenizer.json`` is: a BPE model over the GGUF's tokens
and merges (read with the ``gguf`` package, not our reader), ``unk_token`` from
``tokenizer.ggml.unknown_token_id``, the control tokens as special added tokens, and the
pre-tokenizer ``Sequence([Digits(individual_digits=True), ByteLevel(use_regex=True)])``,
which llama.cpp names ``smollm`` (the file's ``tokenizer.ggml.pre``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from llmlab.tokenizers.bpe_regex import SMOLLM2_PATTERN
from llmlab.tokenizers.pretrained import PRETRAINED, load_pretrained
from test_tok_bpe_tiktoken import varied_bytes, varied_strings

Need = Callable[..., list[Path]]


@cache
def hf_twin(path: Path) -> tuple[Tokenizer, dict]:
    fields = GGUFReader(path).fields
    meta = {k: fields[k].contents() for k in fields if k.startswith("tokenizer.")}
    tokens = meta["tokenizer.ggml.tokens"]
    model = models.BPE(
        {t: i for i, t in enumerate(tokens)},
        [tuple(m.split(" ")) for m in meta["tokenizer.ggml.merges"]],
        unk_token=tokens[meta["tokenizer.ggml.unknown_token_id"]],
    )
    hf = Tokenizer(model)
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    hf.decoder = decoders.ByteLevel()
    control = [t for t, kind in zip(tokens, meta["tokenizer.ggml.token_type"], strict=True) if kind == 3]
    hf.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    return hf, meta


@pytest.fixture
def pair(real_assets: Need) -> tuple:
    [folder] = real_assets("smollm2-135m-instruct")
    return load_pretrained("smollm2"), *hf_twin(folder / PRETRAINED["smollm2"].file)


def test_gguf_names_the_smollm_pre_tokenizer(pair: tuple) -> None:
    ours, _, meta = pair
    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "smollm"
    assert ours.pattern == SMOLLM2_PATTERN and ours.vocab_size == len(meta["tokenizer.ggml.tokens"]) == 49152
    assert ours.special_tokens["<|im_start|>"] == 1 and ours.special_tokens["<|im_end|>"] == 2
    assert len(ours.special_tokens) == 17


def test_ids_match_hf_on_varied_strings(pair: tuple) -> None:
    ours, hf, _ = pair
    for text in varied_strings(5000, seed=3):
        assert ours.encode(text, allowed_special="all") == hf.encode(text, add_special_tokens=False).ids, (
            repr(text)
        )
    for data in varied_bytes(300, seed=3):  # text with U+FFFD where bytes were invalid
        text = data.decode("utf-8", errors="replace")
        assert ours.encode(text, allowed_special="all") == hf.encode(text, add_special_tokens=False).ids


def test_ids_and_text_match_hf_on_real_text(pair: tuple, real_assets: Need) -> None:
    ours, hf, _ = pair
    [wiki] = real_assets("wiki100")
    text = (
        wiki / "wiki100" / "Arithmetic.txt"
    ).read_text() + "\n<|im_start|>user\nWhat is 12+30?<|im_end|>\n"
    ids = ours.encode(text, allowed_special="all")
    assert ids == hf.encode(text, add_special_tokens=False).ids
    assert ours.decode(ids) == hf.decode(ids, skip_special_tokens=False) == text


def test_bytes_without_a_token_become_unk_like_hf(pair: tuple) -> None:
    ours, hf, _ = pair
    text = "a\x04b\x06\x13"  # SmolLM2 has no token for these control bytes
    assert ours.encode(text) == hf.encode(text, add_special_tokens=False).ids == [81, 0, 82, 0, 0]
