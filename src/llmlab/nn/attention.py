"""Scaled dot-product attention, written out, and the masks it takes.

Attention lets every position read from every position it is allowed to see::

    att = softmax(q @ k^T / sqrt(D) + bias, masked where not allowed)   # (B, H, T, S)
    out = att @ v                                                       # (B, H, T, D)

``q`` holds the T positions asking, ``k``/``v`` the S positions being read (S > T when a KV
cache holds earlier tokens). Two masks cover every family in the zoo:

- **causal**: a decoder's position i may only read positions <= i (GPT-2, LLaMA, the T5 decoder);
- **padding**: in a batch of unequal lengths, nobody reads the pad positions (BERT, T5).

A mask here is boolean with ``True`` = "may attend", the convention of
``torch.nn.functional.scaled_dot_product_attention``, which this function equals (tested).
The models call :func:`fused_attention` when nobody asked to see the weights, and this
written-out version when they did (``return_weights=True``): same numbers, one is faster.
One exception, measured: bf16 training on a CPU at short context runs the written-out version
too, because PyTorch's CPU flash kernel is slow *backwards* in bf16 (see :func:`fused_attention`).

Reference: Vaswani et al., "Attention Is All You Need" (2017), section 3.2.1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def causal_mask(T: int, S: int | None = None, device: torch.device | str | None = None) -> Tensor:
    """``(T, S)`` boolean mask where query i (the last T of S positions) sees keys 0..S-T+i.

    With no cache S == T and this is the lower triangle. With S - T cached tokens in front,
    the queries are the *last* T positions, so the triangle is shifted right by S - T.
    """
    S = T if S is None else S
    q_pos = torch.arange(S - T, S, device=device)[:, None]  # (T, 1) absolute positions of the queries
    k_pos = torch.arange(S, device=device)[None, :]  # (1, S)
    return k_pos <= q_pos  # (T, S)


def padding_mask(attention_mask: Tensor) -> Tensor:
    """Turn a ``(B, S)`` 1/0 mask (1 = real token) into a ``(B, 1, 1, S)`` boolean mask."""
    return attention_mask.bool()[:, None, None, :]


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """AND together the masks that are given (they broadcast); ``None`` if none are."""
    out = None
    for m in masks:
        if m is not None:
            out = m if out is None else out & m
    return out


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    mask: Tensor | None = None,
    bias: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    dropout_p: float = 0.0,
    return_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Attention of ``q`` (B, H, T, D) over ``k``, ``v`` (B, H, S, D), written out step by step.

    ``mask`` is boolean, True where attending is allowed, broadcastable to (B, H, T, S);
    ``bias`` is added to the scores before the softmax (ALiBi, T5's relative positions);
    ``scale`` defaults to 1/sqrt(D) (T5 uses 1). Returns the output (B, H, T, D), and the
    weights (B, H, T, S) as well when ``return_weights`` is set.
    """
    T, S, D = q.size(-2), k.size(-2), q.size(-1)
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    # 1. similarity of every query with every key (scaling q touches T*D numbers, the scores T*S)
    scores = (q * scale) @ k.transpose(-2, -1)  # (B, H, T, S)
    # 2. forbid what may not be seen: -inf becomes probability 0 after the softmax. Added as a
    #    (T, S) term rather than filled into the (B, H, T, S) scores: an addition's backward is free
    if is_causal:
        mask = combine_masks(mask, causal_mask(T, S, device=q.device))
    if mask is not None:
        blocked = torch.zeros(mask.shape, dtype=scores.dtype, device=q.device)
        blocked.masked_fill_(~mask, float("-inf"))  # 0 where allowed, -inf where not
        bias = blocked if bias is None else bias + blocked
    # 3. position information that is not in q and k (ALiBi slopes, T5 buckets), with the mask
    if bias is not None:
        scores = scores + bias
    # 4. normalise each query's scores into a distribution over the keys
    # subtle: a row with every key masked would be all -inf -> NaN; it only happens for pad
    # queries, whose outputs nobody reads, and F.scaled_dot_product_attention gives NaN there too.
    att = torch.softmax(scores, dim=-1)  # (B, H, T, S)
    if dropout_p > 0.0:
        att = F.dropout(att, p=dropout_p)
    # 5. each query's output is the weighted average of the values it attends to
    out = att @ v  # (B, H, T, D)
    return (out, att) if return_weights else out


def repeat_kv_heads(k: Tensor, v: Tensor, n_head: int) -> tuple[Tensor, Tensor]:
    """Grouped-query attention's k, v (B, H_kv, S, D) as (B, n_head, S, D): each KV head serves
    ``n_head / H_kv`` consecutive query heads (a copy; the fused kernel shares them without one)."""
    repeat = n_head // k.size(1)
    if repeat == 1:
        return k, v
    return k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)


WRITTEN_OUT_MAX_KEYS = 512  # CPU bf16 training: the written-out attention up to this many keys


def fused_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    mask: Tensor | None = None,
    bias: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    dropout_p: float = 0.0,
    enable_gqa: bool = False,
) -> Tensor:
    """The same computation through PyTorch's fused kernel (flash / memory-efficient / math).

    ``enable_gqa`` lets k and v have fewer heads than q (grouped-query attention) without copying them.

    PyTorch takes either a boolean mask or an additive float mask, so a bias and a mask are
    folded into one float mask; a causal mask with a cache in front is built explicitly because
    ``is_causal=True`` in PyTorch assumes the queries start at position 0.

    bf16 training on a CPU with at most ``WRITTEN_OUT_MAX_KEYS`` keys goes to the written-out
    :func:`scaled_dot_product_attention` instead: there the whole (T, S) weight matrix is small, and
    four batched matmuls beat the flash kernel's backward (forward + backward of 8 x 6 heads at
    T = 256, D = 64 on two cores: 15-19 ms written out vs 39 ms fused; 16 vs 23 ms for 2 x 6 heads
    at T = 512; at T = 1024 the fused kernel is faster). fp32 and inference keep the fused kernel,
    which wins there.
    """
    T, S = q.size(-2), k.size(-2)
    if (
        q.device.type == "cpu"
        and q.dtype == torch.bfloat16
        and S <= WRITTEN_OUT_MAX_KEYS
        and torch.is_grad_enabled()
        and q.requires_grad
    ):
        if enable_gqa:
            k, v = repeat_kv_heads(k, v, q.size(1))
        return scaled_dot_product_attention(
            q, k, v, mask=mask, bias=bias, is_causal=is_causal, scale=scale, dropout_p=dropout_p
        )  # type: ignore[return-value]
    if is_causal and T == 1:  # one query, the newest position, sees every key: nothing to mask
        is_causal = False  # (the common case when decoding with a KV cache; saves building a mask)
    if is_causal and (T != S or mask is not None or bias is not None):
        mask = combine_masks(mask, causal_mask(T, S, device=q.device))
        is_causal = False
    attn_mask = mask
    if bias is not None:
        attn_mask = bias if mask is None else torch.where(mask, bias, float("-inf"))
    return F.scaled_dot_product_attention(
        q,
        k,
        v,
        attn_mask=attn_mask,
        dropout_p=dropout_p,
        is_causal=is_causal,
        scale=scale,
        enable_gqa=enable_gqa,
    )
