"""GPT-2 and LLaMA against transformers: logits, hidden states, attention maps, both converter directions."""

from __future__ import annotations

import pytest
import torch
import transformers
from torch.testing import assert_close

from llmlab.models.base import ContextLengthError, ModelError
from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.hf import WeightsError, from_hf_state_dict, hf_config, to_hf_state_dict
from llmlab.models.llama import Llama, LlamaConfig

TOL = dict(rtol=1e-5, atol=1e-5)

FAMILIES = {
    "gpt2": (GPT2, GPT2Config, "gpt2-debug", transformers.GPT2Config, transformers.GPT2LMHeadModel),
    "llama": (Llama, LlamaConfig, "llama-debug", transformers.LlamaConfig, transformers.LlamaForCausalLM),
}


def pair(family: str, **overrides):
    """Our model and transformers' twin with the same random weights, copied HF -> ours."""
    ours_cls, cfg_cls, preset, hf_cfg_cls, hf_cls = FAMILIES[family]
    torch.manual_seed(0)
    cfg = cfg_cls.from_name(preset, **overrides)
    hf_cfg = {k: v for k, v in hf_config(ours_cls(cfg)).items() if k not in ("architectures", "model_type")}
    hf = hf_cls(hf_cfg_cls(**hf_cfg, attn_implementation="eager")).eval()
    ours = from_hf_state_dict(hf.state_dict(), hf_config(ours_cls(cfg))).eval()
    return ours, hf


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("tie", [True, False])
def test_logits_equal_transformers_hf_to_ours(family, tie):
    ours, hf = pair(family, tie_embeddings=tie)
    idx = torch.randint(0, ours.config.vocab_size, (2, 19))
    with torch.no_grad():
        assert_close(ours(idx).logits, hf(idx).logits, **TOL)
        # HF shifts labels inside; ours takes targets already shifted (position t predicts t + 1)
        assert_close(ours(idx[:, :-1], targets=idx[:, 1:]).loss, hf(idx, labels=idx).loss, **TOL)
    assert (ours.head.weight is ours.tok_emb.weight) == tie


@pytest.mark.parametrize("family", FAMILIES)
def test_logits_equal_transformers_ours_to_hf(family):
    ours_cls, cfg_cls, preset, hf_cfg_cls, hf_cls = FAMILIES[family]
    torch.manual_seed(1)
    ours = ours_cls(cfg_cls.from_name(preset, tie_embeddings=False)).eval()
    hf_cfg = {k: v for k, v in hf_config(ours).items() if k not in ("architectures", "model_type")}
    hf = hf_cls(hf_cfg_cls(**hf_cfg)).eval()
    hf.load_state_dict(to_hf_state_dict(ours), strict=True)
    idx = torch.randint(0, ours.config.vocab_size, (3, 12))
    with torch.no_grad():
        assert_close(ours(idx).logits, hf(idx).logits, **TOL)


@pytest.mark.parametrize("family", FAMILIES)
def test_padding_hidden_states_and_attention_maps_equal_transformers(family):
    ours, hf = pair(family)
    idx = torch.randint(0, ours.config.vocab_size, (2, 10))
    am = torch.ones(2, 10, dtype=torch.long)
    am[1, 7:] = 0  # right padding on the second row
    with torch.no_grad():
        out = ours(idx, attention_mask=am, output_hidden_states=True, output_attentions=True)
        ref = hf(idx, attention_mask=am, output_hidden_states=True, output_attentions=True)
    real = am.bool()
    assert_close(out.logits[real], ref.logits[real], **TOL)
    assert len(out.hidden_states) == len(ref.hidden_states) == ours.config.n_layer + 1
    # HF applies the final norm to its last hidden state; ours keeps the raw residual stream
    for mine, theirs in zip(out.hidden_states[:-1], ref.hidden_states[:-1], strict=True):
        assert_close(mine[real], theirs[real], **TOL)
    assert_close(ours.final_norm(out.hidden_states[-1])[real], ref.hidden_states[-1][real], **TOL)
    for mine, theirs in zip(out.attentions, ref.attentions, strict=True):
        assert_close(mine[0], theirs[0], **TOL)
        assert_close(mine[1, :, :7], theirs[1, :, :7], **TOL)


