"""Decoding against transformers' ``generate`` on tiny random GPT-2 and LLaMA twins (weights copied by our converter).

Greedy, seeded sampling (same seed, same draws: both use torch.multinomial on the same
distribution) and beam search must give the same token ids.
"""

from __future__ import annotations

import pytest
import torch
import transformers

from llmlab.generation import GenerationConfig, beam_search, generate, greedy
from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.hf import hf_config, to_hf_state_dict
from llmlab.models.llama import Llama, LlamaConfig

FAMILIES = {
    "gpt2": (GPT2, GPT2Config, "gpt2-debug", transformers.GPT2Config, transformers.GPT2LMHeadModel),
    "llama": (Llama, LlamaConfig, "llama-debug", transformers.LlamaConfig, transformers.LlamaForCausalLM),
}
PROMPT = [5, 17, 42, 99, 3, 250]


def pair(family: str):
    """Our model (weights spread to std 0.15 so greedy paths do not just repeat) and its HF twin."""
    ours_cls, cfg_cls, preset, hf_cfg_cls, hf_cls = FAMILIES[family]
    torch.manual_seed(0)
    ours = ours_cls(cfg_cls.from_name(preset)).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in ours.parameters():
            if p.dim() >= 2:
                p.normal_(0, 0.15, generator=g)
    cfg = {k: v for k, v in hf_config(ours).items() if k not in ("architectures", "model_type")}
    hf = hf_cls(hf_cfg_cls(**cfg, bos_token_id=None, eos_token_id=None)).eval()
    hf.load_state_dict(to_hf_state_dict(ours), strict=False)  # a tied lm_head is not in the state dict
    return ours, hf


@pytest.fixture(scope="module", params=list(FAMILIES))
def models(request):
    return pair(request.param)


def hf_new(hf, **kwargs) -> list[list[int]]:
    out = hf.generate(torch.tensor([PROMPT]), **{"pad_token_id": 0, **kwargs})
    return out[:, len(PROMPT) :].tolist()


def test_greedy_equals_transformers(models):
    ours, hf = models
    expected = hf_new(hf, do_sample=False, max_new_tokens=40, eos_token_id=None)[0]
    assert len(set(expected)) > 10  # a path that goes somewhere, not one repeated token
    assert greedy(ours, PROMPT, 40) == expected
    got = generate(ours, PROMPT, GenerationConfig(max_new_tokens=40, temperature=0))[0]
    assert got.ids == expected and got.finish_reason == "length"
    # with an EOS id both stop at its first occurrence, and both keep it
    eos = expected[12]
    cut = expected[: expected.index(eos) + 1]
    assert hf_new(hf, do_sample=False, max_new_tokens=40, eos_token_id=eos)[0] == cut
    stopped = generate(ours, PROMPT, GenerationConfig(max_new_tokens=40, temperature=0, stop_ids=[eos]))[0]
    assert stopped.ids == cut and stopped.finish_reason == "stop"


def test_greedy_repetition_penalty_equals_transformers(models):
    ours, hf = models
    expected = hf_new(hf, do_sample=False, max_new_tokens=30, repetition_penalty=1.5, eos_token_id=None)[0]
    cfg = GenerationConfig(max_new_tokens=30, temperature=0, repetition_penalty=1.5)
    assert generate(ours, PROMPT, cfg)[0].ids == expected
    assert expected != greedy(ours, PROMPT, 30)  # the penalty changed the path


@pytest.mark.parametrize(
    "knobs",
    [dict(temperature=0.8, top_k=100, top_p=0.9), dict(temperature=1.3, min_p=0.05),
     dict(temperature=1.0, top_p=0.5, repetition_penalty=1.2)],
    ids=["temp-topk-topp", "minp", "topp-rep"],
)  # fmt: skip
def test_seeded_sampling_draws_the_same_tokens_as_transformers(models, knobs):
    ours, hf = models
    torch.manual_seed(3)  # transformers samples from the global generator; ours from its own, seeded alike
    # subtle: transformers applies top_k=50 when sampling unless told otherwise; ours is off by default
    hf_knobs = {"top_k": 0, **knobs}
    expected = hf_new(
        hf, do_sample=True, max_new_tokens=25, num_return_sequences=4, eos_token_id=None, **hf_knobs
    )
    got = generate(ours, PROMPT, GenerationConfig(max_new_tokens=25, seed=3, n=4, **knobs))
    assert [g.ids for g in got] == expected
    assert len({tuple(ids) for ids in expected}) == 4


def eos_for_beams(ours, k: int) -> int:
    """An EOS id that the beams actually produce midway, so finishing early is exercised."""
    free = beam_search(ours, PROMPT, GenerationConfig(max_new_tokens=20, temperature=0, num_beams=k, n=k))
    return free[0].ids[6]


@pytest.mark.parametrize(
    "k, length_penalty, early_stopping",
    [
        (2, 1.0, False),
        (3, 1.0, True),
        (4, 2.0, False),
        (3, -1.0, False),
        (3, 1.5, "never"),
        (4, 0.0, "never"),
    ],
)
def test_beam_search_equals_transformers(models, k, length_penalty, early_stopping):
    check_beams(*models, k, length_penalty, early_stopping)


def check_beams(ours, hf, k: int, length_penalty: float, early_stopping: bool | str):
    """Our k beams (all of them, best first) are transformers' ``num_return_sequences=k``."""
    eos = eos_for_beams(ours, k)
    knobs = dict(num_beams=k, length_penalty=length_penalty, early_stopping=early_stopping)
    pad = 511  # subtle: transformers fills with `pad_token_id or eos`, so a pad of 0 would become the eos
    expected = hf_new(
        hf,
        do_sample=False,
        max_new_tokens=20,
        eos_token_id=eos,
        num_return_sequences=k,
        pad_token_id=pad,
        **knobs,
    )
    cfg = GenerationConfig(max_new_tokens=20, temperature=0, stop_ids=[eos], n=k, **knobs)
    got = generate(ours, PROMPT, cfg)
    assert len(got) == k
    for g, row in zip(got, expected, strict=True):
        assert row[: len(g.ids)] == g.ids
        assert all(t == pad for t in row[len(g.ids) :])  # transformers pads shorter beams
        assert (g.finish_reason == "stop") == (g.ids[-1] == eos) == (len(g.ids) < 20 or g.ids[-1] == eos)
    return got


def test_beam_search_stops_early_on_eos():
    ours, hf = pair("gpt2")
    got = check_beams(ours, hf, 3, 1.0, True)
    # with early_stopping=True the search ends as soon as 3 beams have produced the eos
    assert [len(g.ids) for g in got] == [7, 8, 7]
    assert all(g.finish_reason == "stop" for g in got)
    assert [g.score for g in got] == sorted((g.score for g in got), reverse=True)
