"""A two-process run for the distributed tests, started by ``torchrun`` (or ``python`` for the reference).

    torchrun --standalone --nproc-per-node 2 tests/ddp_script.py RUN_DIR [--fsdp]
    python tests/ddp_script.py RUN_DIR --reference

Under torchrun, rank r trains the one-layer ``gpt2-debug`` GPT on its own batches (windows seeded
10 + r, 4 per step). The reference is one process whose every batch is rank 0's 4 windows followed
by rank 1's: averaging the two ranks' gradients (DDP) or reduce-scattering them (FSDP) must give
the gradient of that batch of 8, so the weights after each step must agree with it.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import torch

from llmlab.training.trainer import TrainConfig, train
from train_script import TokenWindows, random_tokens, tiny_gpt

WORLD = 2


class BothRanks:
    """Rank 0's batch and rank 1's batch, stacked: what two DDP processes see together."""

    def __init__(self) -> None:
        self.sources = [TokenWindows(random_tokens(), 4, 32, seed=10 + r) for r in range(WORLD)]

    def __iter__(self) -> BothRanks:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = zip(*(next(s) for s in self.sources), strict=True)
        return torch.cat(xs), torch.cat(ys)

    def state_dict(self) -> dict[str, Any]:
        return {"sources": [s.state_dict() for s in self.sources]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for s, st in zip(self.sources, state["sources"], strict=True):
            s.load_state_dict(st)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--fsdp", action="store_true")
    parser.add_argument("--reference", action="store_true", help="one process, both ranks' batches at once")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same kernels in every process
    cfg = TrainConfig(
        steps=6, batch_size=4 * (WORLD if args.reference else 1), lr=3e-3, min_lr=3e-4, warmup=2, eval_every=3,
        eval_steps=2, ckpt_every=3, device="cpu", progress=False, out_dir=args.run_dir, fsdp=args.fsdp,
    )  # fmt: skip
    rank = int(os.environ.get("RANK", 0))
    batches = BothRanks() if args.reference else TokenWindows(random_tokens(), 4, 32, seed=10 + rank)
    result = train(tiny_gpt(), cfg, batches, TokenWindows(random_tokens(), 4, 32, seed=2))
    print(f"rank {rank} status {result.status} step {result.step} val {result.evals[-1]['val_loss']:.6f}")


if __name__ == "__main__":
    main()
