"""BERT: a bidirectional encoder with post-LayerNorm, token-type embeddings and two heads.

Where GPT-2 predicts the next token and so may only look left, BERT reads the whole sequence at
once and is trained to fill in blanks (Devlin et al., "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding", 2019)::

    idx (B, T), token_type_ids (B, T)
    word + position + token-type embeddings -> LayerNorm -> dropout   (B, T, C)
    n_layer x Block:  x = LN(x + attn(x))   bidirectional self-attention, pads masked out
                      x = LN(x + mlp(x))    C -> d_ff -> C with exact GELU
    Bert:                    logits = x, the last hidden state         (B, T, C)
                             pooled = tanh(dense(x[:, 0]))             (B, C), from [CLS]
    BertForMaskedLM:         dense -> GELU -> LN -> decoder (tied)     (B, T, vocab_size)
    BertForSequenceClassification: dropout(pooled) -> classifier      (B, n_labels)

What differs from GPT-2 (``gpt2.py``):

- **no causal mask**: every token sees every other token; only padding is hidden, through the
  ``attention_mask`` (1 = real token, 0 = pad);
- **post-norm**: the LayerNorm comes *after* each residual sum, as in the original Transformer,
  so there is no final LayerNorm; the embeddings get their own LayerNorm instead;
- **token-type (segment) embeddings**: a second table tells sentence A (0) from sentence B (1)
  in ``[CLS] a [SEP] b [SEP]`` inputs;
- **exact GELU** ``x * Phi(x)`` instead of GPT-2's tanh approximation;
- the masked-LM head has its own dense + GELU + LayerNorm "transform" before the decoder,
  which shares the word-embedding matrix and adds a per-token bias.

The bare encoder's ``ModelOutput.logits`` is the last hidden state (B, T, C): an encoder has no
vocabulary to score; a head (or :func:`llmlab.models.sentence.mean_pool`) turns it into something.
Presets mirror the HF configs ``bert-base-uncased``, ``bert-large-uncased`` and
``sentence-transformers/all-MiniLM-L6-v2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmlab.models.base import ModelConfig, ModelError, ModelOutput, check_context, lm_loss
from llmlab.nn.attention import padding_mask
from llmlab.nn.feedforward import MLP, gelu_exact
from llmlab.nn.multihead import MultiHeadAttention
from llmlab.nn.norms import LayerNorm
from llmlab.nn.positions import LearnedPositions


@dataclass
class BertConfig(ModelConfig):
    family = "bert"

    vocab_size: int = 30522  # BERT's uncased WordPiece vocabulary
    max_seq_len: int = 512  # rows of the learned position table: the hard context limit
    type_vocab_size: int = 2  # token types (segments): sentence A = 0, sentence B = 1
    n_layer: int = 12  # transformer blocks
    n_head: int = 12  # attention heads per block
    d_model: int = 768  # width of the residual stream (HF: hidden_size)
    d_ff: int = 0  # MLP hidden width (HF: intermediate_size); 0 means 4 * d_model
    dropout: float = 0.1  # on embeddings, attention weights, residual branches and the classifier
    norm_eps: float = 1e-12  # LayerNorm epsilon (BERT's is tiny: 1e-12)
    n_labels: int = 2  # classes of BertForSequenceClassification (HF: num_labels)
    pad_token_id: int = 0  # id of [PAD]: its embedding row starts at zero and gets no gradient

    def __post_init__(self) -> None:
        if self.d_ff == 0:
            self.d_ff = 4 * self.d_model
        if self.d_model % self.n_head:
            raise ModelError(f"d_model={self.d_model} must be divisible by n_head={self.n_head}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head


BertConfig.PRESETS = {
    # about 145K parameters: used by tests and quick experiments
    "bert-debug": BertConfig(vocab_size=512, max_seq_len=128, n_layer=2, n_head=4, d_model=64),
    "bert-base-uncased": BertConfig(),  # 110M, HF "bert-base-uncased"
    "bert-large-uncased": BertConfig(n_layer=24, n_head=16, d_model=1024),  # 335M, HF "bert-large-uncased"
    # 22.7M, HF "sentence-transformers/all-MiniLM-L6-v2" (from "nreimers/MiniLM-L6-H384-uncased")
    "minilm-l6": BertConfig(n_layer=6, n_head=12, d_model=384, d_ff=1536),
}


@dataclass
class BertOutput(ModelOutput):
    """:class:`ModelOutput` plus the pooled [CLS] vector of encoders that have a pooler."""

    pooled: Tensor | None = None  # (B, C): tanh(dense(hidden[:, 0])), None without a pooler


class Block(nn.Module):
    """Post-norm block: ``ln_1(x + attn(x))``, then ``ln_2(x + mlp(x))``."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_head, bias=True, dropout=cfg.dropout)
        self.ln_1 = LayerNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg.d_model, cfg.d_ff, activation="gelu", bias=True)
        self.ln_2 = LayerNorm(cfg.d_model, cfg.norm_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, **attn_kwargs) -> tuple[Tensor, Tensor | None]:
        a, att = self.attn(x, **attn_kwargs)  # no is_causal: every token reads every token
        # subtle: the norm is applied to the *sum*, so the residual stream itself is normalised
        # after every sub-layer (post-norm); GPT-2 normalises only the branch's input (pre-norm).
        x = self.ln_1(x + self.drop(a))  # (B, T, C)
        x = self.ln_2(x + self.drop(self.mlp(x)))
        return x, att


