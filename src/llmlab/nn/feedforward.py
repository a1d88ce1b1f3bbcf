"""The feed-forward block: the per-token MLP between attention layers.

Attention mixes information *across* positions; the feed-forward block then transforms each
position on its own. It widens the vector (GPT-2: ``d_ff = 4 * d_model``), applies a
non-linearity and projects back. Most of a transformer's parameters live here.

- :class:`MLP` (GPT-2, BERT, T5 v1.0): ``down(act(up(x)))`` with GELU or ReLU.
- :class:`SwiGLU` (LLaMA, Mistral): a *gated* unit, ``down(silu(gate(x)) * up(x))``: one branch
  decides how much of the other to let through. With three matrices instead of two, LLaMA sets
  ``d_ff`` near ``8/3 * d_model`` to keep the parameter count of a 4x MLP.
  Shazeer, "GLU Variants Improve Transformer" (2020).

GELU comes in two forms: the exact ``x * Phi(x)`` (BERT) and GPT-2's tanh approximation
``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``; using the wrong one costs ~1e-3 per
activation, enough to fail a parity test, so the choice is explicit. Both are written out below as the
formulas; the layers call PyTorch's fused ``F.gelu``, which computes the same values (tested)
in one pass instead of five.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def gelu_tanh(x: Tensor) -> Tensor:
    """GPT-2's GELU: the tanh approximation of ``x * Phi(x)``."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gelu_exact(x: Tensor) -> Tensor:
    """BERT's GELU: ``x * Phi(x)`` with Phi the standard normal CDF."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _fused_gelu_tanh(x: Tensor) -> Tensor:
    return F.gelu(x, approximate="tanh")  # = gelu_tanh(x)


ACTIVATIONS = {"gelu_tanh": _fused_gelu_tanh, "gelu": F.gelu, "relu": F.relu, "silu": F.silu}


class MLP(nn.Module):
    """``down(act(up(x)))``: widen to ``d_ff``, apply the non-linearity, project back."""

    def __init__(self, d_model: int, d_ff: int, activation: str = "gelu_tanh", bias: bool = True) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
        self.act = ACTIVATIONS[activation]
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.down = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.up(x)))  # (B, T, C) -> (B, T, d_ff) -> (B, T, C)


class SwiGLU(nn.Module):
    """``down(silu(gate(x)) * up(x))``: a SiLU-gated linear unit (no biases, as in LLaMA)."""

    def __init__(self, d_model: int, d_ff: int, bias: bool = False, activation: str = "silu") -> None:
        super().__init__()
        self.act = ACTIVATIONS[activation]
        self.gate = nn.Linear(d_model, d_ff, bias=bias)
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.down = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate(x), self.up(x)  # (B, T, d_ff) each
        if gate.requires_grad:  # training: plain ops that autograd can follow
            return self.down(self.act(gate) * up)  # gated, back to (B, T, C)
        # inference: gate in place, no (B, T, d_ff) temporaries; same numbers, measurably faster on CPU
        if self.act is F.silu:
            return self.down(F.silu(gate, inplace=True).mul_(up))
        return self.down(self.act(gate).mul_(up))
