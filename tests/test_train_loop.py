"""The training loop: logs, exact in-process resume, Ctrl-C, NaN stop, full disk, bad input, accumulation."""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import llmlab.training.checkpoint as ckpt
from llmlab.errors import LLMLabError
from llmlab.training import runtime
from llmlab.training.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from llmlab.training.events import read_jsonl, read_scalars
from llmlab.training.trainer import TrainConfig, TrainingDivergedError, train
from train_script import TokenWindows, random_tokens, run, tiny_gpt

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster


def quick(tmp_path: Path, **overrides: object) -> TrainConfig:
    fields = dict(steps=10, batch_size=4, lr=3e-3, min_lr=3e-4, warmup=2, eval_every=5, eval_steps=2,
                  ckpt_every=5, device="cpu", progress=False, out_dir=str(tmp_path / "run"))  # fmt: skip
    return TrainConfig(**{**fields, **overrides})


def sources(batch: int = 4) -> tuple[TokenWindows, TokenWindows]:
    tokens = random_tokens()
    return TokenWindows(tokens, batch, 32, seed=1), TokenWindows(tokens, batch, 32, seed=2)


def train_losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in read_jsonl(run_dir / "metrics.jsonl") if "loss" in r]


def test_run_folder_logs_and_metrics(tmp_path: Path) -> None:
    result = train(tiny_gpt(), quick(tmp_path), *sources(), bytes_per_token=2.0)
    run_dir = tmp_path / "run"
    assert result.status == "completed" and result.step == 10 and len(result.losses) == 10
    assert result.tokens == 10 * 4 * 32 and result.checkpoint == run_dir / "checkpoints" / "step_00000010"
    records = read_jsonl(run_dir / "metrics.jsonl")
    assert train_losses(run_dir) == result.losses  # JSON keeps every float bit for bit
    evals = [r for r in records if "val_loss" in r]
    assert [e["step"] for e in evals] == [5, 10] and evals == result.evals
    assert evals[-1]["val_bpb"] == pytest.approx(evals[-1]["val_loss"] / math.log(2) / 2.0)
    tb = read_scalars(run_dir / "tensorboard")
    assert [s for s, _ in tb["train/loss"]] == list(range(1, 11)) and [s for s, _ in tb["val/loss"]] == [
        5,
        10,
    ]
    torch.testing.assert_close([v for _, v in tb["train/loss"]], result.losses, rtol=1e-7, atol=0)  # float32
    assert (run_dir / "config.json").is_file()
    saved = load_checkpoint(run_dir)
    assert saved.state["model_config"]["n_layer"] == 1 and saved.state["train_config"]["steps"] == 10


def test_interrupt_saves_and_resume_is_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    straight = run(str(tmp_path / "straight"), steps=12)

    def ctrl_c(info) -> None:  # noqa: ANN001
        if info.step == 7:
            raise KeyboardInterrupt  # as a Ctrl-C in a notebook lands: an exception between steps

    run_dir = tmp_path / "run"
    first = run(str(run_dir), steps=12, callbacks=[ctrl_c])
    out = capsys.readouterr().out
    assert first.status == "interrupted" and first.step == 7
    assert "interrupted at step 7/12; checkpoint saved to" in out and "step_00000007" in out
    assert f"resume with:  llmlab train --resume {run_dir}\n" in out  # one line, to copy
    resumed = run(str(run_dir), steps=12, resume=True)
    assert resumed.status == "completed" and resumed.step == 12
    assert first.losses + resumed.losses == straight.losses  # bit for bit, dropout included
    assert train_losses(run_dir) == straight.losses


