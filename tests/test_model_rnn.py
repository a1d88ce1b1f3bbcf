"""The recurrent language models: fast path = cell path, cached stepping = full forward, presets, learning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from llmlab.models.base import ModelError
from llmlab.models.rnn import RNNConfig, RNNLanguageModel

CELLS = ["rnn", "lstm", "gru"]
TOL = {"atol": 1e-6, "rtol": 1e-5}  # fp32; the fused kernel adds in another order


def _tiny(cell: str, **overrides: object) -> RNNConfig:
    fields = {"vocab_size": 50, "d_model": 12, "d_hidden": 16, "n_layer": 2, **overrides}
    return RNNConfig(cell=cell, **fields)


def _pair(cell: str, **overrides: object) -> tuple[RNNLanguageModel, RNNLanguageModel]:
    """The same weights, once unrolled cell by cell and once through torch.nn.RNN/LSTM/GRU."""
    torch.manual_seed(0)
    slow = RNNLanguageModel(_tiny(cell, **overrides))
    fast = RNNLanguageModel(_tiny(cell, fast=True, **overrides))
    fast.load_state_dict(slow.state_dict())  # strict: the same names whichever path
    return slow, fast


@pytest.mark.parametrize("cell", CELLS)
def test_fast_path_equals_cell_path_logits_and_gradients(cell: str) -> None:
    slow, fast = _pair(cell, dropout=0.3)
    idx, targets = torch.randint(0, 50, (3, 9)), torch.randint(0, 50, (3, 9))
    for mode in ("eval", "train"):  # in training the dropout masks match too, given the same seed
        outs = []
        for model in (slow, fast):
            getattr(model, mode)()
            model.zero_grad()
            torch.manual_seed(1)
            out = model(idx, targets)
            out.loss.backward()
            outs.append(out)
        torch.testing.assert_close(outs[1].logits, outs[0].logits, **TOL)
        for (name, p_slow), (_, p_fast) in zip(slow.named_parameters(), fast.named_parameters(), strict=True):
            torch.testing.assert_close(p_fast.grad, p_slow.grad, **TOL, msg=f"{mode}: gradient of {name}")


@pytest.mark.parametrize("fast", [False, True], ids=["cells", "fast"])
@pytest.mark.parametrize("cell", CELLS)
def test_feeding_one_token_at_a_time_with_the_cache_equals_the_full_forward(cell: str, fast: bool) -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(_tiny(cell, fast=fast)).eval()
    idx = torch.randint(0, 50, (2, 7))
    full = model(idx)
    state, steps = None, []
    for t in range(idx.shape[1]):
        out = model(idx[:, t : t + 1], state=state)
        state = out.cache
        steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full.logits, atol=1e-6, rtol=1e-6)
    for got, want in zip(
        state if cell == "lstm" else [state], full.cache if cell == "lstm" else [full.cache], strict=True
    ):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


def test_loss_is_cross_entropy_of_the_logits_with_ignored_positions() -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(_tiny("gru")).eval()
    idx, targets = torch.randint(0, 50, (2, 6)), torch.randint(0, 50, (2, 6))
    targets[0, :3] = -100
    out = model(idx, targets)
    want = F.cross_entropy(out.logits.reshape(-1, 50), targets.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.loss, want, atol=0, rtol=0)
    assert model(idx).loss is None


def test_hidden_states_are_the_embeddings_then_each_layer() -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(_tiny("lstm", n_layer=3)).eval()
    idx = torch.randint(0, 50, (2, 5))
    out = model(idx, output_hidden_states=True)
    assert [tuple(h.shape) for h in out.hidden_states] == [(2, 5, 12)] + [(2, 5, 16)] * 3
    torch.testing.assert_close(out.hidden_states[0], model.embed(idx), atol=0, rtol=0)
    torch.testing.assert_close(model.head(out.hidden_states[-1]), out.logits, atol=0, rtol=0)
    assert model(idx).hidden_states is None


def test_longer_input_than_max_seq_len_is_allowed() -> None:
    model = RNNLanguageModel(_tiny("rnn", max_seq_len=4)).eval()
    assert model(torch.zeros(1, 10, dtype=torch.long)).logits.shape == (1, 10, 50)


def test_tied_embeddings_share_storage_and_are_counted_once() -> None:
    tied = RNNLanguageModel(_tiny("lstm", d_hidden=12, tie_embeddings=True))
    untied = RNNLanguageModel(_tiny("lstm", d_hidden=12))
    assert tied.head.weight is tied.embed.weight
    assert tied.head.weight.data_ptr() == tied.embed.weight.data_ptr()
    with torch.no_grad():
        tied.embed.weight[3, 0] = 42.0
    assert tied.head.weight[3, 0].item() == 42.0
    assert untied.num_parameters() - tied.num_parameters() == 50 * 12
    assert "head.weight" not in dict(tied.named_parameters())


def test_bad_cell_name_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match=r"unknown recurrent cell 'lstn'; choose one of rnn, lstm, gru"):
        RNNConfig(cell="lstn")


def test_tie_with_different_widths_is_a_clear_error() -> None:
    with pytest.raises(
        ModelError, match=r"tie_embeddings needs d_hidden == d_model \(got d_hidden=16, d_model=12\)"
    ):
        _tiny("gru", tie_embeddings=True)


def test_a_state_of_the_wrong_shape_is_a_clear_error() -> None:
    model = RNNLanguageModel(_tiny("lstm"))
    with pytest.raises(ModelError, match=r"state must be \(h, c\) with each of shape \(2, 3, 16\)"):
        model(torch.zeros(3, 2, dtype=torch.long), state=torch.zeros(2, 3, 16))


def _expected_parameters(c: RNNConfig) -> int:
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[c.cell]
    widths = [c.d_model] + [c.d_hidden] * (c.n_layer - 1)
    recurrent = sum(gates * c.d_hidden * (w + c.d_hidden + 2) for w in widths)  # W_ih, W_hh, b_ih, b_hh
    head = c.vocab_size + (0 if c.tie_embeddings else c.d_hidden * c.vocab_size)  # bias (+ weight)
    return c.vocab_size * c.d_model + recurrent + head


@pytest.mark.parametrize("name", sorted(RNNConfig.PRESETS))
def test_presets_build_and_count_their_parameters(name: str) -> None:
    config = RNNConfig.from_name(name)
    assert RNNConfig.from_dict(config.to_dict()) == config
    model = RNNLanguageModel(config)
    assert (
        model.num_parameters() == sum(p.numel() for p in model.parameters()) == _expected_parameters(config)
    )
    flops = model.flops_per_token()
    assert flops["embeddings"] == 0 and flops["head"] == 2 * config.d_hidden * config.vocab_size
    recurrent_weights = sum(p.numel() for n, p in model.recurrent.named_parameters() if "weight" in n)
    assert flops["recurrent"] == 2 * recurrent_weights


def test_small_presets_are_a_few_million_parameters_with_vocab_4096() -> None:
    for name in ("rnn-small", "lstm-small", "gru-small"):
        config = RNNConfig.from_name(name)
        assert config.vocab_size == 4096 and 2_000_000 < _expected_parameters(config) < 10_000_000


@pytest.mark.parametrize(
    ("name", "fast"), [("lstm-debug", False), ("gru-debug", True)], ids=["lstm-cells", "gru-fast"]
)
def test_debug_model_learns_a_repeated_sequence(name: str, fast: bool, one_thread: None) -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(RNNConfig.from_name(name, fast=fast)).train()
    half = torch.randperm(256)[:4]
    # a b c d d c b a: what follows d (or a) depends on the token before it, so the state must carry it
    cycle = torch.cat([half, half.flip(0)])
    data = torch.stack([cycle.roll(shift).repeat(2) for shift in range(4)])  # (4, 16): 4 phases of the cycle
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    losses = []
    for _ in range(100):
        loss = model(data[:, :-1], data[:, 1:]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 5.0  # about ln(256) = 5.5: it knew nothing
    # token frequencies alone reach ln(4) = 1.39, the current token alone ln(2) = 0.69: below 0.25 the
    # model must carry the previous tokens in its state
    assert losses[-1] < 0.25, f"{name} did not learn the repeated sequence: losses {losses[::10]}"
