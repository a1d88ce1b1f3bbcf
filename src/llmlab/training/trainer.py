"""The trainer's interface: the run config, the batch-source protocol, the result, and ``train()``.

``train(model, cfg, train_batches, val_batches)`` runs ``cfg.steps`` optimizer steps of the model
on batches ``(x, y)`` from ``train_batches`` and writes a *run folder* (``cfg.out_dir``)::

    RUN/config.json                     the run config and the model config
    RUN/metrics.jsonl                   one line per step (loss, lr, grad norm, tokens/s) and per eval
    RUN/tensorboard/events.out.tfevents.*   the same scalars for ``tensorboard --logdir RUN``
    RUN/checkpoints/step_00000500/      the last ``keep_checkpoints`` checkpoints (checkpoint.py)

What one step does, what a checkpoint holds and how resume stays exact is in :mod:`llmlab.training.loop`.
A model is anything called as ``model(x, targets=y)`` that returns an object with a scalar
``.loss`` (every llmlab language model), with an optional ``.config.to_dict()`` saved alongside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from llmlab.errors import LLMLabError
from llmlab.training.distributed import DEVICES
from llmlab.training.optim import OPTIMIZERS
from llmlab.training.schedule import KINDS, Schedule

PRECISIONS = ("fp32", "bf16", "fp16")


@runtime_checkable
class BatchSource(Protocol):
    """What the trainer reads batches from: :class:`llmlab.data.batches.RandomWindows` is one.

    ``next(source)`` returns ``(x, y)``, both ``(B, T)`` integer tensors (``y`` is ``x`` shifted by
    one for causal LM; -100 marks positions without a target); a ``next_batch()`` method is
    accepted instead. ``state_dict`` must capture the position exactly (an RNG state, a cursor), so
    that after ``load_state_dict`` the next batch is the one that would have come next: that is
    what makes resume exact. Its values may be tensors, NumPy arrays and plain Python data.
    """

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainConfig:
    """One training run. The CLI's ``llmlab train`` flags mirror these fields (kebab-case)."""

    steps: int = 1000  # optimizer steps (updates) in the whole run
    batch_size: int = 16  # sequences per micro-batch, per process; must match the batch source
    grad_accum: int = 1  # micro-batches per optimizer step: tokens/step = batch * T * grad_accum * processes
    lr: float = 6e-4  # peak learning rate, reached at the end of warmup
    min_lr: float = 6e-5  # where the cosine decay ends (nanoGPT: lr / 10)
    warmup: int = 100  # steps of linear warmup (must be <= steps)
    schedule: str = "cosine"  # "cosine" decay after warmup, or "constant"
    optimizer: str = "adamw"  # "adamw", "adam" or "sgd"
    weight_decay: float = 0.1  # on >= 2-D weights only (see optim.param_groups)
    betas: tuple[float, float] = (0.9, 0.95)  # Adam(W) averaging factors (GPT-3's 0.95, not 0.999)
    eps: float = 1e-8  # Adam(W) denominator floor
    momentum: float = 0.9  # SGD momentum
    fused_optimizer: bool = True  # Adam(W) in torch's one-pass kernel (CPU, CUDA); False: written out
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = off)
    eval_every: int = 250  # steps between validation passes (0 = only at the end)
    eval_steps: int = 20  # validation batches per pass (the same batches every time)
    ckpt_every: int = 500  # steps between checkpoints (0 = only at the end)
    keep_checkpoints: int = 2  # newest checkpoints to keep (0 = keep all)
    log_every: int = 1  # steps between lines in metrics.jsonl / TensorBoard
    precision: str = "fp32"  # "fp32", or autocast to "bf16" / "fp16" (fp16 adds a GradScaler)
    compile: bool = False  # torch.compile the model (first steps are slow while it compiles)
    device: str = "auto"  # "auto" (CUDA, then MPS, then CPU), "cpu", "cuda" or "mps"
    fsdp: bool = False  # under torchrun: shard parameters and optimizer state (FSDP2) instead of DDP
    seed: int = 1337  # seeds Python, NumPy and torch at the start of a fresh run (+ rank)
    deterministic: bool = False  # deterministic kernels only: bit-exact reruns and resumes
    progress: bool = True  # show the progress bar and messages
    out_dir: str = "runs/train"  # the run folder

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # type: ignore[assignment]  # from JSON/YAML as a list
        checks = [
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in KINDS, f"schedule must be one of {', '.join(KINDS)}"),
            (self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}"),
            (self.steps >= 1 and self.batch_size >= 1 and self.grad_accum >= 1, "steps, batch_size and "
             "grad_accum must be >= 1"),
            (0 <= self.warmup <= self.steps, "warmup must be between 0 and steps"),
            (0 <= self.min_lr <= self.lr, "min_lr must be between 0 and lr"),
            (min(self.eval_every, self.ckpt_every, self.keep_checkpoints, self.grad_clip) >= 0
             and self.eval_steps >= 1 and self.log_every >= 1, "eval/ckpt/keep/clip settings must be >= 0"),
        ]  # fmt: skip
        for ok, problem in checks:
            if not ok:
                raise LLMLabError(f"bad training config: {problem} ({self._brief()})")

    def _brief(self) -> str:
        return (
            f"steps={self.steps}, warmup={self.warmup}, lr={self.lr}, min_lr={self.min_lr}, "
            f"precision={self.precision!r}, optimizer={self.optimizer!r}, device={self.device!r}"
        )

    def schedule_fn(self) -> Schedule:
        return Schedule(self.lr, self.steps, self.warmup, self.min_lr, self.schedule)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise LLMLabError(f"TrainConfig has no field(s) {', '.join(unknown)}")
        return cls(**data)


