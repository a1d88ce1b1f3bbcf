"""The DDP and FSDP paths, as far as one CPU process can take them: a gloo group of world size 1.

With one process the all-reduces average a single copy, so DDP and FSDP must give exactly the
plain run's losses; this checks the wrapping, the no-sync accumulation, the collective checkpoint
(full state dicts gathered from FSDP shards) and resume through them. Several processes, NCCL and
real sharding need GPUs (``torchrun --nproc-per-node N``) and are not covered here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from llmlab.training.checkpoint import load_checkpoint
from llmlab.training.trainer import TrainConfig, train
from train_script import TokenWindows, random_tokens, tiny_gpt

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster


@contextmanager
def gloo_group() -> Iterator[None]:
    """A one-process gloo group on a free loopback port (what torchrun would set up, minus the others)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def config(run_dir: Path, **overrides: object) -> TrainConfig:
    fields = dict(steps=6, batch_size=4, grad_accum=2, lr=3e-3, min_lr=3e-4, warmup=2, eval_every=3,
                  eval_steps=2, ckpt_every=3, device="cpu", progress=False, out_dir=str(run_dir))  # fmt: skip
    return TrainConfig(**{**fields, **overrides})


def sources() -> tuple[TokenWindows, TokenWindows]:
    tokens = random_tokens()
    return TokenWindows(tokens, 4, 32, seed=1), TokenWindows(tokens, 4, 32, seed=2)


@pytest.mark.parametrize("fsdp", [False, True], ids=["ddp", "fsdp"])
def test_world_size_one_equals_the_plain_run_and_resumes(tmp_path: Path, fsdp: bool) -> None:
    plain = train(tiny_gpt(), config(tmp_path / "plain"), *sources())

    def stop_at_4(info) -> None:  # noqa: ANN001
        if info.step == 4:
            raise KeyboardInterrupt

    run_dir = tmp_path / "wrapped"
    with gloo_group():
        first = train(tiny_gpt(), config(run_dir, fsdp=fsdp), *sources(), callbacks=[stop_at_4])
        assert dist.is_initialized()  # a group the caller made is left to the caller
        second = train(tiny_gpt(), config(run_dir, fsdp=fsdp), *sources(), resume=True)
    assert first.status == "interrupted" and second.status == "completed"
    assert first.losses + second.losses == plain.losses
    assert [e["val_loss"] for e in second.evals] == [e["val_loss"] for e in plain.evals[1:]]
    saved, reference = load_checkpoint(run_dir), load_checkpoint(tmp_path / "plain")
    assert saved.state["world_size"] == 1 and sorted(saved.model) == sorted(reference.model)  # plain names
    for name, t in reference.model.items():
        assert torch.equal(saved.model[name], t), name
