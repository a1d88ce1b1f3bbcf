"""`llmlab compare-architectures`: four architectures, the same tokens, the same validation batches."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import random
from pathlib import Path

import matplotlib.image
import pytest

from llmlab.cli.compare import compare_command
from llmlab.cli.main import main
from llmlab.data.batches import RandomWindows
from llmlab.data.tokens import TokenFile
from llmlab.path import store
from llmlab.tokenizers.chars import ByteTokenizer
from llmlab.training.compare import ARCHS, CompareConfig, build_model, compare_architectures
from llmlab.training.compare_report import (
    ArchResult,
    CompareResult,
    CurvePoint,
    at_equal_tokens,
    load_results,
)

DEBUG = "rnn=rnn-debug,lstm=lstm-debug,gru=gru-debug,gpt=gpt2-debug"
SMALL = dict(seq_len=16, batch_size=4, evals=3, eval_batches=2, warmup=2, lr=3e-3)


def _corpus(folder: Path, lines: int = 300) -> Path:
    """Text with structure to learn: sentences of a few words, each word followed by likely ones."""
    rng = random.Random(0)
    words = "the king queen lord sword crown night day love death".split()
    text = "\n".join(" ".join(rng.choice(words) for _ in range(10)) + "." for _ in range(lines))
    path = folder / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[CompareResult, CompareConfig, Path]:
    """One comparison of the four debug models, 6 steps each, shared by the tests below."""
    folder = tmp_path_factory.mktemp("compare")
    with pytest.MonkeyPatch.context() as mp:  # module scope: set the private data home ourselves
        mp.setenv("LLMLAB_HOME", str(folder / "home"))
        cfg = CompareConfig(
            archs=DEBUG, corpus=str(_corpus(folder)), steps=6, out=str(folder / "out"), **SMALL
        )
        result = compare_architectures(cfg, tokenizer=ByteTokenizer(["<|endoftext|>"]), progress=False)
    return result, cfg, folder


def test_four_curves_rise_in_time_and_tokens_and_the_loss_falls(run) -> None:
    result, cfg, folder = run
    assert [a.arch for a in result.archs] == ["rnn", "lstm", "gru", "gpt"]
    for a in result.archs:
        seconds, tokens = [p.seconds for p in a.curve], [p.tokens for p in a.curve]
        assert len(a.curve) == cfg.evals + 1 and (seconds[0], tokens[0]) == (0.0, 0)
        assert seconds == sorted(set(seconds)) and tokens == sorted(set(tokens)), a.arch  # strictly rising
        assert a.steps == 6 and a.tokens == 6 * cfg.batch_size * cfg.seq_len == tokens[-1]
        assert a.curve[-1].val_loss < a.curve[0].val_loss, f"{a.arch} did not learn"
        assert a.val_loss == a.curve[-1].val_loss and a.tokens_per_s == pytest.approx(a.tokens / a.seconds)
        # every step went through train(): the trainer logged one line per step in the arch's run folder
        lines = (folder / "out" / a.arch / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(line)["step"] for line in lines] == list(range(1, 7))


def test_every_architecture_saw_the_same_validation_batches(run) -> None:
    result, cfg, folder = run
    # the batches rebuilt here from the token file, hashed with hashlib directly
    [tokens_dir] = (folder / "home" / "tokens").iterdir()
    windows = RandomWindows(TokenFile.open(tokens_dir).val, cfg.batch_size, cfg.seq_len, seed=cfg.seed + 1)
    h = hashlib.sha256()
    for _ in range(cfg.eval_batches):
        x, y = next(windows)
        h.update(x.numpy().tobytes() + y.numpy().tobytes())
    assert {a.val_fingerprint for a in result.archs} == {h.hexdigest()[:16]}


def test_png_report_and_results_json(run) -> None:
    result, cfg, folder = run
    png = folder / "out" / "compare.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = matplotlib.image.imread(png).shape
    assert width > 1000 and height > 400  # two panels side by side
    report = (folder / "out" / "report.md").read_text()
    assert "![validation loss](compare.png)" in report
    for a in result.archs:
        assert f"| {a.arch} | {a.preset} | {a.params:,} | 6 |" in report
    assert load_results(folder / "out" / "results.json") == result  # round trip, curves included
    broken = folder / "broken.json"
    broken.write_text('{"config": {}}')
    with pytest.raises(Exception, match="cannot read comparison results from .*broken.json"):
        load_results(broken)


def test_at_equal_tokens_interpolates_each_curve() -> None:
    def arch(name: str, points: list[tuple[int, float]]) -> ArchResult:
        curve = [CurvePoint(float(i), t, i, loss) for i, (t, loss) in enumerate(points)]
        t, loss = points[-1]
        return ArchResult(name, name, 1, 1, t, 1.0, 1.0, loss, 1.0, 1.0, "", None, curve)

    result = CompareResult(CompareConfig(), "bytes", 257, 1.0, 100, 10)
    result.archs = [arch("lstm", [(0, 8.0), (100, 6.0), (200, 5.0)]), arch("gpt", [(0, 8.0), (50, 7.5)])]
    assert at_equal_tokens(result) == (50, {"lstm": 7.0, "gpt": 7.5})


def test_the_cli_trains_the_quickstart_tokenizer_and_prints_the_table(tmp_path, capsys) -> None:
    corpus = _corpus(tmp_path, lines=150)
    args = ["compare-architectures", "--archs", "gru=gru-debug,gpt=gpt2-debug", "--corpus", str(corpus),
            "--steps", "3", "--seq-len", "16", "--batch-size", "2", "--evals", "2", "--eval-batches", "1",
            "--out", "cmp"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "[1/2] gru: gru-debug" in out and "[2/2] gpt: gpt2-debug" in out
    assert "per token:" in out and "cmp/compare.png" in out
    results = load_results(tmp_path / "cmp" / "results.json")
    assert (
        results.tokenizer == "corpus.txt-bpe-4k"
        and (tmp_path / "cmp" / "tokenizer" / "tokenizer.json").is_file()
    )
    assert [a.arch for a in results.archs] == ["gru", "gpt"] and all(a.steps == 3 for a in results.archs)
    with store.opened() as db:  # the run is recorded in the learning path (a private data home here)
        [run] = db.execute("SELECT lab, figures FROM runs").fetchall()
    figures = json.loads(run["figures"])
    assert run["lab"] == "compare-architectures" and figures["lowest"] in ("gru", "gpt")
    assert figures["gpt_val_loss"] == round(results.archs[1].val_loss, 4)


def test_the_cli_defaults_are_the_config_defaults() -> None:
    flags = {name: p.default for name, p in inspect.signature(compare_command).parameters.items()}
    fields = {f.name: f.default for f in dataclasses.fields(CompareConfig)}
    assert flags.keys() == fields.keys()
    assert {**flags, "archs": tuple(flags["archs"].split(",")), "out": str(flags["out"])} == fields


def test_the_default_models_have_comparable_sizes() -> None:
    sizes = {
        arch: sum(p.numel() for p in build_model(preset, 4096, 128).parameters())
        for arch, preset in ARCHS.items()
    }
    assert all(3_500_000 < n < 4_500_000 for n in sizes.values()), sizes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--archs", "rnn,transformer"],
            "unknown architecture 'transformer': choose from rnn, lstm, gru, gpt",
        ),
        (["--archs", "lstm,lstm=lstm-debug"], "an architecture is listed twice"),
        (["--archs", "gpt=bert-debug"], "bert-debug is a bert model; compare decoders"),
        (["--archs", "gpt=gpt-huge"], "unknown model 'gpt-huge'"),
        (["--minutes-each", "0"], "minutes_each must be > 0"),
        (["--archs", "lstm=lstm-debug", "--minutes-each", "1e-7"], "too short to take one step"),
        (["--archs", "lstm=lstm-debug", "--seq-len", "4096"], "too small for seq_len=4096"),
    ],
    ids=["unknown-arch", "twice", "encoder", "unknown-preset", "zero-budget", "tiny-budget", "tiny-corpus"],
)
def test_bad_input_is_one_line(tmp_path, capsys, args, message) -> None:
    corpus = _corpus(tmp_path, lines=30)
    common = ["--corpus", str(corpus), "--batch-size", "2", "--eval-batches", "1", "--seq-len", "16"]
    assert main(["compare-architectures", *common, *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()  # a progress bar may come first
    assert [line for line in err if "error" in line] == err[-1:], err
    assert err[-1].startswith("error: ") and message in err[-1], err
