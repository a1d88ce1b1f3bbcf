"""The C rank encoder gives tiktoken's ids, live, with the real gpt2 and cl100k ranks."""

from __future__ import annotations

import base64
import functools
import gzip
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("llmlab.tokenizers._fastbpe", reason="the C fast path is not built (no C compiler?)")
tiktoken = pytest.importorskip("tiktoken")

from llmlab.tokenizers import fast  # noqa: E402
from llmlab.tokenizers import fast_reference as ref  # noqa: E402
from test_tok_fast_pretok import TRICKY, varied_strings  # noqa: E402

RANK_FILES = {"gpt2": ("gpt2-ranks", "gpt2.tiktoken"), "cl100k": ("cl100k-ranks", "cl100k_base.tiktoken.gz")}


@functools.cache
def load_ranks(path: Path) -> dict[bytes, int]:
    """A .tiktoken file (base64 token, space, rank per line; maybe gzipped) as a dict."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }


def both_encoders(real_assets, pattern: str) -> tuple[fast.RankEncoder, tiktoken.Encoding, dict[bytes, int]]:
    asset, filename = RANK_FILES[pattern]
    [folder] = real_assets(asset)
    ranks = load_ranks(folder / filename)
    theirs = tiktoken.Encoding(
        name=pattern, pat_str=ref.PATTERNS[pattern], mergeable_ranks=ranks, special_tokens={}
    )
    return fast.RankEncoder(ranks, pattern), theirs, ranks


def long_pieces(seed: int) -> list[str]:
    """Pieces past the short-piece limit (128 bytes), which take the heap version."""
    rng = random.Random(seed)
    blob = base64.b64encode(rng.randbytes(20000)).decode()
    return [
        "a" * 5000,
        "1" * 3001,
        " " * 4000,
        "ab" * 3000,
        "é" * 2000,
        blob,
        "x" * 129,
        "\n" * 300,
        "!?" * 700,
    ]


@pytest.mark.parametrize("pattern", ["gpt2", "cl100k"])
def test_ids_equal_tiktoken_on_varied_strings(real_assets, pattern: str) -> None:
    ours, theirs, _ = both_encoders(real_assets, pattern)
    strings = varied_strings(3000, seed=10) + long_pieces(seed=11)
    assert [ours.encode(s) for s in strings] == [theirs.encode_ordinary(s) for s in strings]
    text = "".join(strings)  # one long text: exercises the piece cache and its restart
    assert ours.encode(text) == theirs.encode_ordinary(text)


@pytest.mark.parametrize("pattern", ["gpt2", "cl100k"])
def test_encode_piece_equals_the_reference(real_assets, pattern: str) -> None:
    ours, _, ranks = both_encoders(real_assets, pattern)
    pieces = [p.encode() for s in varied_strings(300, seed=12) for p in ref.split(s, pattern)]
    pieces += [s.encode() for s in long_pieces(seed=13)[-3:]]
    assert [ours.encode_piece(p) for p in pieces] == [ref.encode_piece(ranks, p) for p in pieces]


def test_decode_bytes_round_trips(real_assets) -> None:
    ours, _, _ = both_encoders(real_assets, "cl100k")
    for text in varied_strings(200, seed=14):
        assert ours.decode_bytes(ours.encode(text)).decode() == text


@settings(max_examples=60, deadline=None)
@given(
    corpus=st.lists(st.text(alphabet=st.sampled_from(TRICKY), max_size=30), min_size=1, max_size=20),
    text=st.text(alphabet=st.sampled_from(TRICKY), max_size=200),
    num_merges=st.integers(0, 60),
)
def test_ranks_trained_here_encode_like_tiktoken(corpus: list[str], text: str, num_merges: int) -> None:
    """Small rank tables made by the fast trainer: all three encoders agree."""
    counts = ref.count_pieces(" ".join(corpus), "gpt2")
    tokens = fast.merges_to_tokens(fast.train_merges(counts, num_merges))
    if len(set(tokens)) < len(tokens):
        return  # two symbols with the same bytes cannot both be a rank (see merge_order_key)
    ranks = {token: rank for rank, token in enumerate(tokens)}
    theirs = tiktoken.Encoding(
        name="tiny", pat_str=ref.GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={}
    )
    ours = fast.RankEncoder(ranks, "gpt2")
    assert ours.encode(text) == theirs.encode_ordinary(text) == ref.encode(ranks, text, "gpt2")


def test_bad_rank_tables_and_missing_bytes() -> None:
    with pytest.raises(TypeError, match=r"^rank table keys must be non-empty bytes, got 'a'$"):
        fast.RankEncoder({"a": 0})
    with pytest.raises(ValueError, match=r"^rank of b'a' must be an int in \[0, 2147483647\], got -1$"):
        fast.RankEncoder({b"a": -1})
    encoder = fast.RankEncoder({b"a": 0, b"b": 1, b"ab": 2})
    assert encoder.encode("abba") == [2, 1, 0]
    with pytest.raises(
        ValueError,
        match=r"^the rank table has no token for b'c' \(byte-level BPE needs all 256 single bytes\)$",
    ):
        encoder.encode("abc")
