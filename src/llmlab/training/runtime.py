"""The process around the training loop: seeding, deterministic mode, mixed precision, Ctrl-C, progress.

Small pieces the loop (:mod:`llmlab.training.loop`) uses, each with the trap it avoids:

* :func:`seed_everything`: Python, NumPy *and* torch (CUDA included), because data code may use any.
* :func:`deterministic`: bit-exact reruns need deterministic kernels; CUDA's cuBLAS additionally
  needs ``CUBLAS_WORKSPACE_CONFIG`` set. Restored afterwards, so ``train()`` leaves no global change.
* :func:`autocast`: fp32 weights, bf16/fp16 matmuls. bf16 has fp32's exponent range, so it needs
  nothing else; fp16 overflows above 65504 and underflows small gradients, hence the loop's
  ``GradScaler`` (multiply the loss by 2**16 before backward, divide the gradients after, skip the
  step and halve the scale when any gradient is inf).
* :func:`reuse_freed_memory`: glibc's ``malloc`` hands each big block (the logits, an MLP's
  activations) back to the OS when it is freed, so the next step's kernel zero-fills it again,
  one 4 KiB page fault at a time; during training freed blocks stay in the process instead.
* :class:`StopFlag`: the first Ctrl-C only *asks* to stop, so the loop finishes its step and saves
  a consistent checkpoint; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA device too


@contextmanager
def deterministic(on: bool) -> Iterator[None]:
    """Deterministic kernels while the block runs (the previous setting comes back after)."""
    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]


# glibc's mallopt() parameters (malloc.h) and the ceilings its adaptive thresholds grow to by themselves
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
MMAP_THRESHOLD_MAX, MMAPS_DEFAULT = 32 * 2**20, 65536
_reusing = 0  # reuse_freed_memory blocks open (they may nest: compare-architectures trains in turn)


@functools.cache
def _glibc() -> Any:
    """The process's own C library when it is glibc (``mallopt`` and ``malloc_trim`` exist), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Keep memory freed during the block in the process for the next allocation; yields whether it could.

    glibc's ``malloc`` serves blocks above a threshold (128 KiB, growing to at most 32 MiB) with
    their own ``mmap`` and unmaps them on ``free``. A training step frees and reallocates the same
    big tensors every time (gpt-mini's 2048 x 4096 logits: 32 MiB, which malloc's bookkeeping puts
    just over that ceiling), so each step starts on fresh pages that the kernel zero-fills one
    4 KiB page fault at a time: ~44,000 faults per gpt-mini step, against ~700 with freed blocks
    kept (a few percent of a step on a 2-core VM).
    Inside the block glibc takes no new ``mmap`` blocks and trims nothing; after it, its
    thresholds are set to the ceilings its adaptive scheme grows to, and ``malloc_trim`` returns
    what is free to the OS. Elsewhere than glibc (macOS, Windows, musl) nothing changes.
    """
    global _reusing
    libc = _glibc()
    if libc is None:
        yield False
        return
    if _reusing == 0:
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
    _reusing += 1
    try:
        yield True
    finally:
        _reusing -= 1
        if _reusing == 0:
            libc.mallopt(M_MMAP_MAX, MMAPS_DEFAULT)
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
            libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_MAX)
            libc.malloc_trim(0)


def autocast(device: torch.device, precision: str) -> AbstractContextManager[Any]:
    """The forward-pass context for ``"fp32"`` (none), ``"bf16"`` or ``"fp16"``."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def model_config(model: Any) -> dict[str, Any] | None:
    """``model.config.to_dict()`` when the model has one (every llmlab model does)."""
    config = getattr(model, "config", None)
    return config.to_dict() if hasattr(config, "to_dict") else None


def progress_bar(console: Console, enabled: bool) -> Progress:
    """``train ━━━━━━━╸━━━ 120/500 loss 3.2101 41,300 tok/s ETA 0:01:32``."""
    return Progress(
        TextColumn("train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[tps]} tok/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )


class StopFlag:
    """First Ctrl-C sets ``requested`` (the loop checkpoints and returns); a second raises KeyboardInterrupt.

    Only the main thread can own signal handlers; elsewhere (a notebook worker thread) Ctrl-C
    keeps its default meaning and the loop's ``except KeyboardInterrupt`` handles it.
    """

    def __init__(self, say: Callable[[str], None]) -> None:
        self.requested, self._say, self._previous = False, say, None

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._say("stopping after this step to save a checkpoint (press Ctrl-C again to stop at once)")

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
