"""T5: an encoder-decoder transformer with relative position buckets and RMSNorm.

Unlike GPT-2 (one decoder stack reading its own past), T5 has two stacks: an **encoder** that
reads the whole input in both directions, and a **decoder** that writes the output one token at
a time, reading its own past (causal self-attention) *and* the encoder's output
(**cross-attention**). Raffel et al., "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer" (2020)::

    input_ids (B, S) -> shared embedding                             (B, S, C)
    n_layer x EncoderBlock:  x = x + attn(ln_1(x), bias=rel_pos)     bidirectional, padding mask
                             x = x + mlp(ln_2(x))
    final_norm                                       -> encoder output  (B, S, C)

    decoder_input_ids (B, T) -> shared embedding                     (B, T, C)
    n_decoder_layer x DecoderBlock:
        x = x + self_attn(ln_1(x), bias=rel_pos)     causal, KV-cached when generating
        x = x + cross_attn(ln_2(x), encoder output)  queries (B, T), keys/values (B, S)
        x = x + mlp(ln_3(x))
    final_norm -> (v1.0: * d_model**-0.5) -> head                    (B, T, vocab_size)

What T5 does differently from GPT-2: positions are a learned bias on the attention scores
(``t5_relpos.py``), not vectors added to the tokens; attention scores are **not** divided by
sqrt(head_dim) (the init of q absorbs it); the norms are RMSNorm ("T5LayerNorm") and no linear
layer has a bias. T5 v1.0 uses a ReLU MLP and ties the head to the embedding (scaling the
decoder output by ``d_model**-0.5`` first); v1.1 uses a gated-GELU feed-forward
(``gelu(x W_0) * (x W_1)``, GELU in its tanh form, HF's ``gelu_new``) and an untied head.
Pretraining is span corruption: spans of the input become sentinels the decoder must write out.

Long inputs: relative positions put no limit on length, so ``max_seq_len`` is a config choice
(512, what T5 was trained on), not a weight shape: longer encoder or decoder input raises
:class:`ContextLengthError`; ``T5Config.from_name("t5-small", max_seq_len=2048)`` lifts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from llmlab.models.base import ModelConfig, ModelError, ModelOutput, check_context, lm_loss
from llmlab.models.t5_relpos import RelativePositionBias
from llmlab.nn.attention import fused_attention, padding_mask, scaled_dot_product_attention
from llmlab.nn.feedforward import MLP, SwiGLU
from llmlab.nn.kv_cache import KVCache
from llmlab.nn.multihead import MultiHeadAttention
from llmlab.nn.norms import RMSNorm

FEED_FORWARDS = ("relu", "gated-gelu")


@dataclass
class T5Config(ModelConfig):
    family = "t5"

    vocab_size: int = 32128  # T5's SentencePiece unigram vocabulary (32000 + 100 sentinels, padded)
    d_model: int = 512  # width of the residual stream
    d_kv: int = 64  # width of one attention head (head_dim); need not be d_model // n_head
    d_ff: int = 2048  # feed-forward hidden width
    n_layer: int = 6  # encoder blocks
    n_decoder_layer: int = 0  # decoder blocks; 0 means n_layer
    n_head: int = 8  # attention heads per attention layer
    relative_attention_num_buckets: int = 32  # rows of each relative position bias table
    relative_attention_max_distance: int = 128  # offsets this far or farther share the last bucket
    dropout: float = 0.0  # embeddings, attention weights, residual branches (training only)
    norm_eps: float = 1e-6  # RMSNorm epsilon
    feed_forward: str = "relu"  # "relu" (T5 v1.0) or "gated-gelu" (T5 v1.1, flan-t5)
    tie_embeddings: bool = True  # head = embedding, decoder output scaled by d_model**-0.5 (v1.0)
    decoder_start_token_id: int = 0  # first decoder input; T5 uses the pad id
    pad_token_id: int = 0  # replaces -100 when targets are shifted into decoder inputs
    eos_token_id: int | None = 1  # greedy generation stops a row after it; None: never
    max_seq_len: int = 512  # longest encoder input / decoder output accepted (no weight depends on it)

    def __post_init__(self) -> None:
        if self.n_decoder_layer == 0:
            self.n_decoder_layer = self.n_layer
        if self.feed_forward not in FEED_FORWARDS:
            raise ModelError(
                f"unknown T5 feed_forward {self.feed_forward!r}; known: {', '.join(FEED_FORWARDS)}"
            )

    @property
    def head_dim(self) -> int:
        return self.d_kv


T5Config.PRESETS = {
    # a few hundred thousand parameters: for tests and debug runs
    "t5-debug": T5Config(vocab_size=512, d_model=64, d_kv=16, d_ff=128, n_layer=2, n_head=4, max_seq_len=128),
    # dropout 0.1 as in the HF configs (T5 fine-tuning); it only acts in training mode
    "t5-small": T5Config(dropout=0.1),  # 60.5M, HF "google-t5/t5-small"
    # 223M, HF "google-t5/t5-base"
    "t5-base": T5Config(d_model=768, d_ff=3072, n_layer=12, n_head=12, dropout=0.1),
    "t5-v1_1-small": T5Config(  # 77M, HF "google/t5-v1_1-small"
        d_ff=1024, n_layer=8, n_head=6, feed_forward="gated-gelu", tie_embeddings=False, dropout=0.1
    ),
}


@dataclass
class EncoderOutput:
    """What :meth:`T5.encode` returns."""

    last_hidden_state: Tensor  # (B, S, C) after the final norm: what cross-attention reads
    hidden_states: list[Tensor] | None = None  # embeddings, then each block's output (before the final norm)
    attentions: list[Tensor] | None = None  # one (B, n_head, S, S) map per encoder layer


@dataclass
class T5Output(ModelOutput):
    """:class:`ModelOutput` for the decoder (logits, loss, hidden_states, attentions), plus the encoder's side."""

    cross_attentions: list[Tensor] | None = None  # one (B, n_head, T, S) decoder-to-encoder map per layer
    encoder_last_hidden_state: Tensor | None = None  # (B, S, C)
    encoder_hidden_states: list[Tensor] | None = None
    encoder_attentions: list[Tensor] | None = None


