"""Learning-rate schedules as pure functions of the step: linear warmup, then cosine decay or constant.

Why warm up: at step 0 Adam's second-moment estimate ``v`` has seen one gradient, so its steps
are large and noisy, and a freshly initialised transformer is at its most fragile; ramping the
rate from ~0 to its peak over the first few hundred steps avoids an early blow-up. Why decay:
late in training the loss sits in a narrow valley, and a smaller rate lets it settle into the
bottom instead of bouncing across it. Cosine decay (Loshchilov & Hutter, "SGDR", 2017) is the
GPT-2/3 and nanoGPT choice.

With ``s`` the 0-based index of the optimizer step (the first update uses ``lr_at(0)``),
``W = warmup``, ``N = steps``::

    s < W:       lr * (s + 1) / W                                   linear ramp, reaches lr at s = W - 1
    s >= W:      min_lr + 0.5 * (1 + cos(pi * p)) * (lr - min_lr)   p = (s - W) / (N - W), from 0 towards 1
    constant:    lr for every s >= W

A function of the step, not an object that counts calls, means resume needs only the step number
and a test can check every value against the formula. :meth:`Schedule.as_lambda` turns it into
the multiplier torch's ``LambdaLR`` expects, for code that wants a torch scheduler.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from llmlab.errors import LLMLabError

KINDS = ("cosine", "constant")


@dataclass(frozen=True)
class Schedule:
    """Warmup + cosine decay (or constant) from ``lr`` to ``min_lr`` over ``steps`` optimizer steps."""

    lr: float  # peak learning rate, reached at the end of warmup
    steps: int  # total optimizer steps of the run
    warmup: int = 0  # steps of linear ramp from lr / warmup to lr
    min_lr: float = 0.0  # where the cosine ends (ignored by "constant")
    kind: str = "cosine"  # "cosine" or "constant"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LLMLabError(f"unknown schedule {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.steps < 1 or not 0 <= self.warmup <= self.steps:
            raise LLMLabError(
                f"schedule needs steps >= 1 and 0 <= warmup <= steps; got steps={self.steps}, "
                f"warmup={self.warmup}"
            )
        if not 0 <= self.min_lr <= self.lr:
            raise LLMLabError(f"schedule needs 0 <= min_lr <= lr; got min_lr={self.min_lr}, lr={self.lr}")

    def lr_at(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` (0-based); steps past the end keep ``min_lr``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        if self.kind == "constant":
            return self.lr
        progress = min(1.0, (step - self.warmup) / max(1, self.steps - self.warmup))
        return self.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (self.lr - self.min_lr)

    def as_lambda(self) -> Callable[[int], float]:
        """``step -> lr_at(step) / lr``: the multiplier for ``torch.optim.lr_scheduler.LambdaLR``."""
        return lambda step: self.lr_at(step) / self.lr if self.lr else 0.0
