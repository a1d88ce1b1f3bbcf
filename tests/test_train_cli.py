"""`llmlab train` and `llmlab quickstart` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmlab.cli.main import main
from llmlab.models.hf import from_pretrained
from llmlab.tokenizers.bpe_fast import train_bpe_fast
from llmlab.tokenizers.registry import save_tokenizer
from llmlab.training.checkpoint import load_checkpoint

TEXT = "\n".join(
    f"{who}: the {what} of {where} is {how}, and the {what} will be {how} again."
    for who in ("ROMEO", "JULIET", "NURSE", "MERCUTIO") for what in ("moon", "night", "sword", "rose")
    for where in ("Verona", "Mantua", "the garden") for how in ("fair", "dark", "sweet", "sharp")
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def corpus_and_tokenizer(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "corpus").mkdir()
    for i in range(4):
        (tmp_path / "corpus" / f"part{i}.txt").write_text(TEXT, encoding="utf-8")
    tok = train_bpe_fast([TEXT], 320, special_tokens=["<|endoftext|>"], name="tiny-bpe")
    save_tokenizer(tok, tmp_path / "tok")
    return tmp_path / "corpus", tmp_path / "tok" / "tokenizer.json"


def train_args(corpus: Path, tok: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train", "--preset", "gpt2-debug", "--corpus", str(corpus), "--tokenizer", str(tok), "--seq-len", "32",
        "--batch-size", "4", "--eval-every", "10", "--ckpt-every", "10", "--out", str(out), *extra,
    ]  # fmt: skip


def test_train_then_resume_then_generate(corpus_and_tokenizer, tmp_path, capsys) -> None:
    corpus, tok = corpus_and_tokenizer
    code, out, err = run(capsys, *train_args(corpus, tok, tmp_path / "run", "--steps", "20"))
    assert code == 0, err
    assert "preflight" in out and "parameters; batch 4 x context 32" in out
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 20 and losses[-1] < losses[0]
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    code, out, err = run(capsys, "train", "--resume", str(tmp_path / "run"), "--steps", "30")
    assert code == 0, err
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 31))
    code, out, err = run(
        capsys, "generate", "ROMEO:", "--model", str(tmp_path / "run" / "model"), "--max-tokens", "5"
    )
    assert code == 0, err
    assert out.startswith("ROMEO:")


def test_train_reads_a_config_file(corpus_and_tokenizer, tmp_path, capsys) -> None:
    corpus, tok = corpus_and_tokenizer
    (tmp_path / "run.yaml").write_text("steps: 3\nbatch-size: 2\n")
    code, out, err = run(
        capsys, *train_args(corpus, tok, tmp_path / "run"), "--config", str(tmp_path / "run.yaml")
    )
    assert code == 0, err
    assert "batch 4 x context 32" in out  # the flag given on the command line wins over the file
    assert "for 3 steps" in out
    (tmp_path / "bad.yaml").write_text("stepz: 3\n")
    code, _, err = run(
        capsys, *train_args(corpus, tok, tmp_path / "run2"), "--config", str(tmp_path / "bad.yaml")
    )
    assert code == 1 and "unknown option(s) stepz" in err


def test_train_refuses_an_encoder_and_an_empty_corpus(corpus_and_tokenizer, tmp_path, capsys) -> None:
    corpus, tok = corpus_and_tokenizer
    code, _, err = run(capsys, "train", "--resume", str(tmp_path / "nowhere"))
    assert code == 1 and "is not a run folder of llmlab train (no run.json)" in err
    code, _, err = run(capsys, *train_args(corpus, tok, tmp_path / "r"), "--preset", "bert-debug")
    assert code == 1 and "bert-debug is a bert model" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("")
    code, _, err = run(capsys, *train_args(tmp_path / "empty", tok, tmp_path / "r2"))
    assert code == 1 and "is empty: there is nothing to train on" in err


def test_quickstart_trains_reports_and_samples(real_assets, tmp_path, capsys) -> None:
    real_assets("shakespeare", "smollm2-135m-instruct", "gpt2-ranks")
    code, out, err = run(
        capsys,
        "quickstart",
        "--out",
        str(tmp_path / "qs"),
        "--preset",
        "gpt2-debug",
        "--steps",
        "12",
        "--no-chat",
    )
    assert code == 0, err
    for step in range(1, 9):
        assert f"Step {step}/8" in out
    assert "temperature 0.5" in out and "temperature 1.1" in out and "perplexity" in out
    report = (tmp_path / "qs" / "report.md").read_text()
    assert "validation perplexity" in report and "ROMEO:" in report
    assert "no golden band for gpt2-debug" in out and "| against the golden band | no golden band" in report
    assert (tmp_path / "qs" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in (tmp_path / "qs" / "report.html").read_text()


def test_same_seed_same_run_and_a_refused_run_keeps_the_old_options(
    corpus_and_tokenizer, tmp_path, capsys
) -> None:
    corpus, tok = corpus_and_tokenizer
    firsts = []
    for name in ("a", "b"):
        code, _, err = run(capsys, *train_args(corpus, tok, tmp_path / name, "--steps", "2", "--seed", "5"))
        assert code == 0, err
        firsts.append(json.loads((tmp_path / name / "metrics.jsonl").read_text().splitlines()[0])["loss"])
    assert firsts[0] == firsts[1]  # --seed fixes the initial weights and the batches
    before = (tmp_path / "a" / "run.json").read_text()
    code, _, err = run(capsys, *train_args(corpus, tok, tmp_path / "a", "--steps", "4", "--lr", "0.1"))
    assert code == 1  # the folder holds a run: refused, and its options for --resume are untouched
    assert (tmp_path / "a" / "run.json").read_text() == before


@pytest.mark.parametrize("fsdp", [False, True], ids=["ddp", "fsdp"])
def test_train_under_torchrun_splits_the_work_and_speaks_once(corpus_and_tokenizer, tmp_path, fsdp) -> None:
    """`torchrun --nproc-per-node 2 -m llmlab train ...`: two CPU processes (gloo over loopback)."""
    corpus, tok = corpus_and_tokenizer
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "LLMLAB_NO_RECORD": "1",
           "LLMLAB_HOME": str(tmp_path / "home")}  # fmt: skip
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m"]
    args = train_args(corpus, tok, tmp_path / "run", "--steps", "4", "--device", "cpu", *(["--fsdp"] * fsdp))
    done = subprocess.run([*launcher, "llmlab", *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert out.count("preflight") == 1 and out.count("done: 4 steps") == 1  # rank 0 speaks, rank 1 is quiet
    assert "(2 processes, fp32)" in out
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]  # one writer
    saved = load_checkpoint(tmp_path / "run")
    data = saved.state["data"]  # each rank's stream of windows: its own seed, the same length
    assert saved.state["world_size"] == 2 and [d["seed"] for d in data] == [1337, 2337]
    assert not torch.equal(data[0]["generator"], data[1]["generator"])
    # the full weights exported (under FSDP gathered from both ranks' shards first)
    exported = from_pretrained(tmp_path / "run" / "model").state_dict()
    for name, t in saved.model.items():
        assert torch.equal(exported[name], t), name


@pytest.mark.parametrize(
    ("preset", "steps", "loss", "verdict"),
    [
        ("gpt-mini", 295, 5.16, "inside the golden band 4.86-5.46 nats (for 295 steps of gpt-mini): a normal run"),
        ("gpt-mini", 118, 5.73, "as expected: only 118 steps fitted in the time budget on this machine; "
                                "llmlab quickstart --steps 295 compares like with like"),
        ("gpt-mini", 300, 5.73, "after 300 steps: the model learned less than it should"),
        ("gpt-mini", 591, 4.89, "inside the golden band 4.86-5.46 nats (for 295 steps of gpt-mini), after 591 steps: "
                                "normal, though this many steps usually end lower; llmlab quickstart --steps 295"),
        ("gpt-mini", 600, 4.60, "below the golden band 4.86-5.46 nats (for 295 steps of gpt-mini), as expected: 600 steps"),
        ("gpt-mini", 295, 4.60, "check that validation text did not leak into training"),
        ("gpt2-debug", 12, 7.9, "no golden band for gpt2-debug"),
    ],
)  # fmt: skip
def test_the_quickstart_judges_its_loss_against_the_golden_band(preset, steps, loss, verdict) -> None:
    from llmlab.cli.quickstart_run import band_verdict

    assert verdict in band_verdict(preset, steps, loss)
