"""A preallocated key/value cache: why generating token n+1 does not redo tokens 1..n.

When a decoder generates, each new token attends to all earlier tokens. Their keys and values
do not change (causal attention: earlier positions never see later ones), so each layer keeps
them and the next step only computes q, k, v for the new token::

    step 1: prompt of T tokens  -> write k, v at [0, T)      attend over [0, T)
    step 2: 1 new token         -> write k, v at [T, T+1)    attend over [0, T+1)

The buffers are allocated once at ``max_seq_len`` (no ``torch.cat`` growing them every step);
each layer's :meth:`LayerKVCache.update` writes into its slice and returns a view of everything
so far. Keys are cached *after* RoPE, so cached positions are never rotated again.
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmlab.models.base import ContextLengthError


class LayerKVCache:
    """Keys and values of one attention layer: two ``(B, n_kv_head, max_seq_len, head_dim)`` buffers."""

    def __init__(
        self, batch_size: int, n_kv_head: int, max_seq_len: int, head_dim: int, *, dtype=None, device=None
    ) -> None:
        shape = (batch_size, n_kv_head, max_seq_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0  # positions filled so far

    @property
    def max_seq_len(self) -> int:
        return self.k.size(2)

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``k``, ``v`` (B, n_kv_head, T, head_dim); return all keys/values so far (B, n_kv_head, S, D)."""
        T = k.size(2)
        end = self.length + T
        if end > self.max_seq_len:
            raise ContextLengthError(
                f"KV cache is full: {self.length} cached + {T} new tokens > its {self.max_seq_len} slots"
            )
        self.k[:, :, self.length : end] = k
        self.v[:, :, self.length : end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


class KVCache:
    """One :class:`LayerKVCache` per layer, plus the count of tokens already processed."""

    def __init__(
        self,
        n_layer: int,
        batch_size: int,
        n_kv_head: int,
        max_seq_len: int,
        head_dim: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        self.layers = [
            LayerKVCache(batch_size, n_kv_head, max_seq_len, head_dim, dtype=dtype, device=device)
            for _ in range(n_layer)
        ]

    def __getitem__(self, i: int) -> LayerKVCache:
        return self.layers[i]

    @property
    def seq_len(self) -> int:
        """Tokens cached so far (read it *before* a forward pass: layers update as they run)."""
        return self.layers[0].length

    @property
    def max_seq_len(self) -> int:
        return self.layers[0].max_seq_len

    def reset(self) -> None:
        """Forget everything (the buffers are kept and overwritten)."""
        for layer in self.layers:
            layer.length = 0

    def crop(self, length: int) -> None:
        """Keep only the first ``length`` positions (beam search and speculative decoding rewind)."""
        for layer in self.layers:
            layer.length = min(layer.length, length)

    def reorder(self, index: Tensor) -> None:
        """Reorder the batch rows (beam search keeps the best beams): ``index`` (B,) of row ids."""
        for layer in self.layers:
            layer.k = layer.k.index_select(0, index)
            layer.v = layer.v.index_select(0, index)
