"""Acceptance: SIGKILL at a random step, resume, and the loss curve is the uninterrupted one, bit for bit.

The killed run is a real process (``tests/train_script.py``), killed with no chance to clean up:
its last checkpoint may be several steps old, its metrics.jsonl holds steps past that checkpoint,
and a checkpoint write may have been cut short. Resuming must drop that tail and reproduce every
later loss exactly: model, optimizer, schedule, dropout RNG and data position all come back.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from llmlab.training.checkpoint import list_checkpoints, load_checkpoint
from llmlab.training.events import read_jsonl, read_scalars
from train_script import run

SCRIPT = Path(__file__).with_name("train_script.py")
STEPS = 24


# as train_script.py does: the same kernels in both processes
pytestmark = pytest.mark.usefixtures("one_thread")


def losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in read_jsonl(run_dir / "metrics.jsonl") if "loss" in r]


def test_sigkill_at_a_random_step_then_resume_reproduces_the_curve(tmp_path: Path) -> None:
    kill_after = random.Random().randint(5, STEPS - 3)  # at least one checkpoint (every 4 steps) exists
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(run_dir), "--steps", str(STEPS), "--sleep", "0.15"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ((run_dir / "metrics.jsonl").exists() and len(losses(run_dir)) >= kill_after):
            assert proc.poll() is None, f"the training process ended early: {proc.communicate()[0]}"
            assert time.monotonic() < deadline, "the training process made no progress in 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    logged = len(losses(run_dir))
    assert kill_after <= logged < STEPS, f"killed after step {logged}, asked for {kill_after}"
    saved = list_checkpoints(run_dir)[-1]
    assert load_checkpoint(saved).step <= logged  # the tail after the checkpoint is lost work

    resumed = run(str(run_dir), steps=STEPS, resume=True)
    straight = run(str(tmp_path / "straight"), steps=STEPS)
    detail = f"killed after step {logged}, resumed from {saved.name}"
    assert resumed.status == "completed" and resumed.step == STEPS, detail
    assert losses(run_dir) == losses(tmp_path / "straight") == straight.losses, detail  # bit for bit
    assert [r for r in read_jsonl(run_dir / "metrics.jsonl") if "val_loss" in r] == straight.evals, detail
    killed_tb, straight_tb = (
        read_scalars(run_dir / "tensorboard"),
        read_scalars(tmp_path / "straight" / "tensorboard"),
    )
    assert [v for _, v in killed_tb["train/loss"]] == [v for _, v in straight_tb["train/loss"]], detail
    final, reference = load_checkpoint(run_dir), load_checkpoint(tmp_path / "straight")
    for name, t in reference.model.items():
        assert torch.equal(final.model[name], t), f"{name}: {detail}"