def test_ctrl_c_signal_finishes_the_step_then_saves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def press_ctrl_c(info) -> None:  # noqa: ANN001
        if info.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C only asks to stop

    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN when started in the background
    result = train(tiny_gpt(), quick(tmp_path), *sources(), callbacks=[press_ctrl_c])
    assert result.status == "interrupted" and result.step == 4  # step 4 completed, then it stopped
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step_00000004"]
    out = capsys.readouterr().out
    assert "stopping after this step" in out and "resume with:  llmlab train --resume" in out
    assert signal.getsignal(signal.SIGINT) is before  # the handler train() replaced is back


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_nan_loss_stops_with_a_diagnosis_and_keeps_the_good_checkpoint(
    tmp_path: Path, precision: str
) -> None:
    def poison(info) -> None:  # noqa: ANN001
        if info.step == 7:
            with torch.no_grad():
                info.model.head.weight[0, 0] = float("nan")

    with pytest.raises(TrainingDivergedError) as caught:
        train(tiny_gpt(), quick(tmp_path, precision=precision), *sources(), callbacks=[poison])
    e, run_dir = caught.value, tmp_path / "run"
    message = str(e)
    assert (
        "the loss became nan at step 8" in message and "last good loss" in message and "at step 7" in message
    )
    assert "learning rate is too high" in message
    assert ("fp16 overflow" in message) == (precision == "fp16")
    assert f"The last good checkpoint is {run_dir / 'checkpoints' / 'step_00000005'}" in message
    assert e.step == 8 and math.isfinite(e.last_good_loss)
    good = load_checkpoint(run_dir)
    assert good.step == 5 and all(torch.isfinite(t).all() for t in good.model.values())
    assert read_jsonl(run_dir / "metrics.jsonl")[-1] == {"step": 8, "event": "diverged", "what": "loss",
                                                         "value": "nan"}  # fmt: skip


def test_full_disk_during_training_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = ckpt.save_file

    def fills_up_at_step_10(tensors: dict, path: Path, metadata: dict | None = None) -> None:
        if "step_00000010" in path.parent.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(tensors, path, metadata)

    monkeypatch.setattr(ckpt, "save_file", fills_up_at_step_10)
    with pytest.raises(CheckpointError, match="the disk is full") as caught:
        train(tiny_gpt(), quick(tmp_path), *sources())
    checkpoints = tmp_path / "run" / "checkpoints"
    assert str(checkpoints / "step_00000010") in str(caught.value)
    assert [p.name for p in checkpoints.iterdir()] == ["step_00000005"]
    monkeypatch.undo()  # space freed: the run resumes from the kept checkpoint
    result = train(tiny_gpt(), quick(tmp_path), *sources(), resume=True)
    assert result.status == "completed" and len(result.losses) == 5


def test_resume_with_the_data_packages_random_windows(tmp_path: Path) -> None:
    """The real batch source (a torch Generator state in its state_dict) resumes exactly too."""
    from llmlab.data.batches import RandomWindows

    tokens = random_tokens()

    def windows() -> tuple[RandomWindows, RandomWindows]:
        return RandomWindows(tokens, 4, 32, seed=1), RandomWindows(tokens, 4, 32, seed=2)

    def stop_at_6(info) -> None:  # noqa: ANN001
        if info.step == 6:
            raise KeyboardInterrupt

    straight = train(tiny_gpt(dropout=0.1), quick(tmp_path / "a"), *windows())
    first = train(tiny_gpt(dropout=0.1), quick(tmp_path / "b"), *windows(), callbacks=[stop_at_6])
    second = train(tiny_gpt(dropout=0.1), quick(tmp_path / "b"), *windows(), resume=True)
    assert first.losses + second.losses == straight.losses
    assert load_checkpoint(tmp_path / "b" / "run").state["data"][0]["step"] == 10  # batches drawn


def test_gradient_accumulation_matches_one_big_batch(tmp_path: Path) -> None:
    """2 micro-batches of 4 give the gradient of 1 batch of 8 (the same windows: rows 0-3, then 4-7)."""
    big = train(tiny_gpt(), quick(tmp_path / "a", batch_size=8, eval_every=0, ckpt_every=0), *sources(8))
    accum = train(tiny_gpt(), quick(tmp_path / "b", grad_accum=2, eval_every=0, ckpt_every=0), *sources(4))
    torch.testing.assert_close(accum.losses, big.losses, rtol=1e-5, atol=0)  # float sums in another order
    assert accum.tokens == big.tokens == 10 * 8 * 32


