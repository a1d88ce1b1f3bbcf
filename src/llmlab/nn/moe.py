"""A mixture-of-experts feed-forward layer: many MLPs, each token uses only k of them.

Instead of one feed-forward block, keep ``n_expert`` of them and a *router* that picks, for
each token, the ``top_k`` experts to run. Parameters grow with the number of experts while the
compute per token stays that of ``top_k`` experts (Mixtral: 8 experts, 2 per token).

For each token x (Mixtral's formulation):

1. router scores: ``p = softmax(W_r x)`` over the experts;
2. keep the ``top_k`` largest and renormalise them to sum to 1: weights ``w_1..w_k``;
3. output: ``sum_j w_j * expert_j(x)`` (each expert a SwiGLU MLP).

Left alone, a router collapses onto a few favourite experts. The **load-balancing loss** of the
Switch Transformer pushes towards uniform use: with ``f_e`` the fraction of routing slots sent
to expert e and ``P_e`` the mean router probability of e, ``loss = n_expert * sum_e f_e * P_e``,
which is ``top_k`` for a perfectly balanced router (1.0 with top-1) and up to ``n_expert``
times that when every token goes to the same experts.
References: Shazeer et al. (2017); Fedus et al., "Switch Transformers" (2021); Jiang et al., "Mixtral" (2024).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmlab.nn.feedforward import SwiGLU


def load_balancing_loss(router_logits: Tensor, top_k: int) -> Tensor:
    """Switch-style auxiliary loss from ``router_logits`` (N tokens, n_expert)."""
    n_expert = router_logits.size(-1)
    probs = torch.softmax(router_logits.float(), dim=-1)  # (N, E)
    chosen = probs.topk(top_k, dim=-1).indices  # (N, k)
    # f_e: share of the N * k routing slots that went to expert e, as a fraction of N tokens
    f = F.one_hot(chosen, n_expert).float().sum(dim=(0, 1)) / router_logits.size(0)  # (E,)
    P = probs.mean(dim=0)  # (E,) mean router probability
    return n_expert * (f * P).sum()


class MoE(nn.Module):
    """Top-k routed SwiGLU experts. ``forward`` returns the output and the router logits."""

    def __init__(self, d_model: int, d_ff: int, n_expert: int, top_k: int = 2) -> None:
        super().__init__()
        if not 1 <= top_k <= n_expert:
            raise ValueError(f"top_k must be between 1 and n_expert={n_expert}, got {top_k}")
        self.top_k = top_k
        self.router = nn.Linear(d_model, n_expert, bias=False)
        self.experts = nn.ModuleList(SwiGLU(d_model, d_ff) for _ in range(n_expert))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        B, T, C = x.shape
        x = x.reshape(B * T, C)  # (N, C): routing is per token
        router_logits = self.router(x)  # (N, E)
        probs = torch.softmax(router_logits.float(), dim=-1)
        weights, chosen = probs.topk(self.top_k, dim=-1)  # (N, k) each
        weights = (weights / weights.sum(dim=-1, keepdim=True)).to(x.dtype)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(chosen == e)  # which tokens picked expert e, in which slot
            if token.numel() == 0:
                continue  # an expert nobody chose costs nothing
            out.index_add_(0, token, expert(x[token]) * weights[token, slot, None])
        return out.reshape(B, T, C), router_logits
