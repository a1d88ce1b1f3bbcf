"""A small training run for the trainer tests, importable (``TokenWindows``, ``tiny_gpt``) and runnable.

    python tests/train_script.py RUN_DIR [--resume] [--steps N] [--sleep S]

trains a one-layer ``gpt2-debug`` GPT (dropout on, so the RNG state matters) on a fixed random
token array in deterministic mode, checkpointing every 4 steps; the subprocess tests kill it,
interrupt it and resume it. ``--sleep`` slows each step down so a test can catch it mid-run.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.training.trainer import TrainConfig, TrainResult, train


class TokenWindows:
    """Random windows ``(x, y = x shifted by one)`` of a token array; its position is an RNG state."""

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, seed: int) -> None:
        self.tokens, self.batch_size, self.seq_len = tokens, batch_size, seq_len
        self.rng = np.random.default_rng(seed)

    def __iter__(self) -> TokenWindows:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        starts = self.rng.integers(0, len(self.tokens) - self.seq_len - 1, self.batch_size)
        rows = np.stack([self.tokens[s : s + self.seq_len + 1] for s in starts]).astype(np.int64)
        return torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:])

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def random_tokens(n: int = 20_000, vocab: int = 512, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, n).astype(np.uint16)


def tiny_gpt(seed: int = 0, **overrides: Any) -> GPT2:
    torch.manual_seed(seed)
    cfg = GPT2Config.from_name("gpt2-debug", **{"n_layer": 1, "max_seq_len": 32, **overrides})
    return GPT2(cfg)


def run(
    run_dir: str, *, resume: bool = False, steps: int = 24, sleep: float = 0.0, callbacks=()
) -> TrainResult:  # noqa: ANN001
    """The run the resume tests kill and compare: deterministic, CPU, checkpoint every 4 steps."""
    tokens = random_tokens()
    cfg = TrainConfig(
        steps=steps, batch_size=4, lr=3e-3, min_lr=3e-4, warmup=4, eval_every=8, eval_steps=2,
        ckpt_every=4, keep_checkpoints=2, device="cpu", deterministic=True, progress=False, out_dir=run_dir,
    )  # fmt: skip
    pause = [lambda info: time.sleep(sleep)] if sleep else []
    return train(
        tiny_gpt(dropout=0.1), cfg, TokenWindows(tokens, 4, 32, seed=1), TokenWindows(tokens, 4, 32, seed=2),
        resume=resume, callbacks=[*pause, *callbacks],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same kernels and reduction order in every process
    result = run(args.run_dir, resume=args.resume, steps=args.steps, sleep=args.sleep)
    print(f"status {result.status} step {result.step}")


if __name__ == "__main__":
    main()
