"""T5's relative position bias: position as a learned number per (distance bucket, head).

T5 adds no position vector to the tokens. Instead, every attention score of query i on key j
gets a scalar that depends only on the *offset* ``j - i`` and the head::

    scores[b, h, i, j] = q_i . k_j + table[bucket(j - i), h]        (no 1/sqrt(D) scaling)

The offsets are grouped into ``num_buckets`` buckets (32 in every T5): small offsets get a
bucket each, larger ones share logarithmically wider buckets, and everything at or beyond
``max_distance`` (128) shares the last bucket. In the **encoder** (bidirectional) half the
buckets are for keys to the left and half for keys to the right; the **decoder** (causal) only
ever looks left, so all buckets go to the past.

Worked example (bidirectional, 32 buckets, max distance 128; computed by
:func:`relative_position_bucket`, see ``docs/models.md``)::

    offset j - i : -200 -128 -64 -32 -16 -9 -8 -7 -2 -1  0  1  2  7  8  9 16 32  64 128 200
    bucket       :   15   15  14  12  10  8  8  7  2  1  0 17 18 23 24 24 26 28  30  31  31

Offsets -7..7 are exact; -8 and -9 share bucket 8; -128 and -200 share bucket 15.

Unlike ALiBi (a fixed penalty) the table is learned; unlike learned absolute positions it has
no row per position, so any length can be fed (buckets saturate at ``max_distance``).
Each stack computes the bias once, in its first layer, and every layer reuses it (only block 0
of each HF stack holds ``relative_attention_bias``).
Reference: Raffel et al., "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
Transformer" (2020), section 2.1; Shaw et al., "Self-Attention with Relative Position
Representations" (2018); Mesh TensorFlow's ``_relative_position_bucket``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def relative_position_bucket(
    relative_position: Tensor, *, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
) -> Tensor:
    """Map offsets ``key_pos - query_pos`` (any shape, int64) to bucket ids in ``[0, num_buckets)``.

    1. bidirectional: the upper half of the buckets is for keys to the right (offset > 0);
       causal: future offsets (never attended) fold onto 0.
    2. distances below ``max_exact = num_buckets // 2`` (of the half) get one bucket each;
    3. larger ones get ``max_exact + log(n / max_exact) / log(max_distance / max_exact) * rest``,
       capped at the last bucket.
    """
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * num_buckets  # right side: upper half
        n = relative_position.abs()
    else:
        n = (-relative_position).clamp(min=0)  # distance into the past; the future folds onto 0
    max_exact = num_buckets // 2
    is_small = n < max_exact
    # subtle: log(0) is -inf and casting it to int is undefined; n >= 1 changes no bucket that is
    # used (n < max_exact takes the exact branch) and keeps the float ops identical to Mesh TF's.
    log_ratio = torch.log(n.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(is_small, n, large)


class RelativePositionBias(nn.Module):
    """The learned ``(num_buckets, n_head)`` table, read as a ``(1, n_head, T, S)`` score bias."""

    def __init__(
        self, n_head: int, num_buckets: int = 32, max_distance: int = 128, *, bidirectional: bool
    ) -> None:
        super().__init__()
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.weight = nn.Parameter(torch.zeros(num_buckets, n_head))

    def buckets(self, T: int, S: int, offset: int = 0) -> Tensor:
        """Bucket ids ``(T, S)`` for queries at positions ``offset..offset+T-1`` and keys ``0..S-1``."""
        device = self.weight.device
        q_pos = torch.arange(offset, offset + T, device=device)[:, None]  # (T, 1)
        k_pos = torch.arange(S, device=device)[None, :]  # (1, S)
        return relative_position_bucket(
            k_pos - q_pos,
            bidirectional=self.bidirectional,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
        )  # (T, S)

    def forward(self, T: int, S: int, offset: int = 0) -> Tensor:
        """The bias added to the attention scores: ``(1, n_head, T, S)``."""
        values = self.weight[self.buckets(T, S, offset)]  # (T, S, n_head)
        return values.permute(2, 0, 1).unsqueeze(0)  # (1, n_head, T, S)