@dataclass
class T5Cache:
    """Generation state: the decoder's self-attention KV cache, and the encoder's keys/values.

    The cross-attention keys/values depend only on the encoder output, so they are computed on
    the first decoding step and reused for every later token (one cache per input batch).
    """

    self_attn: KVCache
    cross: list[tuple[Tensor, Tensor] | None]


def feed_forward(cfg: T5Config) -> nn.Module:
    """ReLU MLP (v1.0: ``wi``/``wo``) or gated GELU (v1.1: ``wi_0`` gate, ``wi_1`` up, ``wo``).

    subtle: HF also applies dropout to the d_ff-wide hidden layer; ours drop only the block output.
    """
    if cfg.feed_forward == "relu":
        return MLP(cfg.d_model, cfg.d_ff, activation="relu", bias=False)
    return SwiGLU(cfg.d_model, cfg.d_ff, bias=False, activation="gelu_tanh")


def attention(cfg: T5Config) -> MultiHeadAttention:
    # subtle: scale=1.0, T5 never divides by sqrt(head_dim); its q init is 1/sqrt(d_model * d_kv) instead
    return MultiHeadAttention(
        cfg.d_model, cfg.n_head, head_dim=cfg.d_kv, bias=False, dropout=cfg.dropout, scale=1.0
    )


def encoder_keys_values(attn: MultiHeadAttention, memory: Tensor) -> tuple[Tensor, Tensor]:
    """The cross-attention keys and values of the encoder output ``memory`` (B, S, C)."""
    k = attn.split_heads(attn.k(memory), attn.n_kv_head)  # (B, n_head, S, D)
    v = attn.split_heads(attn.v(memory), attn.n_kv_head)  # (B, n_head, S, D)
    return k, v


