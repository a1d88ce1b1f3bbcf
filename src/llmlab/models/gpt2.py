"""GPT-2: a decoder-only transformer with learned positions, pre-LayerNorm and a GELU MLP.

The model reads top to bottom (Radford et al., "Language Models are Unsupervised Multitask
Learners", 2019)::

    idx (B, T) -> token embedding + learned position embedding       (B, T, C)
    n_layer x Block:  x = x + attn(ln_1(x))   causal multi-head self-attention
                      x = x + mlp(ln_2(x))    C -> 4C -> C with GELU (tanh form)
    ln_f -> head (tied to the token embedding)                       (B, T, vocab_size)

What GPT-2 changed from the original Transformer decoder: the LayerNorm moved *before* each
sub-layer ("pre-norm", so the residual path is a clean sum and deep stacks train stably), a
final LayerNorm was added, and the output head shares the embedding matrix.
Presets mirror the HF configs ``gpt2``, ``gpt2-medium``, ``gpt2-large`` and ``gpt2-xl``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from llmlab.models.base import ModelConfig, ModelError, ModelOutput, check_context, lm_loss
from llmlab.nn.attention import padding_mask
from llmlab.nn.dropout import Dropout
from llmlab.nn.feedforward import MLP
from llmlab.nn.kv_cache import KVCache
from llmlab.nn.multihead import MultiHeadAttention
from llmlab.nn.norms import LayerNorm
from llmlab.nn.positions import LearnedPositions


@dataclass
class GPT2Config(ModelConfig):
    family = "gpt2"

    vocab_size: int = 50257  # GPT-2's byte-level BPE vocabulary
    max_seq_len: int = 1024  # rows of the learned position table: the hard context limit
    n_layer: int = 12  # transformer blocks
    n_head: int = 12  # attention heads per block
    d_model: int = 768  # width of the residual stream
    d_ff: int = 0  # MLP hidden width; 0 means 4 * d_model
    dropout: float = 0.0  # on embeddings, attention weights and residual branches (training only)
    norm_eps: float = 1e-5  # LayerNorm epsilon
    bias: bool = True  # biases in linear layers and LayerNorms (GPT-2 has them)
    tie_embeddings: bool = True  # the output head is the token embedding matrix

    def __post_init__(self) -> None:
        if self.d_ff == 0:
            self.d_ff = 4 * self.d_model
        if self.d_model % self.n_head:
            raise ModelError(f"d_model={self.d_model} must be divisible by n_head={self.n_head}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head


GPT2Config.PRESETS = {
    # a few hundred thousand parameters: trains in seconds, used by tests and the debug runs
    "gpt2-debug": GPT2Config(vocab_size=512, max_seq_len=128, n_layer=2, n_head=4, d_model=64),
    # the quickstart's model: 6 layers, 384 wide, context 256 (12.3M parameters at vocab 4096)
    "gpt-mini": GPT2Config(vocab_size=4096, max_seq_len=256, n_layer=6, n_head=6, d_model=384),
    # a third of gpt-mini, the size of lstm-small / gru-small / rnn-small (4.2M parameters at vocab 4096)
    "gpt-small": GPT2Config(vocab_size=4096, max_seq_len=256, n_layer=4, n_head=4, d_model=256),
    "gpt2": GPT2Config(),  # 124M, HF "gpt2"
    "gpt2-medium": GPT2Config(n_layer=24, n_head=16, d_model=1024),  # 355M, HF "gpt2-medium"
    "gpt2-large": GPT2Config(n_layer=36, n_head=20, d_model=1280),  # 774M, HF "gpt2-large"
    "gpt2-xl": GPT2Config(n_layer=48, n_head=25, d_model=1600),  # 1.56B, HF "gpt2-xl"
}


class Block(nn.Module):
    """Pre-norm block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(cfg.d_model, cfg.norm_eps, bias=cfg.bias)
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_head, bias=cfg.bias, dropout=cfg.dropout)
        self.ln_2 = LayerNorm(cfg.d_model, cfg.norm_eps, bias=cfg.bias)
        self.mlp = MLP(cfg.d_model, cfg.d_ff, activation="gelu_tanh", bias=cfg.bias)
        self.drop = Dropout(cfg.dropout)

    def forward(self, x: Tensor, **attn_kwargs) -> tuple[Tensor, Tensor | None]:
        a, att = self.attn(self.ln_1(x), is_causal=True, **attn_kwargs)
        x = x + self.drop(a)  # (B, T, C)
        x = x + self.drop(self.mlp(self.ln_2(x)))
        return x, att


class GPT2(nn.Module):
    """The GPT-2 language model: ``forward(idx) -> ModelOutput`` with logits (B, T, vocab_size)."""

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = LearnedPositions(cfg.max_seq_len, cfg.d_model)
        self.drop = Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.final_norm = LayerNorm(cfg.d_model, cfg.norm_eps, bias=cfg.bias)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.apply(self._init_weights)
        if cfg.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        # GPT-2's scaled init: residual projections shrink with depth so the sum stays O(1)
        for name, p in self.named_parameters():
            if name.endswith(("attn.o.weight", "mlp.down.weight")):
                nn.init.normal_(p, std=0.02 / (2 * cfg.n_layer) ** 0.5)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def new_cache(self, batch_size: int, max_seq_len: int | None = None) -> KVCache:
        """An empty KV cache for generation (defaults to the full context)."""
        cfg, p = self.config, self.head.weight
        n = max_seq_len or cfg.max_seq_len
        return KVCache(cfg.n_layer, batch_size, cfg.n_head, n, cfg.head_dim, dtype=p.dtype, device=p.device)

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
        """Logits for every position of ``idx`` (B, T).

        ``targets`` (B, T) gives the mean cross-entropy (-100 = ignore); ``attention_mask``
        (B, S) with 0 on padding keeps pads from being read; ``cache`` holds earlier tokens.
        """
        B, T = idx.shape
        past = cache.seq_len if cache is not None else 0
        check_context(T, past, self.config.max_seq_len)
        x = self.drop(self.pos_emb(self.tok_emb(idx), offset=past))  # (B, T, C)
        mask = padding_mask(attention_mask) if attention_mask is not None else None
        hidden, attentions = [x], []
        for i, block in enumerate(self.blocks):
            layer_cache = cache[i] if cache is not None else None
            x, att = block(x, mask=mask, cache=layer_cache, offset=past, return_weights=output_attentions)
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
        """Distinct parameters (a tied head counts once); optionally without the embedding tables."""
        n = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            n -= self.tok_emb.weight.numel() + self.pos_emb.weight.numel()
        return n
