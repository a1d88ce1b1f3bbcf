"""The trainer on a CUDA GPU: bf16 and fp16 (GradScaler) autocast, exact resume, torch.compile."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from llmlab.training.checkpoint import load_checkpoint
from llmlab.training.trainer import TrainConfig, train
from train_script import TokenWindows, random_tokens, tiny_gpt

pytestmark = pytest.mark.gpu


def config(run_dir: Path, **overrides: object) -> TrainConfig:
    fields = dict(steps=8, batch_size=4, lr=3e-3, min_lr=3e-4, warmup=2, eval_every=4, eval_steps=2,
                  ckpt_every=4, device="cuda", deterministic=True, progress=False)  # fmt: skip
    fields["out_dir"] = str(run_dir)
    return TrainConfig(**{**fields, **overrides})


def sources() -> tuple[TokenWindows, TokenWindows]:
    tokens = random_tokens()
    return TokenWindows(tokens, 4, 32, seed=1), TokenWindows(tokens, 4, 32, seed=2)


def stop_at_5(info) -> None:  # noqa: ANN001
    if info.step == 5:
        raise KeyboardInterrupt


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_training_resumes_exactly(tmp_path: Path, precision: str) -> None:
    straight = train(tiny_gpt(dropout=0.1), config(tmp_path / "a", precision=precision), *sources())
    first = train(
        tiny_gpt(dropout=0.1), config(tmp_path / "b", precision=precision), *sources(), callbacks=[stop_at_5]
    )
    second = train(
        tiny_gpt(dropout=0.1), config(tmp_path / "b", precision=precision), *sources(), resume=True
    )
    assert first.status == "interrupted" and first.losses + second.losses == straight.losses  # CUDA RNG too
    state = load_checkpoint(tmp_path / "b").state
    assert "cuda" in state["rng"][0]
    assert (state["scaler"] is not None) == (precision == "fp16")
    if precision == "fp16":
        assert state["scaler"]["scale"] > 0


def test_cuda_fp32_matches_cpu(tmp_path: Path) -> None:
    gpu = train(tiny_gpt(), config(tmp_path / "gpu", eval_every=0, ckpt_every=0), *sources())
    cpu = train(tiny_gpt(), config(tmp_path / "cpu", device="cpu", eval_every=0, ckpt_every=0), *sources())
    # different kernels, different summation order: equal to float32 rounding, growing over 8 steps
    torch.testing.assert_close(gpu.losses, cpu.losses, rtol=1e-4, atol=0)


def test_cuda_compile_matches_eager(tmp_path: Path) -> None:
    eager = train(tiny_gpt(), config(tmp_path / "eager", deterministic=False, precision="bf16"), *sources())
    compiled = train(
        tiny_gpt(),
        config(tmp_path / "compiled", deterministic=False, precision="bf16", compile=True),
        *sources(),
    )
    torch.testing.assert_close(
        compiled.losses, eager.losses, rtol=2e-2, atol=0
    )  # fused bf16 kernels round differently
    assert sorted(load_checkpoint(tmp_path / "compiled").model) == sorted(
        load_checkpoint(tmp_path / "eager").model
    )