def cross_attend(
    attn: MultiHeadAttention, x: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, return_weights: bool
) -> tuple[Tensor, Tensor | None]:
    """``attn``'s forward with the keys/values given, so generation computes them only once."""
    q = attn.split_heads(attn.q(x), attn.n_head)  # (B, n_head, T, D)
    kwargs = dict(mask=mask, scale=attn.scale, dropout_p=attn.dropout if attn.training else 0.0)
    if return_weights:
        y, att = scaled_dot_product_attention(q, k, v, return_weights=True, **kwargs)
    else:
        y, att = fused_attention(q, k, v, **kwargs), None
    B, _, T, _ = y.shape
    y = y.transpose(1, 2).reshape(B, T, attn.n_head * attn.head_dim)  # (B, T, n_head * D)
    return attn.o(y), att


class EncoderBlock(nn.Module):
    """``x + attn(ln_1(x))`` with the relative position bias, then ``x + mlp(ln_2(x))``."""

    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        self.ln_1 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = attention(cfg)
        self.ln_2 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = feed_forward(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, **attn_kwargs) -> tuple[Tensor, Tensor | None]:
        a, att = self.attn(self.ln_1(x), **attn_kwargs)
        x = x + self.drop(a)  # (B, S, C)
        x = x + self.drop(self.mlp(self.ln_2(x)))
        return x, att


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the encoder, feed-forward; each pre-norm and residual."""

    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        self.ln_1 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.self_attn = attention(cfg)
        self.ln_2 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.cross_attn = attention(cfg)  # no position bias: encoder and decoder positions are unrelated
        self.ln_3 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = feed_forward(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: Tensor,
        memory_kv: tuple[Tensor, Tensor],
        cross_mask: Tensor | None,
        return_weights: bool,
        **self_kwargs,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        a, att = self.self_attn(self.ln_1(x), is_causal=True, return_weights=return_weights, **self_kwargs)
        x = x + self.drop(a)  # (B, T, C)
        c, cross = cross_attend(self.cross_attn, self.ln_2(x), *memory_kv, cross_mask, return_weights)
        x = x + self.drop(c)  # (B, T, C): each target position has read the whole input
        x = x + self.drop(self.mlp(self.ln_3(x)))
        return x, att, cross


class T5(nn.Module):
    """The T5 encoder-decoder: ``forward(input_ids, decoder_input_ids) -> T5Output``, logits (B, T, vocab_size)."""

    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        self.config = cfg
        buckets, distance = cfg.relative_attention_num_buckets, cfg.relative_attention_max_distance
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)  # shared by encoder, decoder (and head)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder_rel_pos = RelativePositionBias(cfg.n_head, buckets, distance, bidirectional=True)
        self.encoder_blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.n_layer))
        self.encoder_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.decoder_rel_pos = RelativePositionBias(cfg.n_head, buckets, distance, bidirectional=False)
        self.decoder_blocks = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.n_decoder_layer))
        self.final_norm = RMSNorm(cfg.d_model, cfg.norm_eps)  # the decoder's
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.apply(self._init_weights)
        if cfg.tie_embeddings:
            self.head.weight = self.tok_emb.weight

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Mesh TensorFlow's init, as in HF: each matrix at 1/sqrt(fan_in), q also absorbs 1/sqrt(d_kv)."""
        cfg = self.config
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=1.0)
        elif isinstance(module, RelativePositionBias):
            nn.init.normal_(module.weight, std=cfg.d_model**-0.5)
        elif isinstance(module, MultiHeadAttention):
            nn.init.normal_(module.q.weight, std=(cfg.d_model * cfg.d_kv) ** -0.5)
            nn.init.normal_(module.k.weight, std=cfg.d_model**-0.5)
            nn.init.normal_(module.v.weight, std=cfg.d_model**-0.5)
            nn.init.normal_(module.o.weight, std=(cfg.n_head * cfg.d_kv) ** -0.5)
        elif isinstance(module, MLP | SwiGLU):
            for linear in module.children():  # up, down (and gate): each at 1/sqrt(fan_in)
                nn.init.normal_(linear.weight, std=linear.in_features**-0.5)
        elif module is self:
            nn.init.normal_(self.head.weight, std=1.0)

    def new_cache(self, batch_size: int, max_seq_len: int | None = None) -> T5Cache:
        """An empty generation cache for ``max_seq_len`` decoder positions (defaults to the config's)."""
        cfg, p = self.config, self.tok_emb.weight
        n = max_seq_len or cfg.max_seq_len
        kv = KVCache(cfg.n_decoder_layer, batch_size, cfg.n_head, n, cfg.d_kv, dtype=p.dtype, device=p.device)
        return T5Cache(kv, [None] * cfg.n_decoder_layer)

    def shift_right(self, targets: Tensor) -> Tensor:
        """Decoder inputs from targets (B, T): start token, then targets[:, :-1], with -100 -> pad."""
        shifted = targets.new_full(targets.shape, self.config.decoder_start_token_id)
        shifted[:, 1:] = targets[:, :-1]
        return shifted.masked_fill(shifted == -100, self.config.pad_token_id)

    def encode(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        *,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> EncoderOutput:
        """Read ``input_ids`` (B, S), with 0 in ``attention_mask`` (B, S) on padding, into (B, S, C)."""
        S = input_ids.size(1)
        check_context(S, 0, self.config.max_seq_len)
        x = self.drop(self.tok_emb(input_ids))  # (B, S, C)
        mask = padding_mask(attention_mask) if attention_mask is not None else None  # (B, 1, 1, S)
        bias = self.encoder_rel_pos(S, S)  # (1, n_head, S, S): computed once, reused by every layer
        hidden, attentions = [x], []
        for block in self.encoder_blocks:
            x, att = block(x, mask=mask, bias=bias, return_weights=output_attentions)
            hidden.append(x)
            attentions.append(att)
        return EncoderOutput(
            last_hidden_state=self.drop(self.encoder_norm(x)),
            hidden_states=hidden if output_hidden_states else None,
            attentions=attentions if output_attentions else None,
        )

    def decode(
        self,
        decoder_input_ids: Tensor,
        encoder_hidden: Tensor,
        encoder_mask: Tensor | None = None,
        cache: T5Cache | None = None,
        *,
        decoder_attention_mask: Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> T5Output:
        """Logits (B, T, vocab_size) for ``decoder_input_ids`` (B, T) reading ``encoder_hidden`` (B, S, C).

        ``encoder_mask`` (B, S) is the encoder's attention_mask; ``decoder_attention_mask`` covers
        cached plus new positions (B, past + T); ``cache`` (from :meth:`new_cache`) holds earlier tokens.
        """
        T = decoder_input_ids.size(1)
        past = cache.self_attn.seq_len if cache is not None else 0
        check_context(T, past, self.config.max_seq_len)
        x = self.drop(self.tok_emb(decoder_input_ids))  # (B, T, C)
        self_mask = padding_mask(decoder_attention_mask) if decoder_attention_mask is not None else None
        cross_mask = padding_mask(encoder_mask) if encoder_mask is not None else None  # (B, 1, 1, S)
        bias = self.decoder_rel_pos(T, past + T, offset=past)  # (1, n_head, T, past + T)
        hidden, attentions, cross_attentions = [x], [], []
        for i, block in enumerate(self.decoder_blocks):
            if cache is None:
                memory_kv, layer_cache = encoder_keys_values(block.cross_attn, encoder_hidden), None
            else:
                if cache.cross[i] is None:  # first step: project the encoder output once
                    cache.cross[i] = encoder_keys_values(block.cross_attn, encoder_hidden)
                memory_kv, layer_cache = cache.cross[i], cache.self_attn[i]
            x, att, cross = block(
                x, memory_kv, cross_mask, output_attentions, mask=self_mask, bias=bias, cache=layer_cache
            )
            hidden.append(x)
            attentions.append(att)
            cross_attentions.append(cross)
        x = self.drop(self.final_norm(x))  # (B, T, C)
        if self.config.tie_embeddings:
            # subtle: the tied head reuses the N(0, 1) embedding matrix; v1.0 rescales to keep logits O(1)
            x = x * self.config.d_model**-0.5
        return T5Output(
            logits=self.head(x),  # (B, T, vocab_size)
            hidden_states=hidden if output_hidden_states else None,
            attentions=attentions if output_attentions else None,
            cross_attentions=cross_attentions if output_attentions else None,
            cache=cache,
        )

    def forward(
        self,
        input_ids: Tensor,
        decoder_input_ids: Tensor | None = None,
        targets: Tensor | None = None,
        *,
        attention_mask: Tensor | None = None,
        decoder_attention_mask: Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> T5Output:
        """Encode ``input_ids`` (B, S), decode ``decoder_input_ids`` (B, T); logits (B, T, vocab_size).

        Without ``decoder_input_ids`` they are ``targets`` shifted right (teacher forcing);
        ``targets`` (B, T) give the mean cross-entropy, ignoring -100.
        """
        if decoder_input_ids is None:
            if targets is None:
                raise ModelError(
                    "T5 needs decoder_input_ids or targets (the decoder reads the targets shifted right)"
                )
            decoder_input_ids = self.shift_right(targets)
        flags = dict(output_hidden_states=output_hidden_states, output_attentions=output_attentions)
        enc = self.encode(input_ids, attention_mask, **flags)
        memory = enc.last_hidden_state  # (B, S, C)
        out = self.decode(
            decoder_input_ids, memory, attention_mask, decoder_attention_mask=decoder_attention_mask, **flags
        )
        if targets is not None:
            out.loss = lm_loss(out.logits, targets)
        out.encoder_last_hidden_state, out.encoder_hidden_states = memory, enc.hidden_states
        out.encoder_attentions = enc.attentions
        return out

    @torch.no_grad()
    def generate_greedy(
        self, input_ids: Tensor, max_new_tokens: int, attention_mask: Tensor | None = None
    ) -> Tensor:
        """Greedy decoding with the KV cache: ``(B, 1 + n)`` ids, the start token first, as HF ``generate``.

        1. encode once; 2. feed the start token, then each chosen token, one at a time;
        3. a row that produced ``eos_token_id`` is finished and gets ``pad_token_id`` from then on;
        stop when every row is finished or after ``max_new_tokens``.
        """
        cfg = self.config
        B = input_ids.size(0)
        check_context(max_new_tokens, 0, cfg.max_seq_len)
        memory = self.encode(input_ids, attention_mask).last_hidden_state  # (B, S, C)
        cache = self.new_cache(B, max_new_tokens)
        out = input_ids.new_full((B, 1), cfg.decoder_start_token_id)  # (B, 1)
        done = torch.zeros(B, dtype=torch.bool, device=input_ids.device)
        for _ in range(max_new_tokens):
            logits = self.decode(out[:, -1:], memory, attention_mask, cache).logits  # (B, 1, V)
            token = logits[:, -1].argmax(dim=-1)  # (B,)
            if cfg.eos_token_id is not None:
                token = token.masked_fill(done, cfg.pad_token_id)
                done = done | (token == cfg.eos_token_id)
            out = torch.cat([out, token[:, None]], dim=1)  # (B, t + 1)
            if done.all():
                break
        return out

    @torch.no_grad()
    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Distinct parameters (a tied head counts once); optionally without the embedding table."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.tok_emb.weight.numel() if exclude_embeddings else n