class Bert(nn.Module):
    """The BERT encoder: ``forward(idx) -> BertOutput`` with logits = last hidden state (B, T, C)."""

    def __init__(self, cfg: BertConfig, *, pooler: bool = True) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_token_id)
        self.pos_emb = LearnedPositions(cfg.max_seq_len, cfg.d_model)
        self.type_emb = nn.Embedding(cfg.type_vocab_size, cfg.d_model)
        self.emb_norm = LayerNorm(cfg.d_model, cfg.norm_eps)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        # the pooler feeds next-sentence prediction and the classification head; HF's
        # BertForMaskedLM has none, so that head builds its encoder with pooler=False
        self.pooler = nn.Linear(cfg.d_model, cfg.d_model) if pooler else None
        self.apply(init_bert_weights)

    def forward(
        self,
        idx: Tensor,
        *,
        token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> BertOutput:
        """The contextual vector of every position of ``idx`` (B, T).

        ``token_type_ids`` (B, T) default to all zeros (one segment); ``attention_mask`` (B, T)
        with 0 on padding keeps pads from being read (their own outputs are meaningless).
        """
        check_inputs(self.config, idx, token_type_ids, attention_mask)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(idx)
        x = self.tok_emb(idx) + self.type_emb(token_type_ids)  # (B, T, C)
        x = self.drop(self.emb_norm(self.pos_emb(x)))  # + positions 0..T-1, then LayerNorm
        mask = padding_mask(attention_mask) if attention_mask is not None else None  # (B, 1, 1, T)
        hidden, attentions = [x], []
        for block in self.blocks:
            x, att = block(x, mask=mask, return_weights=output_attentions)
            hidden.append(x)
            attentions.append(att)
        pooled = torch.tanh(self.pooler(x[:, 0])) if self.pooler is not None else None  # (B, C)
        return BertOutput(
            logits=x,
            hidden_states=hidden if output_hidden_states else None,
            attentions=attentions if output_attentions else None,
            pooled=pooled,
        )

    @torch.no_grad()
    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Distinct parameters; optionally without the word, position and token-type tables."""
        n = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            n -= sum(t.weight.numel() for t in (self.tok_emb, self.pos_emb, self.type_emb))
        return n


class MaskedLMHead(nn.Module):
    """``decoder(LN(gelu(dense(h))))``: hidden states (B, T, C) -> scores over the vocabulary."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.d_model, cfg.d_model)
        self.norm = LayerNorm(cfg.d_model, cfg.norm_eps)
        self.decoder = nn.Linear(cfg.d_model, cfg.vocab_size)  # weight tied to the word embeddings

    def forward(self, h: Tensor) -> Tensor:
        h = self.norm(gelu_exact(self.dense(h)))  # (B, T, C)
        return self.decoder(h)  # (B, T, vocab_size)


class BertForMaskedLM(nn.Module):
    """BERT's pre-training objective: predict the tokens hidden behind ``[MASK]``."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.config = cfg
        self.bert = Bert(cfg, pooler=False)
        self.head = MaskedLMHead(cfg)
        self.head.apply(init_bert_weights)
        self.head.decoder.weight = self.bert.tok_emb.weight  # tied, as in every released BERT

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        *,
        token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> ModelOutput:
        """Logits (B, T, vocab_size); ``targets`` (B, T) holds the original ids at masked
        positions and -100 everywhere else, so the loss only counts the masked tokens."""
        out = self.bert(
            idx,
            token_type_ids=token_type_ids,
            attention_mask=attention_mask,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
        )
        logits = self.head(out.logits)  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = lm_loss(logits, targets)
        return ModelOutput(
            logits=logits, loss=loss, hidden_states=out.hidden_states, attentions=out.attentions
        )

    @torch.no_grad()
    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Distinct parameters (the tied decoder counts once)."""
        head = sum(p.numel() for n, p in self.head.named_parameters() if n != "decoder.weight")
        return self.bert.num_parameters(exclude_embeddings) + head


class BertForSequenceClassification(nn.Module):
    """One label per sequence, read from the pooled ``[CLS]`` vector: ``classifier(dropout(pooled))``."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.config = cfg
        self.bert = Bert(cfg, pooler=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.d_model, cfg.n_labels)
        self.classifier.apply(init_bert_weights)

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        *,
        token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> ModelOutput:
        """Logits (B, n_labels); ``targets`` (B,) class ids give the mean cross-entropy."""
        out = self.bert(
            idx,
            token_type_ids=token_type_ids,
            attention_mask=attention_mask,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
        )
        logits = self.classifier(self.drop(out.pooled))  # (B, n_labels)
        loss = None
        if targets is not None:
            if self.config.n_labels < 2:
                # subtle: HF treats num_labels == 1 as regression (MSE); we only classify
                raise ModelError("cross-entropy needs n_labels >= 2; for regression use MSE on the logits")
            loss = F.cross_entropy(logits.float(), targets.flatten())
        return ModelOutput(
            logits=logits, loss=loss, hidden_states=out.hidden_states, attentions=out.attentions
        )

    @torch.no_grad()
    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        head = sum(p.numel() for p in self.classifier.parameters())
        return self.bert.num_parameters(exclude_embeddings) + head


def init_bert_weights(module: nn.Module) -> None:
    """BERT's init: normal(0, 0.02) for linear and embedding weights, zero biases, zero pad row."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, LearnedPositions):
        nn.init.normal_(module.weight, std=0.02)


def check_inputs(cfg: BertConfig, idx: Tensor, token_type_ids: Tensor | None, mask: Tensor | None) -> None:
    """One clear error for inputs the encoder cannot take (instead of an index error deep inside)."""
    if idx.dim() != 2:
        raise ModelError(f"idx must be (B, T) token ids, got shape {tuple(idx.shape)}")
    check_context(idx.size(1), 0, cfg.max_seq_len)
    for name, t in (("token_type_ids", token_type_ids), ("attention_mask", mask)):
        if t is not None and t.shape != idx.shape:
            raise ModelError(f"{name} must have the shape of idx {tuple(idx.shape)}, got {tuple(t.shape)}")
    if token_type_ids is not None and token_type_ids.numel():
        low, high = int(token_type_ids.min()), int(token_type_ids.max())
        if low < 0 or high >= cfg.type_vocab_size:
            raise ModelError(
                f"token_type_ids must lie in 0..{cfg.type_vocab_size - 1} (type_vocab_size), "
                f"got values from {low} to {high}"
            )
