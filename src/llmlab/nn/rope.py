"""Rotary position embeddings (RoPE): position as a rotation of q and k, in two layouts.

Instead of adding a position vector, RoPE rotates each query and key: channel pairs
``(x_a, x_b)`` are turned by an angle ``pos * theta_i`` where ``theta_i = base^(-2i/D)``::

    x_a' = x_a cos(pos theta_i) - x_b sin(pos theta_i)
    x_b' = x_b cos(pos theta_i) + x_a sin(pos theta_i)

A dot product of two rotated vectors then depends only on the *difference* of their positions,
so attention sees relative position for free, and nothing is added to the residual stream.

Which channels form a pair is a convention, and both are in the wild:

- **half-split** (HF LLaMA, ``rotate_half``): channel i pairs with channel i + D/2;
- **interleaved** (Meta's original LLaMA, GPT-J, llama.cpp/GGUF): channel 2i pairs with 2i+1.

They are the same model up to a fixed permutation of the q/k projection rows
(:func:`interleaved_to_half`), which is exactly what a GGUF -> HF converter has to undo.
Reference: Su et al., "RoFormer" (2021).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def rope_frequencies(head_dim: int, base: float = 10000.0) -> Tensor:
    """``theta_i = base^(-2i/D)`` for i in 0..D/2: one angle speed per channel pair, (D/2,)."""
    return 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, interleaved: bool = False) -> Tensor:
    """Rotate ``x`` (B, H, T, D) pair by pair; ``cos``/``sin`` are (T, D/2), one angle per pair.

    ``x_a`` is the first member of each pair and ``x_b`` its partner: the first and second half
    of the channels (half-split), or the even and odd channels (interleaved). This is the
    formula as written above; :class:`RotaryEmbedding` computes the same numbers with
    :func:`rotate_with_tables`, which needs fewer operations.
    """
    xa, xb = (x[..., 0::2], x[..., 1::2]) if interleaved else x.chunk(2, dim=-1)  # (B, H, T, D/2) each
    a, b = xa * cos - xb * sin, xb * cos + xa * sin
    return torch.stack((a, b), dim=-1).flatten(-2) if interleaved else torch.cat((a, b), dim=-1)


def swap_pairs(x: Tensor, interleaved: bool = False) -> Tensor:
    """A copy of ``x`` (..., D) with the two members of every channel pair swapped."""
    if interleaved:  # (a0, b0, a1, b1, ...) -> (b0, a0, b1, a1, ...)
        return x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)
    return x.roll(x.size(-1) // 2, dims=-1)  # (a..., b...) -> (b..., a...)


def rope_tables(cos: Tensor, sin: Tensor, interleaved: bool = False) -> tuple[Tensor, Tensor]:
    """Per-pair ``cos``/``sin`` (T, D/2) -> per-channel tables (T, D) for :func:`rotate_with_tables`.

    Both members of a pair get the pair's cosine; the sine gets a minus on ``x_a``'s channel.
    """
    if interleaved:
        return cos.repeat_interleave(2, dim=-1), torch.stack((-sin, sin), dim=-1).flatten(-2)
    return torch.cat((cos, cos), dim=-1), torch.cat((-sin, sin), dim=-1)


def rotate_with_tables(x: Tensor, cos: Tensor, sin: Tensor, interleaved: bool = False) -> Tensor:
    """:func:`apply_rope` in four operations: ``x * cos + swap_pairs(x) * sin`` with (T, D) tables.

    Channel ``a`` gets ``x_a cos + x_b (-sin)`` and channel ``b`` gets ``x_b cos + x_a sin``: the
    same products and sums as the formula, so the result is bit-for-bit the same (tested). At
    inference the sum is built in place, without temporaries: decoding one token, the number of
    operator calls is the cost, not the arithmetic.
    """
    partner = swap_pairs(x, interleaved)
    if torch.is_grad_enabled() and x.requires_grad:  # training: plain ops that autograd can follow
        return x * cos + partner * sin
    return torch.mul(x, cos).add_(partner.mul_(sin))


def interleaved_to_half(w: Tensor, n_head: int) -> Tensor:
    """Permute the rows of a q or k projection ``(n_head * D, C)`` from interleaved to half-split pairs.

    Within each head, rows (0, 1, 2, 3, ...) = (a0, b0, a1, b1, ...) become (a0, a1, ..., b0, b1, ...).
    """
    rows, cols = w.shape[0], w.shape[1:]
    D = rows // n_head
    return w.reshape(n_head, D // 2, 2, *cols).transpose(1, 2).reshape(rows, *cols)


def half_to_interleaved(w: Tensor, n_head: int) -> Tensor:
    """The inverse of :func:`interleaved_to_half` (what HF -> GGUF converters apply)."""
    rows, cols = w.shape[0], w.shape[1:]
    D = rows // n_head
    return w.reshape(n_head, 2, D // 2, *cols).transpose(1, 2).reshape(rows, *cols)


class RotaryEmbedding(nn.Module):
    """Precomputed rotation tables for positions 0..max_seq_len, applied to q and k in either layout.

    ``cos`` and ``sin`` are (max_seq_len, D): per channel, in the layout's order (see :func:`rope_tables`).
    """

    def __init__(
        self, head_dim: int, max_seq_len: int, base: float = 10000.0, interleaved: bool = False
    ) -> None:
        super().__init__()
        self.interleaved = interleaved
        angles = torch.outer(torch.arange(max_seq_len, dtype=torch.float32), rope_frequencies(head_dim, base))
        cos, sin = rope_tables(angles.cos(), angles.sin(), interleaved)  # (max_seq_len, D) each
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, q: Tensor, k: Tensor, offset: int = 0) -> tuple[Tensor, Tensor]:
        """Rotate q (B, H, T, D) and k (B, H_kv, T, D) for positions offset..offset+T."""
        T = q.size(-2)
        cos = self.cos[offset : offset + T].to(q.dtype)  # (T, D)
        sin = self.sin[offset : offset + T].to(q.dtype)
        return (
            rotate_with_tables(q, cos, sin, self.interleaved),
            rotate_with_tables(k, cos, sin, self.interleaved),
        )
