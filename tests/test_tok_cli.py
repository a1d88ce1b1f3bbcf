"""`llmlab tokenizer ...` as a user runs it: list, encode, compare, inspect, train (both paths)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmlab.cli.main import main
from llmlab.tokenizers import fast


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


CORPUS = "\n".join(
    f"The {w} of the {v} was {n} times better than the {v}s of old, said the {w}." for w in ("king", "queen", "fool")
    for v in ("castle", "garden", "river") for n in ("two", "three", "4", "55")
)  # fmt: skip


def test_list_names_every_tokenizer(capsys) -> None:
    code, out, _ = run(capsys, "tokenizer", "list")
    assert code == 0
    for name in ("gpt2", "cl100k_base", "o200k_base", "smollm2", "bert-base-uncased", "botchan-unigram"):
        assert name in out


def test_encode_shows_tokens_and_ids(real_assets, capsys) -> None:
    real_assets("gpt2-ranks")
    code, out, _ = run(capsys, "tokenizer", "encode", "Hello world", "--tokenizer", "gpt2")
    assert code == 0
    assert "Hello·world" in out
    assert "15496 995" in out
    assert "gpt2: 2 tokens, 11 characters, 11 bytes, 5.50 bytes/token" in out


def test_encode_special_token_policy(real_assets, capsys) -> None:
    real_assets("gpt2-ranks")
    _, as_text, _ = run(capsys, "tokenizer", "encode", "a<|endoftext|>", "-t", "gpt2")
    _, as_special, _ = run(capsys, "tokenizer", "encode", "a<|endoftext|>", "-t", "gpt2", "--allow-special")
    assert "50256" not in as_text and "64 50256" in as_special


def test_compare_counts_tokens_and_cost(real_assets, capsys) -> None:
    real_assets("gpt2-ranks", "bert-vocab")
    code, out, _ = run(
        capsys,
        "tokenizer",
        "compare",
        "Hello world",
        "--tokenizers",
        "gpt2,bert-base-uncased",
        "--price-per-1k",
        "2",
    )
    assert code == 0
    gpt2_row = next(line for line in out.splitlines() if "gpt2" in line)
    assert "│      2 │" in gpt2_row and "0.0040" in gpt2_row  # 2 tokens at 2 per 1K


def test_inspect_shows_merges_in_order(real_assets, capsys) -> None:
    real_assets("gpt2-ranks")
    code, out, _ = run(capsys, "tokenizer", "inspect", "gpt2", "--top", "3")
    assert code == 0
    assert "50,257 ids" in out
    assert "·t" in out  # GPT-2's first merge is " " + "t"


@pytest.mark.parametrize("algo", ["bpe", "wordpiece", "unigram"])
def test_train_writes_files_that_hf_tokenizers_loads(algo: str, tmp_path: Path, capsys) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS)
    out_dir = tmp_path / "tok"
    vocab = {"bpe": 300, "wordpiece": 120, "unigram": 120}[algo]
    code, out, err = run(
        capsys, "tokenizer", "train", "--algo", algo, "--file", str(corpus), "--vocab-size", str(vocab),
        "--out", str(out_dir), "--min-frequency", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "✓" in out
    from llmlab.tokenizers.registry import load_tokenizer

    ours = load_tokenizer(str(out_dir / "tokenizer.json"))
    theirs = tokenizers.Tokenizer.from_str((out_dir / "tokenizer.json").read_text())
    for line in CORPUS.splitlines()[:10] + ["An unseen sentence, with 12345 digits!"]:
        assert ours.encode(line) == theirs.encode(line, add_special_tokens=False).ids


@pytest.mark.skipif(not fast.available(), reason="the C extension is not built")
def test_train_fast_and_readable_write_the_same_tokenizer(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS * 3)
    for impl in ("readable", "fast"):
        code, _, err = run(
            capsys, "tokenizer", "train", "--file", str(corpus), "--vocab-size", "320", "--impl", impl,
            "--out", str(tmp_path / impl), "--name", "t",
        )  # fmt: skip
        assert code == 0, err
    a, b = (json.loads((tmp_path / i / "tokenizer.json").read_text()) for i in ("readable", "fast"))
    assert a["model"] == b["model"]
    assert (tmp_path / "readable" / "t.tiktoken").read_bytes() == (
        tmp_path / "fast" / "t.tiktoken"
    ).read_bytes()


def test_bad_inputs_are_one_line_errors(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "tokenizer", "encode", "hi", "--tokenizer", "gtp2")
    assert code == 1
    assert err.startswith("error: no tokenizer named 'gtp2' and no such file: did you mean gpt2?")
    code, _, err = run(capsys, "tokenizer", "train", "--algo", "nope", "--file", "x", "--out", str(tmp_path))
    assert (code, err) == (1, "error: unknown --algo 'nope': choose bpe, wordpiece or unigram\n")
    code, _, err = run(capsys, "tokenizer", "train", "--out", str(tmp_path))
    assert (code, err) == (1, "error: give a corpus with --data NAME or one or more --file PATH (not both)\n")
    code, _, err = run(capsys, "tokenizer", "encode", "--tokenizer", "gpt2")
    assert (code, err) == (
        1,
        "error: give the text as an argument or with --file, not both and not neither\n",
    )
    code, _, err = run(capsys, "tokenizer", "train", "--algo", "wordpiece", "--impl", "fast", "--file", "x",
                       "--out", str(tmp_path))  # fmt: skip
    assert (code, err) == (
        1,
        "error: the fast path covers byte-level BPE training only; use --impl readable\n",
    )
