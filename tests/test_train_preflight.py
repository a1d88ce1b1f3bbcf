"""Preflight: memory estimates against what PyTorch really holds, measured step time, --fit."""

from __future__ import annotations

import pytest
import torch

from llmlab.errors import LLMLabError
from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.rnn import RNNConfig, RNNLanguageModel
from llmlab.training.preflight import GiB, activation_bytes, fit, preflight


def tiny() -> GPT2:
    torch.manual_seed(0)
    return GPT2(GPT2Config.from_name("gpt2-debug"))


def test_measured_step_time_is_the_median_so_one_slow_step_does_not_set_the_run(monkeypatch) -> None:
    from llmlab.training import preflight as pf

    clock = iter([0.0, 1.0, 10.0, 20.0, 30.0, 31.0])  # three timed steps of 1 s, 10 s (a hiccup), 1 s
    monkeypatch.setattr(pf.time, "perf_counter", lambda: next(clock))
    assert pf.measure_step(tiny(), 2, 16, timed_steps=3) == 1.0  # a mean would say 4 s


def test_preflight_counts_memory_and_times_a_step() -> None:
    model = tiny()
    result = preflight(model, batch_size=4, seq_len=32, time_budget_s=3600, timed_steps=1)
    n = model.num_parameters()
    assert result.params == n
    assert result.memory["weights"] == 4 * n and result.memory["optimizer"] == 8 * n
    assert result.step_seconds > 0 and result.tokens_per_step == 128
    assert result.steps_in_budget == int(3600 / result.step_seconds)
    assert not result.warnings
    assert "parameters; batch 4 x context 32" in result.summary()


def test_activation_estimate_is_the_right_size_of_what_autograd_keeps() -> None:
    """The formula is an estimate: it must be within a factor of 3 of the tensors autograd saves."""
    model = tiny()
    saved = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t.numel() * t.element_size())
        return t

    idx = torch.randint(0, 512, (4, 65))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(idx[:, :-1], targets=idx[:, 1:]).loss
    assert loss.requires_grad
    estimate = activation_bytes(model, 4, 64)
    assert sum(saved) / 3 < estimate < 3 * sum(saved)
    rnn = RNNLanguageModel(RNNConfig.from_name("lstm-debug"))
    assert activation_bytes(rnn, 4, 64) > 0


def test_a_short_time_budget_warns() -> None:
    result = preflight(tiny(), batch_size=2, seq_len=16, time_budget_s=1e-3, timed_steps=1)
    assert result.steps_in_budget < 200
    assert any("steps fit in 0 s" in w for w in result.warnings)


def test_fit_shrinks_the_batch_to_a_memory_budget() -> None:
    model = tiny()
    big = activation_bytes(model, 64, 128)
    budget = 16 * model.num_parameters() + big // 3
    result = fit(model, batch_size=64, seq_len=128, memory_budget_bytes=budget, timed_steps=1)
    assert result.batch_size < 64 and result.seq_len == 128
    assert result.total_memory <= budget


def test_fit_gives_up_with_a_clear_message() -> None:
    with pytest.raises(LLMLabError, match="even batch 1 at context 16 does not fit the budget"):
        fit(tiny(), batch_size=2, seq_len=32, memory_budget_bytes=1000, timed_steps=1)


def test_context_longer_than_the_model_is_refused() -> None:
    with pytest.raises(LLMLabError, match="context 256 is longer than the model's max_seq_len 128"):
        preflight(tiny(), batch_size=1, seq_len=256)
    assert GiB == 2**30
