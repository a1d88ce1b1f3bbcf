"""Batches from a flat array of token ids: random windows for training, every window once for
evaluation, and packing of separate documents into fixed-length rows.

A language model trains on windows of ``seq_len + 1`` consecutive ids: the input is the first
``seq_len``, the target the same window shifted by one (``y[t] = x[t + 1]``), so every position
predicts its next token::

    tokens  ... 464 3290 318 257 ...      window of seq_len + 1 = 5 ids
    x           464 3290 318 257          (B, T) inputs
    y               3290 318 257 13       (B, T) targets

* :class:`RandomWindows`: training; each batch takes ``batch_size`` windows at uniformly random
  starts (nanoGPT's ``get_batch``). A checkpoint stores its :meth:`~RandomWindows.state_dict`
  (step counter and generator state), so a resumed run draws exactly the batches an
  uninterrupted one would have drawn.
* :class:`SequentialBatches`: evaluation; the non-overlapping windows at ``0, T, 2T, ...``, each
  once, in order, so a validation loss is the same number on every call.
* :func:`pack`: documents joined with an end-of-text id and cut into rows with no padding. As in
  GPT-2's training, attention still crosses document boundaries inside a row (a token of one
  document may attend to the end of the previous one); the end-of-text id tells the model a new
  document starts. :func:`document_mask` builds the block-diagonal mask that forbids it instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from llmlab.errors import LLMLabError


def check_enough(n_tokens: int, seq_len: int, what: str = "the token array") -> None:
    """A window needs ``seq_len + 1`` ids (inputs plus the one shifted target)."""
    if seq_len < 1:
        raise LLMLabError(f"seq_len must be at least 1, got {seq_len}")
    if n_tokens < seq_len + 1:
        raise LLMLabError(
            f"{what} is too small for seq_len={seq_len}: "
            f"need at least seq_len + 1 tokens in each split, got {n_tokens}"
        )


def _as_numpy(tokens: np.ndarray | Tensor | Sequence[int]) -> np.ndarray:
    if isinstance(tokens, Tensor):
        return tokens.detach().cpu().numpy()
    arr = tokens if isinstance(tokens, np.ndarray) else np.asarray(tokens, dtype=np.int64)
    if arr.ndim != 1:
        raise LLMLabError(f"tokens must be a flat array of ids, got shape {tuple(arr.shape)}")
    return arr


def _rows(tokens: np.ndarray, starts: Tensor, seq_len: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Windows of ``seq_len + 1`` ids at ``starts`` (B,), split into (x, y), each (B, T) int64."""
    idx = starts.numpy()[:, None] + np.arange(seq_len + 1)  # (B, T + 1)
    rows = torch.from_numpy(tokens[idx].astype(np.int64))  # subtle: reads only these pages of a memmap
    x, y = rows[:, :-1].contiguous(), rows[:, 1:].contiguous()  # (B, T), (B, T)
    if device.type == "cuda":  # pinned host memory lets the copy overlap with compute
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)


