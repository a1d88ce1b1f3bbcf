"""LLaMA: GPT's decoder with RMSNorm, rotary positions, SwiGLU and grouped-query attention.

Same shape as GPT-2 (a stack of pre-norm decoder blocks), with four changes that most open
models since 2023 share (Touvron et al., "LLaMA", 2023; "Llama 2", 2023)::

    idx (B, T) -> token embedding (no position table)                 (B, T, C)
    n_layer x Block:  x = x + attn(rms_1(x))   RoPE on q and k; n_kv_head <= n_head (GQA)
                      x = x + mlp(rms_2(x))    SwiGLU: down(silu(gate(x)) * up(x))
    RMSNorm -> head (tied only in small models such as SmolLM2)       (B, T, vocab_size)

1. RMSNorm instead of LayerNorm (no mean, no bias); 2. rotary position embeddings applied
inside attention instead of a learned table, so there is no position limit in the weights;
3. SwiGLU feed-forward; 4. no biases anywhere, and fewer key/value heads than query heads.
The presets cover SmolLM2 (the chat model that ships with llmlab), TinyLlama and Llama 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from llmlab.models.base import ModelConfig, ModelError, ModelOutput, check_context, lm_loss
from llmlab.nn.attention import padding_mask
from llmlab.nn.dropout import Dropout
from llmlab.nn.feedforward import SwiGLU
from llmlab.nn.kv_cache import KVCache
from llmlab.nn.multihead import MultiHeadAttention
from llmlab.nn.norms import RMSNorm
from llmlab.nn.rope import RotaryEmbedding


@dataclass
class LlamaConfig(ModelConfig):
    family = "llama"

    vocab_size: int = 32000  # tokenizer vocabulary
    max_seq_len: int = 2048  # longest context the RoPE tables and KV cache are built for
    n_layer: int = 22  # decoder blocks
    n_head: int = 32  # query heads
    n_kv_head: int = 4  # key/value heads (GQA); = n_head for plain multi-head attention
    d_model: int = 2048  # residual stream width
    d_ff: int = 5632  # SwiGLU hidden width
    head_dim: int = 0  # width of one head; 0 means d_model // n_head
    norm_eps: float = 1e-5  # RMSNorm epsilon
    rope_theta: float = 10000.0  # RoPE base: larger = slower rotation = longer reach
    rope_interleaved: bool = False  # pair channels (2i, 2i+1) as GGUF/Meta do, instead of (i, i + D/2) as HF
    tie_embeddings: bool = False  # the head reuses the embedding matrix (SmolLM2 does)
    dropout: float = 0.0  # attention and residual dropout during training (LLaMA uses none)

    def __post_init__(self) -> None:
        if self.head_dim == 0:
            if self.d_model % self.n_head:
                raise ModelError(f"d_model={self.d_model} must be divisible by n_head={self.n_head}")
            self.head_dim = self.d_model // self.n_head
        if self.n_head % self.n_kv_head:
            raise ModelError(f"n_head={self.n_head} must be a multiple of n_kv_head={self.n_kv_head}")


LlamaConfig.PRESETS = {
    # tiny, for tests and debug runs; GQA with 2 query heads per KV head
    "llama-debug": LlamaConfig(
        vocab_size=512, max_seq_len=128, n_layer=2, n_head=4, n_kv_head=2, d_model=64, d_ff=172, tie_embeddings=True
    ),
    # HF HuggingFaceTB/SmolLM2-135M(-Instruct): the weights shipped as the smollm2-135m-instruct asset
    "smollm2-135m": LlamaConfig(
        vocab_size=49152, max_seq_len=8192, n_layer=30, n_head=9, n_kv_head=3, d_model=576, d_ff=1536,
        rope_theta=100000.0, tie_embeddings=True,
    ),
    # HF HuggingFaceTB/SmolLM2-360M
    "smollm2-360m": LlamaConfig(
        vocab_size=49152, max_seq_len=8192, n_layer=32, n_head=15, n_kv_head=5, d_model=960, d_ff=2560,
        rope_theta=100000.0, tie_embeddings=True,
    ),
    # HF TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T (the dataclass defaults)
    "tinyllama-1.1b": LlamaConfig(),
    # HF meta-llama/Llama-2-7b-hf: plain multi-head attention (n_kv_head = n_head)
    "llama-2-7b": LlamaConfig(
        max_seq_len=4096, n_layer=32, n_head=32, n_kv_head=32, d_model=4096, d_ff=11008
    ),
}  # fmt: skip


class Block(nn.Module):
    """Pre-norm decoder block with RMSNorm, rotary attention and a SwiGLU feed-forward."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = MultiHeadAttention(
            cfg.d_model, cfg.n_head, cfg.n_kv_head, cfg.head_dim, bias=False, dropout=cfg.dropout
        )
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg.d_model, cfg.d_ff)
        self.drop = Dropout(cfg.dropout)

    def forward(self, x: Tensor, **attn_kwargs) -> tuple[Tensor, Tensor | None]:
        a, att = self.attn(self.attn_norm(x), is_causal=True, **attn_kwargs)
        x = x + self.drop(a)  # (B, T, C)
        x = x + self.drop(self.mlp(self.mlp_norm(x)))
        return x, att


class Llama(nn.Module):
    """The LLaMA language model: ``forward(idx) -> ModelOutput`` with logits (B, T, vocab_size)."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.rope = RotaryEmbedding(
            cfg.head_dim, cfg.max_seq_len, cfg.rope_theta, interleaved=cfg.rope_interleaved
        )
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.final_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
        if cfg.tie_embeddings:
            self.head.weight = self.tok_emb.weight

    def new_cache(self, batch_size: int, max_seq_len: int | None = None) -> KVCache:
        """An empty KV cache for generation; GQA makes it n_head / n_kv_head times smaller."""
        cfg, p = self.config, self.head.weight
        n = max_seq_len or cfg.max_seq_len
        return KVCache(
            cfg.n_layer, batch_size, cfg.n_kv_head, n, cfg.head_dim, dtype=p.dtype, device=p.device
        )

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        *,
        attention_mask: Tensor | None = None,
        cache: KVCache | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> ModelOutput:
        """Logits for every position of ``idx`` (B, T); the arguments are those of :class:`GPT2`."""
        B, T = idx.shape
        past = cache.seq_len if cache is not None else 0
        check_context(T, past, self.config.max_seq_len)
        x = self.tok_emb(idx)  # (B, T, C); positions enter later, as rotations of q and k
        mask = padding_mask(attention_mask) if attention_mask is not None else None
        hidden, attentions = [x], []
        for i, block in enumerate(self.blocks):
            layer_cache = cache[i] if cache is not None else None
            x, att = block(
                x, mask=mask, rope=self.rope, offset=past, cache=layer_cache, return_weights=output_attentions
            )
            hidden.append(x)
            attentions.append(att)
        logits = self.head(self.final_norm(x))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = lm_loss(logits, targets)
        return ModelOutput(
            logits=logits,
            loss=loss,
            hidden_states=hidden if output_hidden_states else None,
            attentions=attentions if output_attentions else None,
            cache=cache,
        )

    @torch.no_grad()
    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Distinct parameters (a tied head counts once); optionally without the embedding table."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.tok_emb.weight.numel() if exclude_embeddings else n
