"""Each logit transform on hand-made logits (exact outputs), and against transformers' processors live."""

from __future__ import annotations

import math

import pytest
import torch
import transformers
from torch.testing import assert_close

from llmlab.generation import logits as lp
from llmlab.generation.config import GenerationConfig
from llmlab.generation.pipeline import Transforms

INF = float("inf")


def probs_logits(*probs: float) -> torch.Tensor:
    """A (1, V) row whose softmax is ``probs``."""
    return torch.tensor([probs]).log()


def kept(logits: torch.Tensor) -> list[int]:
    return torch.nonzero(logits[0] > -INF).flatten().tolist()


def test_temperature_divides_the_logits():
    out = lp.temperature(torch.tensor([[2.0, 1.0, 0.0, -4.0]]), 0.5)
    assert out.tolist() == [[4.0, 2.0, 0.0, -8.0]]
    hot = lp.temperature(torch.tensor([[2.0, 1.0, 0.0]]), 100.0).softmax(-1)
    assert hot.max() - hot.min() < 0.01  # a high temperature is nearly uniform


def test_top_k_keeps_the_k_best_and_their_ties():
    out = lp.top_k(torch.tensor([[1.0, 3.0, 2.0, 0.0], [5.0, 4.0, 3.0, 2.0]]), 2)
    assert out.tolist() == [[-INF, 3.0, 2.0, -INF], [5.0, 4.0, -INF, -INF]]
    assert kept(lp.top_k(torch.tensor([[2.0, 2.0, 0.0]]), 1)) == [0, 1]  # tied with the k-th: kept
    assert lp.top_k(torch.tensor([[1.0, 2.0]]), 10).tolist() == [[1.0, 2.0]]  # k > V keeps all


@pytest.mark.parametrize(
    "p, expected",
    [(0.01, [1]), (0.4, [1]), (0.6, [1, 3]), (0.79, [1, 3]), (0.81, [0, 1, 3]), (0.9, [0, 1, 3]),
     (0.96, [0, 1, 2, 3]), (1.0, [0, 1, 2, 3])],
)  # fmt: skip
def test_top_p_keeps_the_smallest_set_with_mass_at_least_p(p, expected):
    logits = probs_logits(0.15, 0.5, 0.05, 0.3)  # sorted: 0.5 (id 1), 0.3 (id 3), 0.15 (id 0), 0.05 (id 2)
    out = lp.top_p(logits, p)
    assert kept(out) == expected
    assert_close(out[0, expected], logits[0, expected])  # survivors keep their logits unchanged


def test_top_p_property_on_random_rows():
    torch.manual_seed(0)
    logits = torch.randn(64, 40) * 2
    for p in (0.1, 0.5, 0.9, 0.99):
        probs, out = logits.softmax(-1), lp.top_p(logits, p)
        for row in range(64):
            keep = out[row] > -INF
            mass = probs[row][keep].sum().item()
            weakest = probs[row][keep].min().item()
            assert mass >= p - 1e-6  # enough mass...
            assert mass - weakest < p  # ...and no smaller set of the most likely tokens has it
            assert all(q <= weakest for q in probs[row][~keep].tolist())  # it is a head of the distribution


def test_min_p_scales_the_cut_with_the_top_probability():
    logits = probs_logits(0.05, 0.5, 0.15, 0.3)
    assert kept(lp.min_p(logits, 0.2)) == [1, 2, 3]  # threshold 0.1
    assert kept(lp.min_p(logits, 0.7)) == [1]  # threshold 0.35
    flat = probs_logits(0.3, 0.25, 0.25, 0.2)
    assert kept(lp.min_p(flat, 0.6)) == [0, 1, 2, 3]  # an unsure step keeps more (threshold 0.18)


def test_frequency_and_presence_penalties_follow_openai():
    logits = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    counts = torch.tensor([[0, 1, 3, 0]])
    out = lp.frequency_presence(logits, counts, frequency_penalty=0.5, presence_penalty=0.25)
    # logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty
    assert out.tolist() == [[1.0, 1.0 - 0.5 - 0.25, 1.0 - 1.5 - 0.25, 1.0]]
    assert lp.frequency_presence(logits, counts, -1.0, 0.0).tolist() == [[1.0, 2.0, 4.0, 1.0]]


