"""Properties of every byte-level tokenizer, on arbitrary input (hypothesis).

* ``decode(encode(x)) == x`` for any text, ``decode_bytes(encode_bytes(b)) == b`` for any bytes;
* ``encode_iterable(chunks)`` equals ``encode("".join(chunks))`` for the GPT-2, cl100k, o200k
  and SmolLM2 split patterns, however the text is cut (this is what proves ``safe_split``);
* nothing raises except our documented errors.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmlab.tokenizers import SpecialTokenError
from llmlab.tokenizers.bpe_basic import BasicBPE
from llmlab.tokenizers.bpe_regex import GPT2_PATTERN, SMOLLM2_PATTERN
from llmlab.tokenizers.chars import ByteTokenizer
from llmlab.tokenizers.pretrained import PRETRAINED, load_pretrained

Need = Callable[..., list[Path]]
BYTE_LEVEL = ["gpt2", "cl100k_base", "o200k_base"]
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)

# Characters that sit on the regexes' decision points: letters of each case and script,
# combining marks, digits of several kinds, apostrophes and contraction letters, every
# kind of whitespace, "/" (o200k), punctuation and the pieces of special tokens.
TRICKY = (
    "aAbZsStTdDmMlLrReEvV éÉßǅʰ中ひ한ก\u0301\u0308 019٣１² '’ \t\n\r\x0b\x0c\u00a0\u2028\u3000"
    ' /.,!?-_<|>()"#😀\u200d🏽 '
)
PIECES = ["<|endoftext|>", "<|endofprompt|>", "<|endof", "text|>", "'ll", "'re", "\r\n", "    "]
tricky_text = st.lists(st.sampled_from(list(TRICKY) + PIECES), max_size=40).map("".join)
# A few atoms, so that hypothesis meets each short combination often.
ATOMS = ["a", "A", "é", "\u0301", "1", " ", "\n", "\r", "\t", "/", ".", "'", "s", "😀", "<|endof", "text|>"]
any_text = st.one_of(st.text(max_size=80), tricky_text)
atom_text = st.lists(st.sampled_from(ATOMS), max_size=12).map("".join)
chunks = st.lists(st.one_of(tricky_text, atom_text, st.text(max_size=20)), max_size=8)


@pytest.fixture(scope="module")
def basic() -> BasicBPE:
    return BasicBPE.train(
        "the theme then there these thee \u00e9t\u00e9 \U0001f600\U0001f600 " * 20, vocab_size=300
    )


def load(real_assets: Need, name: str):  # type: ignore[no-untyped-def]
    real_assets(PRETRAINED[name].asset)
    return load_pretrained(name)


@pytest.mark.parametrize("name", BYTE_LEVEL)
@FIXTURE_OK
@given(text=any_text)
def test_regex_bpe_round_trip(real_assets: Need, name: str, text: str) -> None:
    tok = load(real_assets, name)
    assert tok.decode(tok.encode(text, disallowed_special=())) == text
    assert tok.decode(tok.encode(text, allowed_special="all")) == text
    try:
        tok.encode(text)
    except SpecialTokenError:
        assert any(s in text for s in tok.special_tokens)


@pytest.mark.parametrize("name", BYTE_LEVEL)
@FIXTURE_OK
@given(data=st.binary(max_size=80))
def test_regex_bpe_bytes_round_trip(real_assets: Need, name: str, data: bytes) -> None:
    tok = load(real_assets, name)
    assert tok.decode_bytes(tok.encode_bytes(data)) == data


@given(text=any_text)
@settings(deadline=None)
def test_basic_bpe_round_trip(basic: BasicBPE, text: str) -> None:
    assert basic.decode(basic.encode(text)) == text
    assert basic.decode_bytes(basic.encode_bytes(text.encode())) == text.encode()


@given(data=st.binary(max_size=100))
@settings(deadline=None)
def test_basic_bpe_bytes_round_trip(basic: BasicBPE, data: bytes) -> None:
    assert basic.decode_bytes(basic.encode_bytes(data)) == data


@given(text=any_text, data=st.binary(max_size=50))
def test_byte_tokenizer_round_trip(text: str, data: bytes) -> None:
    tok = ByteTokenizer(["<|endoftext|>"])
    assert tok.decode(tok.encode(text, disallowed_special=())) == text
    assert tok.decode(tok.encode(text, allowed_special="all")) == text
    assert tok.decode_bytes(tok.encode_bytes(data)) == data
    assert list(tok.encode_iterable([text, text], allowed_special="all")) == tok.encode(
        text + text, allowed_special="all"
    )


@pytest.mark.parametrize("name", [*BYTE_LEVEL, "smollm2"])
@FIXTURE_OK
@given(parts=chunks)
def test_encode_iterable_equals_encode(real_assets: Need, name: str, parts: list[str]) -> None:
    tok = load(real_assets, name)
    whole = "".join(parts)
    for policy in ({"allowed_special": "all"}, {"disallowed_special": ()}):
        assert list(tok.encode_iterable(parts, **policy)) == tok.encode(whole, **policy)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [*BYTE_LEVEL, "smollm2"])
@FIXTURE_OK
@given(text=tricky_text, cut=st.integers(0, 60))
def test_safe_split_cut_is_stable(real_assets: Need, name: str, text: str, cut: int) -> None:
    """Whatever follows the tail, head + tail encode as the whole (a sharper check than above)."""
    tok = load(real_assets, name)
    head, tail = tok.safe_split(text[:cut])
    assert head + tail == text[:cut]
    rest = tail + text[cut:]
    assert tok.encode(head, allowed_special="all") + tok.encode(rest, allowed_special="all") == tok.encode(
        text, allowed_special="all"
    )


@pytest.mark.parametrize("name", [*BYTE_LEVEL, "smollm2"])
def test_safe_split_exhaustive(real_assets: Need, name: str) -> None:
    """Every string of up to 4 atoms, cut at every point: a safe cut never changes the ids.
    (This finds, e.g., that o200k must not cut in "a.\\n/": its punctuation runs take "\\n/".)"""
    tok = load(real_assets, name)
    for k in range(1, 5):
        for combo in itertools.product(ATOMS, repeat=k):
            text = "".join(combo)
            for cut in range(1, len(text) + 1):
                head, _ = tok.safe_split(text[:cut])
                if head:
                    ids = tok.encode(head, allowed_special="all") + tok.encode(
                        text[len(head) :], allowed_special="all"
                    )
                    assert ids == tok.encode(text, allowed_special="all"), (text, head)


@given(text=st.one_of(tricky_text, st.text(max_size=60)))
def test_smollm2_pattern_is_digits_then_gpt2(text: str) -> None:
    """One regex does both Hugging Face stages: isolate each digit, then the GPT-2 regex."""
    two_stage = [
        p for chunk in regex.split(r"(\p{N})", text) if chunk for p in regex.findall(GPT2_PATTERN, chunk)
    ]
    assert regex.findall(SMOLLM2_PATTERN, text) == two_stage
