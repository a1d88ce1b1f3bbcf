"""Preflight: before a run starts, will it fit on this machine and get anywhere in the time given?

Learners ask this more than anything else ("will this fit on my laptop?", "why is it so slow?"),
so every run answers it first, from three numbers:

1. **parameters** of the model, counted;
2. **memory** at the peak of a training step, in bytes:

   - weights: ``4 * N`` (fp32 master weights, also under bf16/fp16 autocast);
   - gradients: ``4 * N``;
   - optimizer state: ``8 * N`` for Adam/AdamW (two moments), ``4 * N`` for SGD with momentum;
   - activations kept for the backward pass. For a transformer block Korthikanti et al.
     ("Reducing Activation Recomputation in Large Transformer Models", 2022) count
     ``T * B * C * (34 + 5 * n_head * T / C)`` bytes in 16-bit; we double it for fp32 and add the
     logits (``B * T * V`` floats, kept twice by the loss). Recurrent models keep their gates
     and states: ``B * T * d_hidden * (gates + 2) * 4`` bytes per layer.

3. **time per step**, measured: a warm-up step, then the median of ``timed_steps`` real forward +
   backward + optimizer steps on random tokens, on this device, with these settings.

:func:`fit` then shrinks the batch (then the context) until the memory and time budgets are
met, and :func:`preflight` warns when the number of steps that fit in the time budget is too
small for the loss to fall below its starting plateau.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from llmlab.errors import LLMLabError
from llmlab.training.optim import build_optimizer
from llmlab.training.runtime import reuse_freed_memory

MIN_USEFUL_STEPS = 200  # below this a small model is still learning unigram statistics (see docs/training.md)
GiB = 1024**3


@dataclass
class Preflight:
    """What a run will cost, measured and estimated before it starts."""

    params: int
    batch_size: int
    seq_len: int
    memory: dict[str, int]  # bytes: weights, gradients, optimizer, activations
    step_seconds: float  # measured wall time of one optimizer step (with grad_accum micro-steps)
    tokens_per_step: int
    steps_in_budget: int | None = None  # how many steps fit in the time budget, if one was given
    warnings: list[str] = field(default_factory=list)

    @property
    def total_memory(self) -> int:
        return sum(self.memory.values())

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_per_step / self.step_seconds

    def summary(self) -> str:
        """A few lines for the console."""
        mem = ", ".join(f"{k} {v / GiB:.2f}" for k, v in self.memory.items())
        lines = [
            f"model: {self.params:,} parameters; batch {self.batch_size} x context {self.seq_len}",
            f"memory: about {self.total_memory / GiB:.2f} GiB at peak ({mem} GiB)",
            f"speed: {self.step_seconds:.3f} s per step, {self.tokens_per_second:,.0f} tokens/s",
        ]
        if self.steps_in_budget is not None:
            lines.append(f"time budget: about {self.steps_in_budget:,} steps")
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


def activation_bytes(model: nn.Module, batch_size: int, seq_len: int, precision: str = "fp32") -> int:
    """Activations a training step keeps for backward (the formula in the module docstring)."""
    cfg = model.config
    width = 2 if precision in ("bf16", "fp16") else 4
    logits = 2 * batch_size * seq_len * cfg.vocab_size * 4  # fp32 logits and their softmax in the loss
    if hasattr(cfg, "n_head"):
        B, T, C, H = batch_size, seq_len, cfg.d_model, cfg.n_head
        per_layer = T * B * C * (34 + 5 * H * T / C) * width / 2  # the paper counts 16-bit bytes
        n_layer = cfg.n_layer + getattr(cfg, "n_decoder_layer", 0)
        return int(n_layer * per_layer + logits)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cfg.cell]  # recurrent models
    return int(cfg.n_layer * batch_size * seq_len * cfg.d_hidden * (gates + 2) * 4 + logits)


def measure_step(
    model: nn.Module, batch_size: int, seq_len: int, *, device: str = "cpu", precision: str = "fp32",
    grad_accum: int = 1, timed_steps: int = 2,
) -> float:  # fmt: skip
    """Seconds per optimizer step, timed on random tokens after one warm-up step (on a copy: the
    model itself is left untouched). With several timed steps, the median: one step caught in a
    slow spell of a shared machine would otherwise set the whole run's step count."""
    import copy

    model = copy.deepcopy(model).to(device).train()
    opt = build_optimizer("adamw", model.parameters(), lr=1e-6, fused=True)  # the optimizer train() runs
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    gen = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size

    def step() -> None:
        for _ in range(grad_accum):
            idx = torch.randint(0, vocab, (batch_size, seq_len + 1), generator=gen).to(device)
            with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
                loss = model(idx[:, :-1], targets=idx[:, 1:]).loss
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    times = []
    with reuse_freed_memory():  # as train() runs its steps
        step()  # warm-up: allocator, kernel selection
        for _ in range(timed_steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def preflight(
    model: nn.Module, batch_size: int, seq_len: int, *, device: str = "cpu", precision: str = "fp32",
    grad_accum: int = 1, optimizer: str = "adamw", time_budget_s: float | None = None,
    memory_budget_bytes: int | None = None, timed_steps: int = 2,
) -> Preflight:  # fmt: skip
    """Count, estimate and time one training step of ``model`` at this batch and context."""
    if seq_len > getattr(model.config, "max_seq_len", seq_len) and not hasattr(model.config, "cell"):
        raise LLMLabError(
            f"context {seq_len} is longer than the model's max_seq_len {model.config.max_seq_len}"
        )
    n = sum(p.numel() for p in model.parameters())
    memory = {
        "weights": 4 * n,
        "gradients": 4 * n,
        "optimizer": (4 if optimizer == "sgd" else 8) * n,
        "activations": activation_bytes(model, batch_size, seq_len, precision),
    }
    seconds = measure_step(
        model, batch_size, seq_len, device=device, precision=precision, grad_accum=grad_accum,
        timed_steps=timed_steps,
    )  # fmt: skip
    result = Preflight(n, batch_size, seq_len, memory, seconds, batch_size * seq_len * grad_accum)
    if time_budget_s is not None:
        result.steps_in_budget = int(time_budget_s / seconds)
        if result.steps_in_budget < MIN_USEFUL_STEPS:
            result.warnings.append(
                f"only about {result.steps_in_budget} steps fit in {time_budget_s:.0f} s; a model needs a few "
                f"hundred before its loss leaves the unigram plateau: shrink the model or batch, or give it more time"
            )
    if memory_budget_bytes is not None and result.total_memory > memory_budget_bytes:
        result.warnings.append(
            f"needs about {result.total_memory / GiB:.2f} GiB but the budget is {memory_budget_bytes / GiB:.2f} GiB: "
            "use --fit, a smaller batch or context, or bf16"
        )
    return result


def fit(
    model: nn.Module, batch_size: int, seq_len: int, *, memory_budget_bytes: int | None = None,
    time_budget_s: float | None = None, min_steps: int = MIN_USEFUL_STEPS, **kwargs,
) -> Preflight:  # fmt: skip
    """Halve the batch (then the context) until memory fits and ``min_steps`` steps fit in the time.

    Returns the preflight of the chosen shape; raises when even batch 1 at context 16 does not fit.
    """
    while True:
        fits_memory = memory_budget_bytes is None or (
            4 * 4 * sum(p.numel() for p in model.parameters())
            + activation_bytes(model, batch_size, seq_len, kwargs.get("precision", "fp32"))
            <= memory_budget_bytes
        )
        if fits_memory:
            result = preflight(
                model, batch_size, seq_len, time_budget_s=time_budget_s,
                memory_budget_bytes=memory_budget_bytes, **kwargs,
            )  # fmt: skip
            if time_budget_s is None or (result.steps_in_budget or 0) >= min_steps:
                return result
        if batch_size > 1:
            batch_size //= 2
        elif seq_len > 16:
            seq_len //= 2
        else:
            raise LLMLabError(
                "even batch 1 at context 16 does not fit the budget: choose a smaller model preset "
                "(llmlab models list) or raise --memory-budget / --time-budget"
            )
