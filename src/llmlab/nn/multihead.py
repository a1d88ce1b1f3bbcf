"""Multi-head attention, and its cheaper cousins grouped-query and multi-query attention.

One attention head sees one ``head_dim``-wide projection of the tokens. Multi-head attention
runs ``n_head`` of them in parallel on different projections and concatenates the results, so
different heads can track different relations (syntax, coreference, the previous token...)::

    q = x W_q   (B, T, n_head * D)  -> split into heads (B, n_head, T, D)
    k = x W_k   (B, T, n_kv_head * D)
    v = x W_v   (B, T, n_kv_head * D)
    out = concat_h attention(q_h, k_h, v_h) W_o

With ``n_kv_head < n_head`` several query heads share one key/value head: **grouped-query
attention** (LLaMA 2 70B, SmolLM2: 9 query heads, 3 KV heads) and, at ``n_kv_head = 1``,
**multi-query attention**. It shrinks the KV cache by ``n_head / n_kv_head``; with
``n_kv_head = n_head`` it is plain multi-head attention (tested).

Positions enter in one of three ways, passed in by the model: nothing here (learned or
sinusoidal positions were added to x already), ``rope`` rotating q and k, or an additive
``bias`` on the scores (ALiBi, T5). References: Vaswani et al. (2017); Shazeer, "Fast
Transformer Decoding" (2019, MQA); Ainslie et al., "GQA" (2023).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmlab.nn.attention import fused_attention, repeat_kv_heads, scaled_dot_product_attention
from llmlab.nn.kv_cache import LayerKVCache
from llmlab.nn.rope import RotaryEmbedding


class MultiHeadAttention(nn.Module):
    """Self- or cross-attention with ``n_head`` query heads and ``n_kv_head`` key/value heads."""

    def __init__(
        self,
        d_model: int,
        n_head: int,
        n_kv_head: int | None = None,
        head_dim: int | None = None,
        *,
        bias: bool = True,
        out_bias: bool | None = None,
        dropout: float = 0.0,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        self.n_head = n_head
        self.n_kv_head = n_head if n_kv_head is None else n_kv_head
        if n_head % self.n_kv_head:
            raise ValueError(f"n_head={n_head} must be a multiple of n_kv_head={self.n_kv_head}")
        self.head_dim = d_model // n_head if head_dim is None else head_dim
        self.dropout = dropout
        self.scale = scale  # None -> 1/sqrt(head_dim); T5 uses 1.0
        self.q = nn.Linear(d_model, n_head * self.head_dim, bias=bias)
        self.k = nn.Linear(d_model, self.n_kv_head * self.head_dim, bias=bias)
        self.v = nn.Linear(d_model, self.n_kv_head * self.head_dim, bias=bias)
        self.o = nn.Linear(n_head * self.head_dim, d_model, bias=bias if out_bias is None else out_bias)

    def project(self, x: Tensor, source: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``x W_q``, ``source W_k``, ``source W_v``: (B, T, n_head * D) and (B, S, n_kv_head * D) twice.

        In training self-attention the three products are one: ``x [W_q; W_k; W_v]``, split after.
        Same values, but one wide product and its two backward products instead of nine narrow
        ones (a gpt-mini step on 2 CPU cores: ~8 ms less per layer). GPT-2's own checkpoint
        stores the matrices packed this way (``c_attn``). At inference (no gradients) the
        separate products stay: a one-token decoding step would pay for a copy of the three
        matrices to save two calls. Wrapped projections (anything but a plain ``nn.Linear``)
        always run on their own.
        """
        q, k, v = self.q, self.k, self.v
        plain = type(q) is type(k) is type(v) is nn.Linear
        if not (source is x and torch.is_grad_enabled() and plain and (q.bias is None) == (k.bias is None)):
            return q(x), k(source), v(source)
        bias = None if q.bias is None else torch.cat([q.bias, k.bias, v.bias])  # k and v share a bias setting
        qkv = F.linear(x, torch.cat([q.weight, k.weight, v.weight]), bias)  # (B, T, (n_head + 2 n_kv_head) D)
        return qkv.split([q.out_features, k.out_features, v.out_features], dim=-1)

    def split_heads(self, x: Tensor, n: int) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n, self.head_dim).transpose(1, 2)  # (B, n, T, D)

    def forward(
        self,
        x: Tensor,
        *,
        context: Tensor | None = None,
        mask: Tensor | None = None,
        bias: Tensor | None = None,
        is_causal: bool = False,
        rope: RotaryEmbedding | None = None,
        offset: int = 0,
        cache: LayerKVCache | None = None,
        return_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``x`` (B, T, C) to itself, or to ``context`` (B, S, C) for cross-attention.

        ``offset`` is the absolute position of x's first token (tokens already in ``cache``).
        Returns the output (B, T, C) and the attention weights (B, n_head, T, S) if asked, else None.
        """
        q, k, v = self.project(x, x if context is None else context)
        q = self.split_heads(q, self.n_head)  # (B, n_head, T, D)
        k = self.split_heads(k, self.n_kv_head)  # (B, n_kv_head, S, D)
        v = self.split_heads(v, self.n_kv_head)
        if rope is not None:
            q, k = rope(q, k, offset)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, n_kv_head, offset + T, D): everything so far
        dropout = self.dropout if self.training else 0.0
        kwargs = dict(mask=mask, bias=bias, is_causal=is_causal, scale=self.scale, dropout_p=dropout)
        grouped = self.n_kv_head != self.n_head
        if return_weights:
            k, v = repeat_kv_heads(k, v, self.n_head)  # GQA: (B, n_head, S, D)
            y, att = scaled_dot_product_attention(q, k, v, return_weights=True, **kwargs)
        else:  # the fused kernel shares the KV heads itself, without copying them
            y, att = fused_attention(q, k, v, enable_gqa=grouped, **kwargs), None
        B, _, T, _ = y.shape
        y = y.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)  # (B, T, n_head * D)
        return self.o(y), att