@pytest.mark.parametrize("family", FAMILIES)
def test_kv_cache_gives_the_same_logits_as_full_recompute(family):
    ours, _ = pair(family)
    idx = torch.randint(0, ours.config.vocab_size, (2, 16))
    cache = ours.new_cache(batch_size=2, max_seq_len=32)
    with torch.no_grad():
        full = ours(idx).logits
        steps = [ours(idx[:, :9], cache=cache).logits]
        steps += [ours(idx[:, t : t + 1], cache=cache).logits for t in range(9, 16)]
    assert_close(torch.cat(steps, dim=1), full, **TOL)


def test_llama_interleaved_rope_is_the_same_model_after_permutation():
    ours, _ = pair("llama")
    hf_cfg = hf_config(ours)
    state = to_hf_state_dict(ours)
    inter = from_hf_state_dict(state, hf_cfg)  # half-split
    cfg = LlamaConfig.from_dict({**ours.config.to_dict(), "rope_interleaved": True})
    twin = Llama(cfg).eval()
    from llmlab.models.hf.core import from_hf, load_checked
    from llmlab.models.hf.llama import name_map

    load_checked(twin, from_hf(state, name_map(cfg, "LlamaForCausalLM")))
    assert not torch.equal(twin.blocks[0].attn.q.weight, inter.blocks[0].attn.q.weight)
    idx = torch.randint(0, cfg.vocab_size, (2, 13))
    with torch.no_grad():
        assert_close(twin(idx).logits, inter(idx).logits, **TOL)
    assert_close(to_hf_state_dict(twin)["model.layers.1.self_attn.k_proj.weight"],
                 state["model.layers.1.self_attn.k_proj.weight"])  # fmt: skip


@pytest.mark.parametrize("family", FAMILIES)
def test_weights_that_do_not_fit_are_listed_in_one_error(family):
    ours, hf = pair(family)
    state = dict(hf.state_dict())
    cfg = hf_config(ours)
    prefix = "transformer.h.1." if family == "gpt2" else "model.layers.1."
    victim = next(k for k in state if k.startswith(prefix) and "norm" not in k and "ln" not in k)
    del state[victim]
    state["extra.weight"] = torch.zeros(3)
    with pytest.raises(WeightsError) as err:
        from_hf_state_dict(state, cfg)
    msg = str(err.value)
    assert msg.startswith("HF weights do not match the model's name map: 1 missing: " + victim)
    assert "1 unexpected: extra.weight" in msg
    state = dict(hf.state_dict())
    emb = "transformer.wte.weight" if family == "gpt2" else "model.embed_tokens.weight"
    state[emb] = torch.zeros(7, 3)
    with pytest.raises(
        WeightsError, match=r"1 wrongly shaped: tok_emb.weight \(7, 3\) \(model wants \(512, 64\)\)"
    ):
        from_hf_state_dict(state, cfg)


@pytest.mark.parametrize("family", FAMILIES)
def test_too_long_input_is_a_clear_error(family):
    ours, _ = pair(family)
    idx = torch.zeros(1, 129, dtype=torch.long)
    with pytest.raises(
        ContextLengthError, match="input of 129 tokens is longer than the model's context of 128"
    ):
        ours(idx)


def test_config_presets_and_bad_configs():
    assert GPT2(GPT2Config.from_name("gpt2")).num_parameters() == 124_439_808
    assert Llama(LlamaConfig.from_name("smollm2-135m")).num_parameters() == 134_515_008
    with pytest.raises(ModelError, match=r"unknown gpt2 preset 'gpt-2' \(did you mean gpt2"):
        GPT2Config.from_name("gpt-2")
    with pytest.raises(ModelError, match="n_head=4 must be a multiple of n_kv_head=3"):
        LlamaConfig.from_name("llama-debug", n_kv_head=3)
    with pytest.raises(ModelError, match="GPT2Config has no field.s. n_kv_head"):
        GPT2Config.from_dict({"n_kv_head": 2})
    assert LlamaConfig.from_dict(LlamaConfig.from_name("smollm2-135m").to_dict()) == LlamaConfig.from_name(
        "smollm2-135m"
    )
