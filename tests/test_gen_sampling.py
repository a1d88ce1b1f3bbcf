"""The decoding loop: KV cache vs recompute, seeds, n samples, records, penalties, and every bad input."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from llmlab.generation import GenerationConfig, GenerationError, beam_search, generate, greedy, stream
from llmlab.models import registry
from llmlab.models.base import ContextLengthError

PROMPT = [5, 17, 42, 99, 3, 250]
PRESETS = ["gpt2-debug", "llama-debug", "rnn-debug", "lstm-debug", "gru-debug"]


def build(preset: str, spread: float = 0.15):
    """A debug model; transformer weights spread to std ``spread`` so greedy paths do not just repeat."""
    torch.manual_seed(0)
    model = registry.build(preset).eval()
    if spread and not preset.endswith(("rnn-debug", "lstm-debug", "gru-debug")):
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() >= 2:
                    p.normal_(0, spread, generator=g)
    return model


def ids(model, **knobs) -> list[list[int]]:
    return [g.ids for g in generate(model, PROMPT, GenerationConfig(**knobs))]


@pytest.mark.parametrize("preset", PRESETS)
def test_greedy_with_and_without_the_cache_is_identical(preset):
    model = build(preset)
    cached = ids(model, max_new_tokens=30, temperature=0)[0]
    assert ids(model, max_new_tokens=30, temperature=0, use_cache=False)[0] == cached
    assert len(set(cached)) > 2  # a path worth comparing, not one repeated token
    if hasattr(model, "new_cache"):  # greedy() is the transformer-only first rung
        assert greedy(model, PROMPT, 30) == greedy(model, PROMPT, 30, use_cache=False) == cached


@pytest.mark.parametrize("preset", ["llama-debug", "lstm-debug"])
def test_batched_samples_with_early_stops_match_the_recompute_path(preset):
    model = build(preset)
    knobs = dict(max_new_tokens=20, temperature=1.5, seed=7, n=6, frequency_penalty=0.3)
    free = ids(model, **knobs)
    stop = Counter(t for sample in free for t in sample).most_common(1)[0][
        0
    ]  # some samples draw it, some not
    knobs["stop_ids"] = [stop]
    cached = generate(model, PROMPT, GenerationConfig(**knobs))
    assert [g.ids for g in generate(model, PROMPT, GenerationConfig(**knobs, use_cache=False))] == [
        g.ids for g in cached
    ]
    # rows left the batch at different steps: that is what reordering the cache must survive
    assert {g.finish_reason for g in cached} == {"stop", "length"}
    assert all((g.finish_reason == "stop") == (g.ids[-1] == stop) for g in cached)


def test_temperature_zero_is_greedy_and_seeds_reproduce():
    model = build("gpt2-debug")
    assert ids(model, max_new_tokens=25, temperature=0, top_k=3, top_p=0.5)[0] == greedy(model, PROMPT, 25)
    a = ids(model, max_new_tokens=25, seed=1, top_p=0.95, n=3)
    assert a == ids(model, max_new_tokens=25, seed=1, top_p=0.95, n=3)
    assert a != ids(model, max_new_tokens=25, seed=2, top_p=0.95, n=3)
    assert len({tuple(x) for x in a}) == 3  # the n samples differ from each other
    assert ids(model, max_new_tokens=25, seed=1, top_k=1)[0] == greedy(model, PROMPT, 25)  # top-1 is greedy


def test_penalties_and_bias_steer_the_path():
    model = build("gpt2-debug", spread=0)  # plain init: greedy repeats one token
    plain = greedy(model, PROMPT, 12)
    assert len(set(plain)) <= 2
    assert len(set(ids(model, max_new_tokens=12, temperature=0, presence_penalty=2.0)[0])) > 6
    assert len(set(ids(model, max_new_tokens=12, temperature=0, repetition_penalty=5.0)[0])) > 6
    assert ids(model, max_new_tokens=5, temperature=0, logit_bias={7: 100})[0] == [7] * 5
    assert ids(model, max_new_tokens=1, temperature=0, logit_bias={plain[0]: -100})[0] != plain[:1]


def test_steps_record_the_top_candidates_before_and_after_each_transform():
    model = build("gpt2-debug")
    cfg = GenerationConfig(max_new_tokens=4, temperature=0.7, top_k=3, seed=0, record_top=5)
    steps = list(stream(model, PROMPT, cfg))
    assert [s.index for s in steps] == [0, 1, 2, 3] and steps[-1].finish_reason == "length"
    first = steps[0]
    assert [name for name, _ in first.top] == ["model", "temperature", "top_k"]
    with torch.no_grad():
        probs = model(torch.tensor([PROMPT])).logits[0, -1].softmax(-1)
    top = probs.topk(5)
    assert [c.id for c in first.before] == top.indices.tolist()
    torch.testing.assert_close(torch.tensor([c.prob for c in first.before]), top.values)
    assert first.logprob == pytest.approx(probs[first.id].log().item(), abs=1e-5)
    after = first.after
    assert sum(c.prob for c in after[:3]) == pytest.approx(1.0) and [c.prob for c in after[3:]] == [0.0, 0.0]
    assert first.id in [c.id for c in after[:3]]
    gen = generate(model, PROMPT, cfg)[0]
    assert [s.id for s in gen.steps] == gen.ids == [s.id for s in steps]


def test_beam_search_runs_on_a_recurrent_model_with_and_without_state():
    model = build("lstm-debug")
    cfg = dict(max_new_tokens=12, temperature=0, num_beams=3, n=3)
    a = beam_search(model, PROMPT, GenerationConfig(**cfg))
    b = beam_search(model, PROMPT, GenerationConfig(**cfg, use_cache=False))
    assert [g.ids for g in a] == [g.ids for g in b] and len(a) == 3
    assert a[0].score >= a[1].score >= a[2].score


def test_context_overflow_is_a_clear_error_but_an_rnn_has_no_limit():
    model = build("gpt2-debug")  # max_seq_len 128
    with pytest.raises(
        ContextLengthError,
        match=r"prompt of 120 tokens \+ max_new_tokens=20 = 140 tokens exceeds the model's context of 128; "
        r"keep the prompt's last 108 tokens or lower max_new_tokens",
    ):
        generate(model, [1] * 120, GenerationConfig(max_new_tokens=20))
    rnn = build("rnn-debug")  # max_seq_len 64 is only its training window
    assert len(generate(rnn, [1] * 100, GenerationConfig(max_new_tokens=5, temperature=0))[0].ids) == 5


def test_dropout_is_off_while_decoding_and_the_mode_is_restored():
    model = registry.build("gpt2-debug")
    model.config.dropout = 0.5
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.5
    model.train()
    assert ids(model, max_new_tokens=10, temperature=0) == ids(model, max_new_tokens=10, temperature=0)
    assert model.training


@pytest.mark.parametrize(
    "knobs, message",
    [
        (dict(temperature=-1), r"temperature must be >= 0 \(0 means greedy\), got -1"),
        (dict(top_p=0), r"top_p must be in \(0, 1\] \(1 turns it off\), got 0"),
        (dict(min_p=1.5), r"min_p must be in \[0, 1\]"),
        (dict(top_k=-2), "top_k must be >= 0"),
        (dict(frequency_penalty=3), r"frequency_penalty must be in \[-2, 2\] as in OpenAI's API, got 3"),
        (dict(repetition_penalty=0), "repetition_penalty must be > 0"),
        (dict(max_new_tokens=0), "max_new_tokens must be at least 1, got 0"),
        (dict(n=0), r"n \(number of samples\) must be at least 1"),
        (dict(stop=[""]), "stop sequences must be non-empty strings"),
        (dict(early_stopping="soon"), "early_stopping must be True, False or 'never', got 'soon'"),
        (dict(num_beams=2, temperature=0.7), "beam search does not sample"),
        (dict(num_beams=2, top_p=0.9), "beam search does not sample"),
        (
            dict(num_beams=2, presence_penalty=1),
            "penalties and logit_bias are not supported with beam search",
        ),
        (dict(num_beams=2, stop=["x"]), "beam search supports stop_ids but not stop strings or record_top"),
        (dict(num_beams=2, n=3), "n=3 beams asked for but only num_beams=2 are kept"),
    ],
)
def test_bad_settings_are_one_clear_error(knobs, message):
    with pytest.raises(GenerationError, match=message):
        GenerationConfig(**knobs)


def test_bad_requests_are_one_clear_error():
    model = build("gpt2-debug")
    cases = [
        ([], GenerationConfig(), "the prompt is empty: give at least one token"),
        ([1, 512], GenerationConfig(), "prompt id 512 is outside the model's vocabulary of 512"),
        ([1], GenerationConfig(logit_bias={600: 1.0}), "logit_bias id 600 is outside the model's vocabulary"),
        ([1], GenerationConfig(stop_ids=[-1]), "stop_ids id -1 is outside the model's vocabulary"),
    ]
    for prompt, cfg, message in cases:
        with pytest.raises(GenerationError, match=message):
            generate(model, prompt, cfg)
    with pytest.raises(GenerationError, match=r"beam search cannot stream .* use generate\(\)"):
        stream(model, [1], GenerationConfig(num_beams=2, temperature=0))
    with pytest.raises(GenerationError, match="not a bert model"):
        generate(registry.build("bert-debug"), [1], GenerationConfig())
