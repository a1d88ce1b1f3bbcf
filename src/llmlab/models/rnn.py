"""Recurrent language models (RNN, LSTM, GRU): what came before the transformer, and why it lost.

The model is three pieces (Zaremba et al., 2014, "Recurrent Neural Network Regularization";
PyTorch's ``word_language_model`` example)::

    idx (B, T) -> embedding (B, T, d_model) -> n_layer recurrent layers (B, T, d_hidden)
               -> dropout -> linear head (B, T, vocab_size)

Unlike a GPT there is no attention and no position embedding: position is implicit in the order
the cells are stepped through, and everything a token knows about its past is squeezed into one
``d_hidden``-wide state per layer. That state is also the whole "KV cache": a fixed size however long
the text, which is why there is no hard context limit (``max_seq_len`` only sets training windows).
The price is the loop over time: step t needs step t-1, so a sequence of T tokens takes T dependent
steps, where a transformer computes all T positions at once (see docs/models.md).

The cells are written out in :mod:`llmlab.nn.recurrent`; ``fast=True`` runs the same parameters
through torch's fused ``nn.LSTM`` kernel, and the tests check both give the same logits and gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn

from llmlab.models.base import ModelConfig, ModelError, ModelOutput, lm_loss
from llmlab.nn.recurrent import CELLS, Recurrent, State


@dataclass
class RNNConfig(ModelConfig):
    """The shape of a recurrent language model. Presets: ``RNNConfig.from_name("lstm-small")``."""

    family: ClassVar[str] = "rnn"

    cell: str = "lstm"  # "rnn" (tanh Elman cell) | "lstm" | "gru"
    vocab_size: int = 4096  # token ids covered by the embedding table and the output head
    d_model: int = 256  # embedding width: the input size of the first recurrent layer
    d_hidden: int = 256  # width of each layer's state h (and c for the LSTM)
    n_layer: int = 2  # number of stacked recurrent layers
    dropout: float = 0.0  # on the embeddings, between layers and before the head (Zaremba et al.)
    tie_embeddings: bool = False  # head reuses the embedding matrix; needs d_hidden == d_model
    max_seq_len: int = 256  # training window only: an RNN has no hard limit, longer input is allowed
    fast: bool = False  # unroll with torch.nn.RNN/LSTM/GRU; same parameters, so checkpoints load either way

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ModelError(f"unknown recurrent cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        if self.tie_embeddings and self.d_hidden != self.d_model:
            raise ModelError(
                f"tie_embeddings needs d_hidden == d_model (got d_hidden={self.d_hidden}, "
                f"d_model={self.d_model}): the head reuses the (vocab_size, d_model) embedding matrix; "
                "set d_hidden to d_model or tie_embeddings=False"
            )
        for name in ("vocab_size", "d_model", "d_hidden", "n_layer", "max_seq_len"):
            if getattr(self, name) < 1:
                raise ModelError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"dropout must be in [0, 1), got {self.dropout}")


# No HF configs to mirror here: the debug models train in seconds on CPU; the "small" ones are sized
# near a small GPT (a few M parameters, vocab 4096) for `compare-architectures`; "lstm-ptb-medium" is
# the 2 x 650 "medium" LSTM of Zaremba et al. (2014) on Penn Treebank (10k words, 35-token windows).
RNNConfig.PRESETS = {
    "rnn-debug": RNNConfig(cell="rnn", vocab_size=256, d_model=32, d_hidden=32, n_layer=2, max_seq_len=64),
    "lstm-debug": RNNConfig(cell="lstm", vocab_size=256, d_model=32, d_hidden=32, n_layer=2, max_seq_len=64),
    "gru-debug": RNNConfig(cell="gru", vocab_size=256, d_model=32, d_hidden=32, n_layer=2, max_seq_len=64),
    "rnn-small": RNNConfig(
        cell="rnn",
        vocab_size=4096,
        d_model=640,
        d_hidden=640,
        n_layer=2,
        dropout=0.1,
        tie_embeddings=True,
        max_seq_len=256,
        fast=True,
    ),  # fmt: skip
    "lstm-small": RNNConfig(
        cell="lstm",
        vocab_size=4096,
        d_model=384,
        d_hidden=384,
        n_layer=2,
        dropout=0.1,
        tie_embeddings=True,
        max_seq_len=256,
        fast=True,
    ),  # fmt: skip
    "gru-small": RNNConfig(
        cell="gru",
        vocab_size=4096,
        d_model=448,
        d_hidden=448,
        n_layer=2,
        dropout=0.1,
        tie_embeddings=True,
        max_seq_len=256,
        fast=True,
    ),  # fmt: skip
    "lstm-ptb-medium": RNNConfig(
        cell="lstm",
        vocab_size=10000,
        d_model=650,
        d_hidden=650,
        n_layer=2,
        dropout=0.5,
        max_seq_len=35,
        fast=True,
    ),  # fmt: skip
}


class RNNLanguageModel(nn.Module):
    """Embedding -> stacked recurrent layers -> dropout -> linear head; predicts the next token.

    ``forward(idx (B, T))`` returns :class:`ModelOutput` with ``logits`` ``(B, T, vocab_size)`` and
    ``cache`` = the final recurrent state. Pass it back as ``state=`` to continue the sequence one
    token at a time (generation), or, detached, across training windows (truncated backprop).
    """

    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.recurrent = Recurrent(c.cell, c.d_model, c.d_hidden, c.n_layer, c.dropout, fast=c.fast)
        self.head = nn.Linear(c.d_hidden, c.vocab_size)  # with a bias, as in PyTorch's example
        # Initialisation: torch's defaults (embedding N(0, 1); head and cells uniform(+-1/sqrt(fan_in))).
        # The inputs to the first cell must be O(1) for its gates to respond: with small embeddings a
        # small model sits on a plateau, predicting only token frequencies, for many steps.
        if c.tie_embeddings:
            # subtle: a tied matrix is also the head, where N(0, 1) rows would make the first logits
            # huge; start it small instead, as PyTorch's word_language_model example does.
            nn.init.uniform_(self.embed.weight, -0.1, 0.1)
            self.head.weight = self.embed.weight  # one Parameter, (vocab_size, d_model), used twice

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        *,
        state: State | None = None,
        output_hidden_states: bool = False,
    ) -> ModelOutput:
        """Logits for every position; the mean cross-entropy when ``targets`` (-100 = ignore) are given."""
        if idx.dim() != 2 or idx.shape[1] == 0:
            raise ModelError(
                f"idx must be (batch, time) token ids with time >= 1, got shape {tuple(idx.shape)}"
            )
        if state is not None:
            self._check_state(state, idx.shape[0])
        x = self.drop(self.embed(idx))  # (B, T, d_model)
        layers, state = self.recurrent.forward_layers(x, state)  # n_layer x (B, T, d_hidden)
        logits = self.head(self.drop(layers[-1]))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = lm_loss(logits, targets)
        hidden = [x, *layers] if output_hidden_states else None
        return ModelOutput(logits=logits, loss=loss, hidden_states=hidden, cache=state)

    def _check_state(self, state: State, batch_size: int) -> None:
        """A state from another model or batch would fail deep inside a matmul; say so up front."""
        c = self.config
        want = (c.n_layer, batch_size, c.d_hidden)
        parts = state if isinstance(state, tuple) else (state,)
        if len(parts) != (2 if c.cell == "lstm" else 1) or any(tuple(t.shape) != want for t in parts):
            got = [tuple(t.shape) for t in parts]
            kind = "(h, c)" if c.cell == "lstm" else "h"
            raise ModelError(
                f"state must be {kind} with each of shape {want} for this {c.cell} model, got {got}"
            )

    def num_parameters(self) -> int:
        """Trainable parameters, a tied embedding counted once."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self) -> dict[str, int]:
        """Forward FLOPs per token by component: 2 x (multiply-adds) of every matrix product.

        The embedding is a table lookup (0); each layer does ``x @ W_ih.T`` and ``h @ W_hh.T``; the head
        is one ``(d_hidden, vocab_size)`` product. Gate nonlinearities and biases are not counted.
        """
        c = self.config
        recurrent = sum(
            2 * cell.weight_ih.numel() + 2 * cell.weight_hh.numel() for cell in self.recurrent.cells
        )
        return {"embeddings": 0, "recurrent": recurrent, "head": 2 * c.d_hidden * c.vocab_size}