class RandomWindows:
    """Endless training batches ``(x, y)``, each (batch_size, seq_len), at seeded random starts.

    Each start is uniform over ``0 .. n - seq_len - 1``. Distributed runs give every rank its own
    ``seed`` (e.g. ``seed + rank``) so ranks read different windows.

    >>> batches = RandomWindows(tf.train, batch_size=8, seq_len=256, seed=0)   # doctest: +SKIP
    >>> x, y = next(batches)                      # (8, 256) each; y[:, :-1] == x[:, 1:]
    >>> state = batches.state_dict()              # into the checkpoint; later load_state_dict(state)
    """

    def __init__(
        self,
        tokens: np.ndarray | Tensor | Sequence[int],
        batch_size: int,
        seq_len: int,
        seed: int = 0,
        *,
        device: str | torch.device = "cpu",
    ):
        if batch_size < 1:
            raise LLMLabError(f"batch_size must be at least 1, got {batch_size}")
        self.tokens = _as_numpy(tokens)
        check_enough(len(self.tokens), seq_len)
        self.batch_size, self.seq_len, self.seed = batch_size, seq_len, seed
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.step = 0  # batches drawn so far

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self

    def __next__(self) -> tuple[Tensor, Tensor]:
        n_starts = len(self.tokens) - self.seq_len  # the last window ends on the last token
        starts = torch.randint(n_starts, (self.batch_size,), generator=self.generator)  # (B,)
        self.step += 1
        return _rows(self.tokens, starts, self.seq_len, self.device)

    def next_batch(self) -> tuple[Tensor, Tensor]:
        """The trainer's name for ``next(batches)`` (see ``llmlab.training.trainer.BatchSource``)."""
        return next(self)

    def state_dict(self) -> dict[str, Any]:
        """Where the stream is: enough to continue it exactly (torch.save-able)."""
        return {
            "step": self.step,
            "generator": self.generator.get_state(),  # a uint8 tensor
            "seed": self.seed,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "n_tokens": len(self.tokens),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; refuse when the shape of the stream differs (it would not be
        the same run any more)."""
        for key in ("batch_size", "seq_len", "n_tokens"):
            mine = len(self.tokens) if key == "n_tokens" else getattr(self, key)
            if state.get(key) != mine:
                raise LLMLabError(
                    f"cannot resume the batch stream: the checkpoint has {key}={state.get(key)}, "
                    f"this run has {key}={mine}; resume with the same data and batch settings"
                )
        self.generator.set_state(state["generator"])
        self.step, self.seed = int(state["step"]), int(state["seed"])


class SequentialBatches:
    """Every non-overlapping window once, in order: starts ``0, T, 2T, ...`` while a window of
    ``T + 1`` ids fits. The last batch may be smaller; at most ``T`` ids at the end are never
    targets. ``max_batches`` stops early (the first ones, so still deterministic).

    >>> for x, y in SequentialBatches(tf.val, batch_size=16, seq_len=256): ...   # doctest: +SKIP
    """

    def __init__(
        self,
        tokens: np.ndarray | Tensor | Sequence[int],
        batch_size: int,
        seq_len: int,
        *,
        max_batches: int | None = None,
        device: str | torch.device = "cpu",
    ):
        if batch_size < 1:
            raise LLMLabError(f"batch_size must be at least 1, got {batch_size}")
        self.tokens = _as_numpy(tokens)
        check_enough(len(self.tokens), seq_len)
        self.batch_size, self.seq_len, self.device = batch_size, seq_len, torch.device(device)
        self.n_windows = (len(self.tokens) - 1) // seq_len
        n_batches = -(-self.n_windows // batch_size)  # ceil
        self.n_batches = n_batches if max_batches is None else min(n_batches, max_batches)

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for b in range(self.n_batches):
            first = b * self.batch_size
            window = torch.arange(first, min(first + self.batch_size, self.n_windows))  # (B,)
            yield _rows(self.tokens, window * self.seq_len, self.seq_len, self.device)


def pack(
    documents: Iterable[Sequence[int]],
    seq_len: int,
    eot_id: int,
    *,
    return_document_ids: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Concatenate documents, each followed by ``eot_id``, and cut the stream into rows.

    Returns ``rows`` (R, seq_len) int64, and with ``return_document_ids`` also ``doc_ids``
    (R, seq_len): the index of the document each position belongs to (its ``eot_id`` included).
    The stream's last ``< seq_len`` ids are dropped, so no row holds padding. A document may run
    on into the next row. To train at context T with shifted targets, pack with ``seq_len=T + 1``
    and let :class:`~llmlab.training.objectives.CausalLM` cut inputs and targets from each row.
    """
    if seq_len < 1:
        raise LLMLabError(f"seq_len must be at least 1, got {seq_len}")
    ids: list[int] = []
    doc: list[int] = []
    for i, d in enumerate(documents):
        ids.extend(d)
        ids.append(eot_id)
        doc.extend([i] * (len(d) + 1))
    n_rows = len(ids) // seq_len
    if n_rows == 0:
        raise LLMLabError(
            f"too few tokens to pack: {len(ids)} (with end-of-text ids) for one row of {seq_len}"
        )
    keep = n_rows * seq_len
    rows = torch.tensor(ids[:keep], dtype=torch.long).view(n_rows, seq_len)  # (R, seq_len)
    if not return_document_ids:
        return rows
    return rows, torch.tensor(doc[:keep], dtype=torch.long).view(n_rows, seq_len)


def document_mask(doc_ids: Tensor) -> Tensor:
    """Causal and block-diagonal: position t may attend to s iff ``s <= t`` and both belong to
    the same document. (B, T) -> (B, 1, T, T) bool, True = allowed, the ``mask`` convention of
    :func:`llmlab.nn.attention.scaled_dot_product_attention`. A packed row trained with this mask
    sees the same context as if its documents had been fed one by one."""
    T = doc_ids.shape[-1]
    same = doc_ids[:, :, None] == doc_ids[:, None, :]  # (B, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=doc_ids.device).tril()  # (T, T)
    return (same & causal)[:, None]  # (B, 1, T, T)
