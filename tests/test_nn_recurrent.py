"""Our recurrent cells and their unrolled stack against torch.nn's RNN/LSTM/GRU, outputs and gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llmlab.nn.recurrent import GRUCell, LSTMCell, Recurrent, RNNCell

TOL = {"atol": 1e-6, "rtol": 1e-6}  # fp32, same operations in a different order
D_IN, H, B, T = 5, 7, 3, 6  # input width, hidden width, batch, time
PAIRS = [("rnn", RNNCell, nn.RNNCell), ("lstm", LSTMCell, nn.LSTMCell), ("gru", GRUCell, nn.GRUCell)]
TWINS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _random_state(cell: str, *lead: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    h = torch.randn(*lead, H)
    return (h, torch.randn(*lead, H)) if cell == "lstm" else h


def _flat(out: torch.Tensor | tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize(("name", "ours_cls", "torch_cls"), PAIRS)
def test_cell_matches_torch_outputs_and_gradients(name: str, ours_cls: type, torch_cls: type) -> None:
    torch.manual_seed(0)
    ref = torch_cls(D_IN, H)
    ours = ours_cls(D_IN, H)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.load_state_dict(ref.state_dict())  # same names and shapes: a one-to-one copy
    x = torch.randn(B, D_IN, requires_grad=True)
    state = _random_state(name, B)
    got, want = _flat(ours(x, state)), _flat(ref(x, state))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, **TOL)
    # gradients of a loss that touches every output, w.r.t. every parameter and the input
    weights = [torch.randn_like(w) for w in want]
    for outs in (got, want):
        sum((o * w).sum() for o, w in zip(outs, weights, strict=True)).backward()
    for (n, p_ours), (_, p_ref) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
        torch.testing.assert_close(p_ours.grad, p_ref.grad, **TOL, msg=f"gradient of {n}")


def test_gru_reset_gate_multiplies_the_hidden_bias_too() -> None:
    # subtle: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); putting b_hn outside r breaks parity
    torch.manual_seed(0)
    cell, ref = GRUCell(D_IN, H), nn.GRUCell(D_IN, H)
    cell.load_state_dict(ref.state_dict())
    with torch.no_grad():
        cell.bias_hh[2 * H :] += 1.0
        ref.bias_hh[2 * H :] += 1.0
    x, h = torch.randn(B, D_IN), torch.randn(B, H)
    torch.testing.assert_close(cell(x, h), ref(x, h), **TOL)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_cells_start_from_zeros_when_no_state_is_given(name: str) -> None:
    cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[name](D_IN, H)
    x = torch.randn(B, D_IN)
    zeros = _random_state(name, B)
    zeros = tuple(torch.zeros_like(t) for t in zeros) if isinstance(zeros, tuple) else torch.zeros_like(zeros)
    for g, w in zip(_flat(cell(x)), _flat(cell(x, zeros)), strict=True):
        torch.testing.assert_close(g, w, atol=0, rtol=0)


def _copy_from_torch(ours: Recurrent, ref: nn.RNNBase) -> None:
    """torch.nn.LSTM names layer l's weights weight_ih_l{l}; ours live in cells.{l}.weight_ih."""
    sd = {f"cells.{k[-1]}.{k.rsplit('_', 1)[0]}": v for k, v in ref.state_dict().items()}
    ours.load_state_dict(sd)