@dataclass
class StepInfo:
    """What a callback sees after each optimizer step (``val`` is set on steps that evaluated)."""

    step: int  # optimizer steps done so far (1 after the first update)
    loss: float  # this step's training loss, averaged over micro-batches and processes
    lr: float
    grad_norm: float  # global gradient norm before clipping
    tokens: int  # tokens seen in the whole run, over all processes
    tokens_per_s: float
    model: nn.Module  # the plain model (not the DDP/compile wrapper)
    optimizer: torch.optim.Optimizer
    val: dict[str, float] | None = None


Callback = Callable[[StepInfo], Any]


@dataclass
class TrainResult:
    """What ``train()`` returns."""

    run_dir: Path
    step: int  # optimizer steps completed in total (including those before a resume)
    status: str  # "completed" or "interrupted" (Ctrl-C: a checkpoint was saved first)
    losses: list[float] = field(default_factory=list)  # training loss of each step run by this call
    evals: list[dict[str, float]] = field(
        default_factory=list
    )  # {"step", "val_loss", "val_ppl"[, "val_bpb"]}
    checkpoint: Path | None = None  # the newest checkpoint
    tokens: int = 0  # tokens seen in total
    seconds: float = 0.0  # wall time of this call


class TrainingDivergedError(LLMLabError):
    """The loss (or gradient norm) became NaN or infinite; the message says where and what to try."""

    def __init__(self, message: str, step: int, last_good_loss: float | None, checkpoint: Path | None):
        super().__init__(message)
        self.step = step
        self.last_good_loss = last_good_loss
        self.checkpoint = checkpoint


def train(
    model: nn.Module,
    cfg: TrainConfig,
    train_batches: BatchSource,
    val_batches: BatchSource | None = None,
    *,
    resume: bool | str | Path = False,
    callbacks: Sequence[Callback] = (),
    bytes_per_token: float | None = None,
) -> TrainResult:
    """Train ``model`` for ``cfg.steps`` optimizer steps; see the module docstring for the run folder.

    ``resume=True`` continues from the newest checkpoint in ``cfg.out_dir`` (or from the checkpoint
    or run folder ``resume`` names) with the model, optimizer, schedule, RNG states and data position
    it saved, so the loss curve continues exactly where it stopped. ``bytes_per_token`` (the corpus
    bytes over its token count) adds bits per byte to the validation metrics. ``callbacks`` run after
    every step with a :class:`StepInfo`.

    Raises :class:`TrainingDivergedError` when the loss becomes NaN/inf (the last good checkpoint
    is kept) and ``CheckpointError`` when a checkpoint cannot be written (e.g. a full disk).
    Ctrl-C finishes the current step, saves a checkpoint and returns with ``status="interrupted"``.
    """
    from llmlab.training.loop import Trainer

    for name, source in (("train_batches", train_batches), ("val_batches", val_batches)):
        drawable = hasattr(source, "__next__") or hasattr(source, "next_batch")
        if source is not None and not (
            drawable and hasattr(source, "state_dict") and hasattr(source, "load_state_dict")
        ):
            raise LLMLabError(
                f"{name} must be an iterator of (x, y) batches with state_dict() and load_state_dict() "
                f"(got a {type(source).__name__}); see llmlab.data.batches.RandomWindows"
            )
    return Trainer(model, cfg, train_batches, val_batches, resume, list(callbacks), bytes_per_token).run()
