"""Absolute position embeddings: a vector per position added to each token's embedding.

Attention by itself is order-blind (permute the tokens and each output permutes the same way),
so something must tell the model where each token is. The oldest answers add a position vector
to the token vector before the first layer:

- **sinusoidal** (the original Transformer; fixed, no parameters)::

      PE[pos, 2i]   = sin(pos / 10000^(2i / d_model))
      PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))

  Each pair of channels is a clock at its own frequency, from fast (i = 0) to very slow.
- **learned** (GPT-2, BERT): an ``nn.Embedding(max_seq_len, d_model)`` trained like the token
  table; it cannot go past ``max_seq_len``.

Relative schemes that act inside attention instead live in ``rope.py`` and ``alibi.py``.
Reference: Vaswani et al. (2017), section 3.5.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sinusoidal_positions(max_seq_len: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The ``(max_seq_len, d_model)`` table of sines and cosines (``d_model`` even)."""
    if d_model % 2:
        raise ValueError(f"sinusoidal positions need an even d_model, got {d_model}")
    pos = torch.arange(max_seq_len, dtype=torch.float32)[:, None]  # (T, 1)
    inv_freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (d_model/2,)
    angles = pos * inv_freq  # (T, d_model/2)
    table = torch.zeros(max_seq_len, d_model)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal table (a buffer, not a parameter) for positions offset..offset+T."""

    def __init__(self, max_seq_len: int, d_model: int) -> None:
        super().__init__()
        self.register_buffer("table", sinusoidal_positions(max_seq_len, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        T = x.size(1)
        return x + self.table[offset : offset + T].to(x.dtype)  # (B, T, C)


class LearnedPositions(nn.Module):
    """A trained vector per position (GPT-2's ``wpe``, BERT's ``position_embeddings``)."""

    def __init__(self, max_seq_len: int, d_model: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(max_seq_len, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        T = x.size(1)
        return x + self.weight[offset : offset + T]  # (B, T, C)
