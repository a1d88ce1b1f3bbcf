"""Page faults of training steps, in a fresh process (for ``tests/test_train_loop.py``).

    python tests/memory_probe.py RUN_DIR

A model whose logits are 32 MiB (4 x 32 positions x 65,536 tokens), a size glibc's malloc maps
afresh for every allocation by default. Prints one JSON object: the page faults of one plain
forward + backward once warmed up, before any training (``plain``), and of each ``train()`` step
after the first (``train``). A fresh process, because what malloc does with a block depends on
what the process freed before.
"""

from __future__ import annotations

import json
import resource
import sys

import torch

from llmlab.training.trainer import TrainConfig, train
from train_script import TokenWindows, random_tokens, tiny_gpt


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    torch.set_num_threads(1)
    model = tiny_gpt(vocab_size=2**16)
    source = TokenWindows(random_tokens(), 4, 32, seed=1)
    x, y = (torch.as_tensor(t) for t in next(source))

    def plain_step() -> int:
        for _ in range(10):  # warm up: let the allocations settle
            model(x, targets=y).loss.backward()
        before = faults()
        model(x, targets=y).loss.backward()
        return faults() - before

    plain = plain_step()
    marks: list[int] = []
    cfg = TrainConfig(steps=8, batch_size=4, warmup=2, eval_every=0, ckpt_every=0, device="cpu",
                      progress=False, out_dir=sys.argv[1])  # fmt: skip
    train(
        model,
        cfg,
        source,
        TokenWindows(random_tokens(), 4, 32, seed=2),
        callbacks=[lambda info: marks.append(faults())],
    )
    steps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    print(json.dumps({"plain": plain, "train": steps}))


if __name__ == "__main__":
    main()