@pytest.mark.parametrize("fast", [False, True], ids=["cells", "fast"])
@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_stack_matches_torch_two_layer_module(name: str, fast: bool) -> None:
    torch.manual_seed(0)
    ref = TWINS[name](D_IN, H, num_layers=2, batch_first=True)
    ours = Recurrent(name, D_IN, H, num_layers=2, fast=fast)
    _copy_from_torch(ours, ref)
    x = torch.randn(B, T, D_IN, requires_grad=True)
    state = _random_state(name, 2, B)
    (out, final), (ref_out, ref_final) = ours(x, state), ref(x, state)
    torch.testing.assert_close(out, ref_out, **TOL)
    for g, w in zip(_flat(final), _flat(ref_final), strict=True):
        torch.testing.assert_close(g, w, **TOL)
    grad_out = torch.randn_like(out)
    (gx_ours,) = torch.autograd.grad((out * grad_out).sum() + sum(f.sum() for f in _flat(final)), x)
    ref_loss = (ref_out * grad_out).sum() + sum(f.sum() for f in _flat(ref_final))
    (gx_ref,) = torch.autograd.grad(ref_loss, x)
    torch.testing.assert_close(gx_ours, gx_ref, **TOL)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_fast_and_cell_paths_agree_in_training_mode_with_dropout(name: str) -> None:
    # both paths apply the same nn.Dropout between layers, so the same seed gives the same masks
    torch.manual_seed(0)
    slow = Recurrent(name, D_IN, H, num_layers=3, dropout=0.5).train()
    fast = Recurrent(name, D_IN, H, num_layers=3, dropout=0.5, fast=True).train()
    fast.load_state_dict(slow.state_dict())
    x = torch.randn(B, T, D_IN)
    torch.manual_seed(1)
    out_slow, _ = slow(x)
    torch.manual_seed(1)
    out_fast, _ = fast(x)
    torch.testing.assert_close(out_fast, out_slow, **TOL)
    out_slow.square().sum().backward()
    out_fast.square().sum().backward()
    for (n, a), (_, b) in zip(slow.named_parameters(), fast.named_parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-5, msg=f"gradient of {n}")


def test_state_dict_is_the_cells_only_whatever_the_path() -> None:
    slow, fast = Recurrent("lstm", D_IN, H, num_layers=2), Recurrent("lstm", D_IN, H, num_layers=2, fast=True)
    assert list(slow.state_dict()) == list(fast.state_dict())
    assert list(slow.state_dict()) == [
        f"cells.{i}.{n}" for i in (0, 1) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]


def test_forward_layers_returns_every_layer_and_the_last_is_the_output() -> None:
    torch.manual_seed(0)
    stack = Recurrent("gru", D_IN, H, num_layers=3).eval()
    x = torch.randn(B, T, D_IN)
    layers, state = stack.forward_layers(x)
    assert [tuple(t.shape) for t in layers] == [(B, T, H)] * 3
    assert tuple(state.shape) == (3, B, H)
    torch.testing.assert_close(layers[-1], stack(x)[0], atol=0, rtol=0)
    for layer in range(3):  # the final state of each layer is its output at the last step
        torch.testing.assert_close(state[layer], layers[layer][:, -1], atol=0, rtol=0)


def test_unknown_cell_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match="unknown recurrent cell 'transformer'; choose one of rnn, lstm, gru"
    ):
        Recurrent("transformer", D_IN, H)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_fast_path_on_cuda_matches_cells(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # subtle: cuDNN runs RNNs in TF32 by default (errors ~1e-3); turn it off for an fp32 comparison
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    torch.manual_seed(0)
    slow = Recurrent(name, D_IN, H, num_layers=2).cuda()
    fast = Recurrent(name, D_IN, H, num_layers=2, fast=True).cuda()
    fast.load_state_dict(slow.state_dict())
    x = torch.randn(B, T, D_IN, device="cuda")
    out_fast, out_slow = fast(x)[0], slow(x)[0]
    torch.testing.assert_close(out_fast, out_slow, atol=1e-5, rtol=1e-5)  # cuDNN sums in another order
    out_fast.sum().backward()
    out_slow.sum().backward()
    for a, b in zip(slow.parameters(), fast.parameters(), strict=True):
        # loosened: gradients reach ~15 here, summed over the batch in cuDNN's own order
        torch.testing.assert_close(b.grad, a.grad, atol=1e-4, rtol=1e-4)
