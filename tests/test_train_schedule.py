"""The learning-rate schedule: its formula at every step, and torch's schedulers as the live twin."""

from __future__ import annotations

import math

import pytest
import torch

from llmlab.errors import LLMLabError
from llmlab.training.schedule import Schedule

LR, MIN_LR, WARMUP, STEPS = 6e-4, 6e-5, 10, 100


def formula(s: int) -> float:
    """The docstring's formula, written again independently."""
    if s < WARMUP:
        return LR * (s + 1) / WARMUP
    p = (s - WARMUP) / (STEPS - WARMUP)
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * p)) * (LR - MIN_LR)


def torch_lrs(make_scheduler, steps: int) -> list[float]:  # noqa: ANN001
    """The lr torch's scheduler gives each optimizer step, stepping it after every update as torch does."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def test_equals_formula_at_every_step() -> None:
    sched = Schedule(LR, STEPS, WARMUP, MIN_LR)
    for s in range(STEPS):
        assert sched.lr_at(s) == pytest.approx(formula(s), rel=1e-15, abs=0), s
    assert sched.lr_at(0) == LR / WARMUP and sched.lr_at(WARMUP - 1) == LR and sched.lr_at(WARMUP) == LR
    assert sched.lr_at(STEPS) == pytest.approx(MIN_LR) and sched.lr_at(10 * STEPS) == pytest.approx(MIN_LR)
    assert all(sched.lr_at(s) > sched.lr_at(s + 1) for s in range(WARMUP, STEPS - 1))  # strictly decaying


def test_equals_torch_lambdalr() -> None:
    sched = Schedule(LR, STEPS, WARMUP, MIN_LR)
    lrs = torch_lrs(lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, sched.as_lambda()), STEPS)
    # the same step indexing as torch; rtol 1e-15: LambdaLR computes lr * (lr_at(s) / lr), off by an ulp
    torch.testing.assert_close(lrs, [sched.lr_at(s) for s in range(STEPS)], rtol=1e-15, atol=0)
    assert lrs[0] == LR / WARMUP and lrs[WARMUP] == LR


def test_equals_torch_linear_then_cosine() -> None:
    """Torch's own warmup and cosine schedulers, chained, give the same curve (to rounding)."""
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    def make(opt):  # noqa: ANN001, ANN202
        warm = LinearLR(opt, start_factor=1 / WARMUP, end_factor=1.0, total_iters=WARMUP - 1)
        cosine = CosineAnnealingLR(opt, T_max=STEPS - WARMUP, eta_min=MIN_LR)
        return SequentialLR(opt, [warm, cosine], milestones=[WARMUP])

    sched = Schedule(LR, STEPS, WARMUP, MIN_LR)
    # rtol 1e-9: CosineAnnealingLR updates the lr recursively, each step adding rounding error
    torch.testing.assert_close(
        torch_lrs(make, STEPS), [sched.lr_at(s) for s in range(STEPS)], rtol=1e-9, atol=0
    )


def test_constant_after_warmup() -> None:
    sched = Schedule(1.0, 50, 5, kind="constant")
    assert [sched.lr_at(s) for s in range(7)] == [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0]
    assert Schedule(1.0, 10, 0, kind="constant").lr_at(0) == 1.0  # no warmup: full lr from the start


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(lr=1e-3, steps=10, warmup=20), "0 <= warmup <= steps; got steps=10, warmup=20"),
        (dict(lr=1e-3, steps=10, min_lr=1e-2), "min_lr <= lr; got min_lr=0.01, lr=0.001"),
        (dict(lr=1e-3, steps=10, kind="linear"), "unknown schedule 'linear'; choose one of cosine, constant"),
    ],
)
def test_bad_schedules_are_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(LLMLabError, match=message.replace("(", r"\(")):
        Schedule(**kwargs)
