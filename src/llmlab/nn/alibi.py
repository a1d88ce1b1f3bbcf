"""ALiBi: attention with linear biases, position as a penalty on distance.

No position vectors at all: each head adds ``-m_h * (i - j)`` to the score of query i on key j,
so far-away tokens are penalised linearly, each head with its own slope ``m_h``. The slopes are
a geometric sequence; for ``n_head`` a power of two they are ``2^(-8h/n_head)``, h = 1..n_head,
and other head counts take the power-of-two sequence below and then every other slope of the
next power of two. Because nothing is learned per position, models extrapolate to sequences
longer than they were trained on. (BLOOM and MPT use it.)

Softmax ignores a constant added to a whole row, so ``-m(i - j)`` and ``+m j`` give the same
attention: BLOOM's implementation (``build_alibi_tensor``) uses the latter; :func:`alibi_bias`
returns the distance form, which reads as the paper.
Reference: Press, Smith and Lewis, "Train Short, Test Long" (2022).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def alibi_slopes(n_head: int) -> Tensor:
    """One slope per head, ``(n_head,)``, as in the paper's reference code."""

    def power_of_two(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))  # = 2^(-8/n)
        return [start ** (h + 1) for h in range(n)]

    if math.log2(n_head).is_integer():
        return torch.tensor(power_of_two(n_head))
    below = 2 ** math.floor(math.log2(n_head))
    extra = power_of_two(2 * below)[0::2][: n_head - below]
    return torch.tensor(power_of_two(below) + extra)


def alibi_bias(n_head: int, T: int, S: int | None = None, device=None) -> Tensor:
    """The ``(1, n_head, T, S)`` additive bias ``-m_h * (i - j)`` for queries at the last T of S positions.

    Only the causal part (j <= i) matters; future keys are masked anyway.
    """
    S = T if S is None else S
    q_pos = torch.arange(S - T, S, device=device)[:, None]  # (T, 1)
    k_pos = torch.arange(S, device=device)[None, :]  # (1, S)
    distance = (q_pos - k_pos).clamp(min=0).float()  # (T, S)
    slopes = alibi_slopes(n_head).to(device)[:, None, None]  # (H, 1, 1)
    return (-slopes * distance)[None]  # (1, H, T, S)
