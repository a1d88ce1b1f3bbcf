"""Recurrent cells, written out gate by gate: the models that transformers replaced.

A transformer lets every position look at every other position at once. A recurrent network
instead carries one state vector forward, one time step at a time::

    h_t = cell(x_t, h_{t-1})          # x_t: (B, I) input at step t, h_t: (B, H) state after it

Three cells, each a small step up from the one before:

- :class:`RNNCell` (Elman, 1990): one tanh layer. Gradients through many steps are products of
  many Jacobians, so they shrink (or blow up) exponentially: the *vanishing gradient* problem.
- :class:`LSTMCell` (Hochreiter & Schmidhuber, 1997; forget gate: Gers et al., 2000): adds a cell
  state ``c`` updated by *addition* (``c_t = f * c_{t-1} + i * g``), a path along which gradients
  survive for many steps; sigmoid gates decide what to forget, write and read.
- :class:`GRUCell` (Cho et al., 2014): two gates instead of three and no separate cell state;
  the new state is a gated mix of the old state and a candidate.

Parameter names, shapes and gate order are exactly torch's (``torch.nn.RNNCell``, ``LSTMCell``,
``GRUCell``), so weights copy across one to one: ``weight_ih`` ``(gates*H, I)``, ``weight_hh``
``(gates*H, H)``, ``bias_ih`` and ``bias_hh`` ``(gates*H,)``.

:class:`Recurrent` unrolls a stack of cells over a sequence, ``(B, T, I) -> (B, T, H)``, either cell
by cell in Python (readable) or, with ``fast=True``, through torch's fused ``nn.RNN/LSTM/GRU`` kernel
run on *these same parameters* (see :meth:`Recurrent._unroll_fast`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.func import functional_call

# The recurrent state: h for RNN and GRU, (h, c) for LSTM. Each is (B, H) for one cell, or
# (n_layer, B, H) for a stack, the same layout as torch.nn.RNN/LSTM/GRU.
State = Tensor | tuple[Tensor, Tensor]


class _Cell(nn.Module):
    """Holds the four parameters every cell has, laid out as torch lays them out."""

    n_gates: ClassVar[int]  # how many H-wide blocks are stacked in weight_ih / weight_hh

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = self.n_gates * hidden_size  # the gates' pre-activations, stacked
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))  # (gates*H, I)
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))  # (gates*H, H)
        self.bias_ih = nn.Parameter(torch.empty(rows))  # (gates*H,)
        self.bias_hh = nn.Parameter(torch.empty(rows))  # (gates*H,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)]."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_Cell):
    """The plain (Elman) recurrent cell::

        h' = tanh(W_ih x + b_ih + W_hh h + b_hh)

    x: (B, I), h: (B, H) -> h': (B, H). Parameters: H * (I + H + 2).
    """

    n_gates = 1

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        pre = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, H)
        return torch.tanh(pre)


class LSTMCell(_Cell):
    """Long short-term memory. Gates in torch's order i, f, g, o::

        i  = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     input gate: how much of g to write
        f  = sigmoid(W_if x + b_if + W_hf h + b_hf)     forget gate: how much of c to keep
        g  = tanh(W_ig x + b_ig + W_hg h + b_hg)        candidate values
        o  = sigmoid(W_io x + b_io + W_ho h + b_ho)     output gate: how much of c to show
        c' = f * c + i * g
        h' = o * tanh(c')

    x: (B, I), (h, c): (B, H) each -> (h', c'). Parameters: 4H * (I + H + 2).
    """

    n_gates = 4

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)  # 4 x (B, H)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g  # (B, H); subtle: an addition, not a matrix product, so gradients survive
        h = o * torch.tanh(c)  # (B, H)
        return h, c


class GRUCell(_Cell):
    """Gated recurrent unit. Gates in torch's order r, z, n::

        r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)         reset gate
        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)         update gate
        n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))      candidate state
        h' = (1 - z) * n + z * h

    x: (B, I), h: (B, H) -> h': (B, H). Parameters: 3H * (I + H + 2).
    """

    n_gates = 3

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        gi = x @ self.weight_ih.T + self.bias_ih  # (B, 3H)
        gh = h @ self.weight_hh.T + self.bias_hh  # (B, 3H)
        i_r, i_z, i_n = gi.chunk(3, dim=1)  # 3 x (B, H)
        h_r, h_z, h_n = gh.chunk(3, dim=1)  # 3 x (B, H)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        # subtle: r multiplies (W_hn h + b_hn), bias included; the GRU paper puts r on h before the
        # product. torch and cuDNN use this form, so we do too: the weights would not match otherwise.
        n = torch.tanh(i_n + r * h_n)  # (B, H)
        return (1 - z) * n + z * h


CELLS: dict[str, type[_Cell]] = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
_TORCH_TWINS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Recurrent(nn.Module):
    """A stack of ``num_layers`` cells unrolled over time, with dropout between layers.

    ``forward(x (B, T, I), state) -> (outputs (B, T, H), final state)``, the same contract as
    ``torch.nn.LSTM(batch_first=True)``: the state is ``h`` or ``(h, c)``, each ``(num_layers, B, H)``,
    and zeros when not given. Layer ``l`` reads the (dropped-out) outputs of layer ``l - 1``.

    With ``fast=True`` each layer runs through torch's fused kernel instead of the Python loop over
    time. The parameters are the same tensors either way, so a checkpoint loads into both.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        fast: bool = False,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown recurrent cell {cell!r}; choose one of {', '.join(CELLS)}")
        self.cell, self.hidden_size, self.fast = cell, hidden_size, fast
        sizes = [input_size] + [hidden_size] * (num_layers - 1)  # each layer's input width
        self.cells = nn.ModuleList(CELLS[cell](size, hidden_size) for size in sizes)
        self.drop = nn.Dropout(dropout)
        # One single-layer torch module per layer, built on the meta device (no memory) and kept in
        # a plain list, so it is not registered: it owns no parameters and never enters state_dict.
        twin = _TORCH_TWINS[cell]
        self._twins = [twin(size, hidden_size, batch_first=True, device="meta") for size in sizes]

    def initial_state(self, batch_size: int, like: Tensor) -> State:
        """Zeros, ``(num_layers, B, H)``, on the device and dtype of ``like``."""
        h = like.new_zeros(len(self.cells), batch_size, self.hidden_size)
        return (h, h.clone()) if self.cell == "lstm" else h

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """``(B, T, I) -> (B, T, H)``: the last layer's outputs, and the final state of every layer."""
        outputs, state = self.forward_layers(x, state)
        return outputs[-1], state

    def forward_layers(self, x: Tensor, state: State | None = None) -> tuple[list[Tensor], State]:
        """Like :meth:`forward`, but returns every layer's outputs, ``num_layers x (B, T, H)``."""
        if state is None:
            state = self.initial_state(x.shape[0], x)
        outputs, finals = [], []
        for layer, cell in enumerate(self.cells):
            s = tuple(t[layer] for t in state) if isinstance(state, tuple) else state[layer]  # (B, H)
            out, s = self._unroll_fast(layer, x, s) if self.fast else self._unroll(cell, x, s)
            outputs.append(out)  # (B, T, H)
            finals.append(s)
            if layer < len(self.cells) - 1:
                x = self.drop(out)  # dropout between layers only, as torch.nn.LSTM(dropout=p) does
        if isinstance(state, tuple):
            return outputs, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))
        return outputs, torch.stack(finals)  # (num_layers, B, H)

    @staticmethod
    def _unroll(cell: _Cell, x: Tensor, s: State) -> tuple[Tensor, State]:
        """The readable path: one cell call per time step. Step t needs the state of step t-1."""
        hs = []
        for t in range(x.shape[1]):
            s = cell(x[:, t], s)  # (B, H) or ((B, H), (B, H))
            hs.append(s[0] if isinstance(s, tuple) else s)
        return torch.stack(hs, dim=1), s  # (B, T, H)

    def _unroll_fast(self, layer: int, x: Tensor, s: State) -> tuple[Tensor, State]:
        """The fast path: torch's own ``nn.LSTM`` (etc.) run with *our* parameters swapped in.

        ``functional_call`` runs a module with the given tensors in place of its parameters, so the
        fused C++ / cuDNN loop computes with (and sends gradients to) this layer's cell parameters.
        On CUDA, torch moves them into one cuDNN buffer on the first call: the same Parameter
        objects with the same values, only their storage changes.
        """
        cell = self.cells[layer]
        params = {f"{name}_l0": p for name, p in cell.named_parameters()}  # weight_ih -> weight_ih_l0
        hx = tuple(t.unsqueeze(0) for t in s) if isinstance(s, tuple) else s.unsqueeze(0)  # (1, B, H)
        out, hx = functional_call(self._twins[layer], params, (x, hx))  # (B, T, H)
        # subtle: torch returns a (B, T, H) view of (T, B, H) memory, and dropout draws its mask in memory
        # order; made contiguous, the same seed gives the same masks on both paths.
        out = out.contiguous()
        s = tuple(t.squeeze(0) for t in hx) if isinstance(hx, tuple) else hx.squeeze(0)  # (B, H)
        return out, s
