"""Normalisation layers: LayerNorm (GPT-2, BERT) and RMSNorm (LLaMA, T5).

Both rescale each token's vector so activations neither explode nor vanish through many layers;
they differ in what they remove:

- **LayerNorm** centres and scales: ``y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias``
  (biased variance, over the last dimension). Ba, Kiros and Hinton (2016).
- **RMSNorm** only scales: ``y = x / sqrt(mean(x^2) + eps) * weight``; no mean, no bias, a little
  cheaper and in practice as good. Zhang and Sennrich (2019). T5 calls it "T5LayerNorm".

:func:`layer_norm` and :func:`rms_norm` are the formulas written out; :class:`LayerNorm` and
:class:`RMSNorm` run PyTorch's fused kernels, which compute the same things in one pass over memory
instead of about nine, and with one operator call instead of five: when decoding one token at a
time the calls, not the arithmetic, are the cost (tested equal). RMSNorm computes in float32
even for half-precision input and casts back *before* the weight, as LLaMA's reference code
does, so bf16 runs stay close to fp32 ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor | None, eps: float) -> Tensor:
    """LayerNorm step by step: centre, divide by the standard deviation, gain, bias."""
    mean = x.mean(dim=-1, keepdim=True)  # (B, T, 1)
    var = (x - mean).pow(2).mean(dim=-1, keepdim=True)  # (B, T, 1), the biased variance
    y = (x - mean) * torch.rsqrt(var + eps) * weight
    return y + bias if bias is not None else y


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """RMSNorm step by step, in float32: divide by the root mean square, cast back, then the gain."""
    x32 = x.float()
    y = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + eps)  # (B, T, C)
    return weight * y.to(x.dtype)


class LayerNorm(nn.Module):
    """Centre, scale to unit variance, then apply a learned gain and (optionally) a bias."""

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, (x.size(-1),), self.weight, self.bias, self.eps)  # = layer_norm(), fused


class RMSNorm(nn.Module):
    """Scale by the root mean square, then a learned gain; no centring, no bias."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == torch.float32 and self.weight.dtype == torch.float32:  # one call, gain included
            return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)  # = rms_norm(), fused
        y = F.rms_norm(x.float(), (x.size(-1),), eps=self.eps)  # = rms_norm() before the gain, fused
        return self.weight * y.to(x.dtype)