def test_bf16_autocast_trains(tmp_path: Path) -> None:
    fp32 = train(tiny_gpt(), quick(tmp_path / "a", steps=4, eval_every=0, ckpt_every=0), *sources())
    bf16 = train(
        tiny_gpt(), quick(tmp_path / "b", steps=4, precision="bf16", eval_every=0, ckpt_every=0), *sources()
    )
    torch.testing.assert_close(bf16.losses, fp32.losses, rtol=2e-2, atol=0)  # bf16 keeps ~3 digits
    assert bf16.losses != fp32.losses  # autocast really ran in bf16


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LLMLabError, match=r"bad training config: precision must be one of fp32, bf16, fp16"):
        TrainConfig(precision="fp8")
    with pytest.raises(LLMLabError, match="warmup must be between 0 and steps .*steps=10, warmup=20"):
        TrainConfig(steps=10, warmup=20)
    with pytest.raises(LLMLabError, match="gives 4 sequences per batch but batch_size=8"):
        train(tiny_gpt(), quick(tmp_path, batch_size=8), *sources())
    with pytest.raises(
        LLMLabError, match=r"train_batches must be an iterator of \(x, y\) batches with state_dict\(\)"
    ):
        train(tiny_gpt(), quick(tmp_path), [1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(LLMLabError, match="nothing to resume: no checkpoint in"):
        train(tiny_gpt(), quick(tmp_path), *sources(), resume=True)
    train(tiny_gpt(), quick(tmp_path, steps=2, ckpt_every=0), *sources())
    with pytest.raises(
        LLMLabError, match=r"already holds a run \(checkpoint step_00000002\); continue it with"
    ):
        train(tiny_gpt(), quick(tmp_path, steps=2), *sources())
    with pytest.raises(LLMLabError, match="fsdp=True needs several processes"):
        train(tiny_gpt(), quick(tmp_path / "f", fsdp=True), *sources())


def small_pages_from_glibc() -> bool:
    """glibc's malloc, and no transparent huge pages everywhere (a 32 MiB block is then 8,192 page faults)."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return runtime._glibc() is not None and not (thp.exists() and "[always]" in thp.read_text())


@pytest.mark.skipif(not small_pages_from_glibc(), reason="counts the 4 KiB page faults of glibc's malloc")
def test_training_steps_reuse_freed_memory(tmp_path: Path) -> None:
    probe = Path(__file__).with_name("memory_probe.py")
    done = subprocess.run(
        [sys.executable, str(probe), str(tmp_path / "run")], capture_output=True, text=True, timeout=300,
        cwd=probe.parent, env={**os.environ, "PYTHONPATH": str(probe.parent)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    faults = json.loads(done.stdout.splitlines()[-1])
    assert faults["plain"] > 4 * 8_192  # a plain step maps its five 32 MiB blocks afresh: ~41,000 faults
    # train()'s steps reuse them once settled (~0 per step; a new block now and then as the heap grows)
    assert len(faults["train"]) == 7 and sum(faults["train"]) < 2 * faults["plain"], faults


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


def test_reuse_freed_memory_sets_malloc_once_and_restores_it_when_the_outer_block_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(runtime, "_glibc", lambda: libc)
    with runtime.reuse_freed_memory() as on:
        assert on and libc.calls == [
            ("mallopt", runtime.M_MMAP_MAX, 0),
            ("mallopt", runtime.M_TRIM_THRESHOLD, 2**31 - 1),
        ]
        with runtime.reuse_freed_memory():  # nested (compare-architectures trains in turn): nothing changes
            pass
        assert len(libc.calls) == 2
    assert libc.calls[2:] == [
        ("mallopt", runtime.M_MMAP_MAX, 65536), ("mallopt", runtime.M_MMAP_THRESHOLD, 32 * 2**20),
        ("mallopt", runtime.M_TRIM_THRESHOLD, 64 * 2**20), ("malloc_trim", 0),
    ]  # fmt: skip


def test_reuse_freed_memory_is_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_glibc", lambda: None)
    with runtime.reuse_freed_memory() as on:
        assert on is False