def test_frequency_presence_equals_the_formula_written_as_a_loop():
    torch.manual_seed(1)
    logits, history = torch.randn(3, 20), torch.randint(0, 20, (3, 15))
    counts = lp.token_counts(history, 20)
    expected = logits.clone()
    for b in range(3):
        for j in range(20):
            c = history[b].tolist().count(j)
            expected[b, j] -= c * 0.7 + (1.0 if c > 0 else 0.0) * 0.4
    assert_close(lp.frequency_presence(logits, counts, 0.7, 0.4), expected)


def test_repetition_penalty_shrinks_seen_tokens_both_signs():
    logits = torch.tensor([[2.0, -2.0, 2.0, -2.0]])
    seen = torch.tensor([[True, True, False, False]])
    assert lp.repetition_penalty(logits, seen, 2.0).tolist() == [[1.0, -4.0, 2.0, -2.0]]
    assert lp.repetition_penalty(logits, seen, 0.5).tolist() == [[4.0, -1.0, 2.0, -2.0]]  # < 1 rewards


def test_logit_bias_adds_to_listed_ids():
    out = lp.logit_bias(torch.zeros(2, 3), {0: 1.5, 2: -100.0})
    assert out.tolist() == [[1.5, 0.0, -100.0]] * 2
    assert lp.token_counts(torch.tensor([[2, 0, 2]]), 4).tolist() == [[1, 0, 2, 0]]


HF_TWINS = [
    (lambda z, ids: lp.temperature(z, 0.7), transformers.TemperatureLogitsWarper(0.7)),
    (lambda z, ids: lp.top_k(z, 5), transformers.TopKLogitsWarper(5)),
    (lambda z, ids: lp.top_p(z, 0.8), transformers.TopPLogitsWarper(0.8)),
    (lambda z, ids: lp.top_p(z, 0.3), transformers.TopPLogitsWarper(0.3)),
    (lambda z, ids: lp.min_p(z, 0.1), transformers.MinPLogitsWarper(0.1)),
    (lambda z, ids: lp.repetition_penalty(z, lp.token_counts(ids, z.size(1)) > 0, 1.3),
     transformers.RepetitionPenaltyLogitsProcessor(1.3)),
]  # fmt: skip


@pytest.mark.parametrize(
    "ours, theirs", HF_TWINS, ids=["temp", "top_k", "top_p_0.8", "top_p_0.3", "min_p", "rep"]
)
def test_transforms_equal_transformers_processors(ours, theirs):
    torch.manual_seed(2)
    logits, ids = torch.randn(8, 100) * 3, torch.randint(0, 100, (8, 30))
    assert_close(ours(logits, ids), theirs(ids, logits.clone()))


def test_pipeline_applies_the_active_transforms_in_order_with_history():
    cfg = GenerationConfig(repetition_penalty=2.0, frequency_penalty=0.5, presence_penalty=0.25,
                           logit_bias={3: 1.0}, temperature=0.5, top_k=3, top_p=0.9, min_p=0.05)  # fmt: skip
    chain = Transforms(cfg, prompt=[0], vocab_size=5, device=torch.device("cpu"))
    assert [name for name, _ in chain.chain] == [
        "repetition_penalty", "frequency_presence", "logit_bias", "temperature", "top_k", "top_p", "min_p"
    ]  # fmt: skip
    chain.update(torch.tensor([1]))
    chain.update(torch.tensor([1]))
    logits = torch.tensor([[2.0, 2.0, 2.0, 2.0, -1.0]])
    out, records = chain(logits, record=2)
    # id 0 (prompt): 2 / 2 = 1; id 1 (generated twice): 2 / 2 - 2 * 0.5 - 0.25 = -0.25; id 3: 2 + 1 = 3
    raw = torch.tensor([[1.0, -0.25, 2.0, 3.0, -1.0]]) / 0.5
    assert_close(out, lp.min_p(lp.top_p(lp.top_k(raw, 3), 0.9), 0.05))
    assert [name for name, _ in records[0]] == ["model"] + [name for name, _ in chain.chain]
    assert records[0][0][1][0].prob == pytest.approx(math.exp(2) / (4 * math.exp(2) + math.exp(-1)))
    assert records[0][-1][1][0].id == 3
    greedy = Transforms(
        GenerationConfig(temperature=0, top_k=3, logit_bias={1: 1.0}), [0], 5, torch.device("cpu")
    )
    assert [name for name, _ in greedy.chain] == ["logit_bias"]  # truncation cannot change an argmax
