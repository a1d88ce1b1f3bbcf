"""T5 against transformers' T5ForConditionalGeneration: logits, loss, hidden states, attention
weights, greedy generation and the HF layout, with weights copied through our converter both ways.

Two tiny variants cover the two T5 generations: v1.0 (ReLU MLP, tied and rescaled head) and v1.1
(gated GELU, separate head). Encoder and decoder get different depths so the name map cannot
confuse the stacks, and the norm weights are randomised so it cannot confuse the norms either.
"""

from __future__ import annotations

import pytest
import torch
import transformers
from torch import nn
from torch.testing import assert_close

from llmlab.models.base import ContextLengthError, ModelError
from llmlab.models.hf import (
    WeightsError,
    from_hf_state_dict,
    from_pretrained,
    hf_config,
    save_pretrained,
    to_hf_state_dict,
)
from llmlab.models.hf.t5 import config_from_hf, config_to_hf
from llmlab.models.t5 import T5, T5Config
from llmlab.models.t5_relpos import relative_position_bucket

TOL = dict(rtol=1e-5, atol=1e-5)  # the acceptance bar; in practice the two agree to ~1e-7
VARIANTS = {
    "v1.0": dict(feed_forward="relu", tie_embeddings=True),
    "v1.1": dict(feed_forward="gated-gelu", tie_embeddings=False),
}
TIED_ALIASES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")


def tiny(variant: str, **overrides) -> T5Config:
    fields = dict(vocab_size=99, d_model=32, d_kv=8, d_ff=48, n_layer=3, n_decoder_layer=2, n_head=4)
    fields.update(relative_attention_num_buckets=8, relative_attention_max_distance=20, max_seq_len=64)
    return T5Config(**{**fields, **VARIANTS[variant], **overrides})


@torch.no_grad()
def randomise(model: nn.Module) -> nn.Module:
    """Norm gains away from 1 (a swapped norm would show) and smaller embeddings (so a random model
    does not just copy its input), in place: tied matrices stay tied."""
    for name, p in model.named_parameters():
        if "norm" in name:
            p.copy_(1 + 0.3 * torch.randn_like(p))
        elif name in ("shared.weight", "tok_emb.weight"):
            p.mul_(0.1)
    return model.eval()


def hf_model(cfg: dict) -> transformers.T5ForConditionalGeneration:
    """The HF twin of one of our configs; a v1.1 config gets its own head, as real v1.1 checkpoints have.

    subtle: transformers 5 always ties ``lm_head`` to ``shared`` at construction and only unties when
    a checkpoint holds a different matrix, so we untie by hand.
    """
    hf_cfg = transformers.T5Config(**cfg, attn_implementation="eager")
    model = transformers.T5ForConditionalGeneration(hf_cfg)
    if not hf_cfg.scale_decoder_outputs:
        model.lm_head.weight = nn.Parameter(torch.randn_like(model.lm_head.weight))
    return randomise(model)


def load_into_hf(model: transformers.T5ForConditionalGeneration, state: dict) -> None:
    """strict=True loading: HF lists the tied aliases of ``shared`` as separate keys, we write them once."""
    state = {**state, **{alias: state["shared.weight"] for alias in TIED_ALIASES}}
    state.setdefault("lm_head.weight", state["shared.weight"])  # v1.0: the head is the embedding
    model.load_state_dict(state, strict=True)


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(2, 99, (3, 30), generator=g)
    x_mask = torch.ones_like(x)
    x_mask[1, 21:] = 0  # right padding
    x_mask[2, :5] = 0  # left padding: relative positions do not care where the text starts
    labels = torch.randint(2, 99, (3, 25), generator=g)
    labels[1, 18:] = -100  # ignored by the loss, and padded in the shifted decoder input
    return x, x_mask, labels


def assert_same_as_hf(ours: T5, hf: transformers.T5ForConditionalGeneration) -> None:
    x, x_mask, labels = batch()
    y_mask = (labels != -100).long()
    kw = dict(output_hidden_states=True, output_attentions=True)
    ref = hf(input_ids=x, attention_mask=x_mask, labels=labels, decoder_attention_mask=y_mask, **kw)
    out = ours(x, targets=labels, attention_mask=x_mask, decoder_attention_mask=y_mask, **kw)
    assert_close(out.logits, ref.logits, **TOL)
    assert_close(out.loss, ref.loss, **TOL)
    assert_close(out.encoder_last_hidden_state, ref.encoder_last_hidden_state, **TOL)
    # hidden states: embeddings then each block's output; HF puts the final norm on the last one
    for ours_h, ref_h, norm in [
        (out.encoder_hidden_states, ref.encoder_hidden_states, ours.encoder_norm),
        (out.hidden_states, ref.decoder_hidden_states, ours.final_norm),
    ]:
        assert len(ours_h) == len(ref_h)
        for a, b in zip(ours_h[:-1], ref_h[:-1], strict=True):
            assert_close(a, b, **TOL)
        assert_close(norm(ours_h[-1]), ref_h[-1], **TOL)
    for name, ours_a, ref_a in [
        ("encoder", out.encoder_attentions, ref.encoder_attentions),
        ("decoder", out.attentions, ref.decoder_attentions),
        ("cross", out.cross_attentions, ref.cross_attentions),
    ]:
        assert len(ours_a) == len(ref_a), name
        for a, b in zip(ours_a, ref_a, strict=True):
            assert_close(a, b, **TOL)
    assert out.cross_attentions[0].shape == (3, 4, 25, 30)  # (B, n_head, T, S)
    assert out.cross_attentions[0][1, :, :, 21:].abs().max() == 0  # no target position reads a pad


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# -- relative positions ----------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize(("num_buckets", "max_distance"), [(32, 128), (8, 20), (16, 64)])
def test_relative_position_bucket_equals_hf(bidirectional, num_buckets, max_distance):
    offsets = torch.arange(-600, 600)
    ours = relative_position_bucket(
        offsets, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    ref = transformers.models.t5.modeling_t5.T5Attention._relative_position_bucket(
        offsets, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    assert torch.equal(ours, ref)
    assert ours.min() == 0 and ours.max() == num_buckets - 1


def test_relative_position_worked_example_of_the_docs():
    offsets = torch.tensor(
        [-200, -128, -64, -32, -16, -9, -8, -7, -2, -1, 0, 1, 2, 7, 8, 9, 16, 32, 64, 128, 200]
    )
    encoder = [15, 15, 14, 12, 10, 8, 8, 7, 2, 1, 0, 17, 18, 23, 24, 24, 26, 28, 30, 31, 31]
    decoder = [31, 31, 26, 21, 16, 9, 8, 7, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert relative_position_bucket(offsets, bidirectional=True).tolist() == encoder
    assert relative_position_bucket(offsets, bidirectional=False).tolist() == decoder


# -- parity with transformers, both directions -----------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_hf_weights_into_ours_match_hf(variant):
    hf = hf_model(config_to_hf(tiny(variant)))
    ours = from_hf_state_dict(hf.state_dict(), hf.config.to_dict()).eval()
    assert ours.config.tie_embeddings == VARIANTS[variant]["tie_embeddings"]
    assert (ours.head.weight is ours.tok_emb.weight) == ours.config.tie_embeddings
    assert_same_as_hf(ours, hf)


@pytest.mark.parametrize("variant", VARIANTS)
def test_our_weights_into_hf_match_ours(variant):
    ours = randomise(T5(tiny(variant)))
    hf = hf_model(hf_config(ours))
    load_into_hf(hf, to_hf_state_dict(ours))
    assert_same_as_hf(ours, hf)


@pytest.mark.parametrize("variant", VARIANTS)
def test_greedy_generation_matches_hf_generate(variant):
    hf = hf_model(config_to_hf(tiny(variant)))
    ours = from_hf_state_dict(hf.state_dict(), hf.config.to_dict()).eval()
    x, x_mask, _ = batch(1)
    ref = hf.generate(x, attention_mask=x_mask, max_new_tokens=12, do_sample=False, num_beams=1)
    out = ours.generate_greedy(x, 12, attention_mask=x_mask)
    assert torch.equal(out, ref)
    assert len(set(out[:, 1:].flatten().tolist())) > 3  # a model that says something, not one token
    # stop at eos: make a token row 0 emits mid-way the eos; row 0 then stops and pads
    eos = int(out[0, 4])
    ours.config.eos_token_id = eos
    ref = hf.generate(x, attention_mask=x_mask, max_new_tokens=12, do_sample=False, eos_token_id=eos)
    out = ours.generate_greedy(x, 12, attention_mask=x_mask)
    assert torch.equal(out, ref)
    first = out[0].tolist().index(eos)
    assert (out[0, first + 1 :] == ours.config.pad_token_id).all()


def test_kv_cache_decoding_equals_full_recompute():
    model = randomise(T5(tiny("v1.1")))
    x, x_mask, labels = batch()
    y = model.shift_right(labels)
    memory = model.encode(x, x_mask).last_hidden_state
    full = model.decode(y, memory, x_mask).logits  # (B, T, V) in one pass
    cache = model.new_cache(3)
    steps = [model.decode(y[:, :5], memory, x_mask, cache).logits]  # a 5-token prefix, then one at a time
    steps += [model.decode(y[:, t : t + 1], memory, x_mask, cache).logits for t in range(5, y.size(1))]
    assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)
    assert cache.self_attn.seq_len == y.size(1)
    assert all(kv is not None for kv in cache.cross)  # encoder keys/values computed once and kept


# -- the HF folder layout -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_pretrained_loads_in_transformers(variant, tmp_path):
    ours = randomise(T5(tiny(variant)))
    save_pretrained(ours, tmp_path / "t5")
    hf = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path / "t5", attn_implementation="eager")
    assert (hf.lm_head.weight is hf.shared.weight) == ours.config.tie_embeddings
    assert_same_as_hf(ours, hf.eval())
    assert_same_as_hf(from_pretrained(tmp_path / "t5"), hf)  # and our own reader gets it back


@pytest.mark.parametrize("variant", VARIANTS)
def test_transformers_save_pretrained_loads_in_ours(variant, tmp_path):
    hf = hf_model(config_to_hf(tiny(variant)))
    hf.save_pretrained(tmp_path / "t5")
    ours = from_pretrained(tmp_path / "t5")
    assert isinstance(ours, T5) and ours.config == tiny(variant)
    assert_same_as_hf(ours, hf)


def test_config_reads_both_transformers_generations():
    # transformers 4.x (and the hub's v1.1 configs): tie_word_embeddings false means untied and unscaled
    v4 = {**config_to_hf(tiny("v1.1")), "tie_word_embeddings": False}
    # transformers 5.x writes tie_word_embeddings true and keeps the scaling apart
    v5 = {**config_to_hf(tiny("v1.1")), "tie_word_embeddings": True, "scale_decoder_outputs": False}
    assert config_from_hf(v4).tie_embeddings is False and config_from_hf(v5).tie_embeddings is False
    assert config_from_hf(config_to_hf(tiny("v1.0"))) == tiny("v1.0")


# -- presets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t5-debug", "t5-small", "t5-base", "t5-v1_1-small"])
def test_preset_parameter_counts_equal_transformers(name):
    cfg = T5Config.from_name(name)
    with torch.device("meta"):  # shapes only: no memory, no init time
        ours = T5(cfg)
        hf = transformers.T5ForConditionalGeneration(transformers.T5Config(**config_to_hf(cfg)))
    n_hf = sum(p.numel() for p in hf.parameters())
    # transformers 5 ties the head at construction even for v1.1; the real v1.1 head is a separate matrix
    untied_head = 0 if cfg.tie_embeddings else cfg.vocab_size * cfg.d_model
    assert ours.num_parameters() == n_hf + untied_head
    assert {"t5-small": 60_506_624, "t5-base": 222_903_552, "t5-v1_1-small": 76_961_152}.get(
        name, ours.num_parameters()
    ) == ours.num_parameters()


# -- bad input ---------------------------------------------------------------------------------------


def test_missing_unexpected_and_wrongly_shaped_weights_are_one_error():
    model = T5(tiny("v1.1"))
    state = to_hf_state_dict(model)
    del state["decoder.block.1.layer.1.EncDecAttention.k.weight"]
    del state["lm_head.weight"]
    state["decoder.block.2.layer.0.SelfAttention.q.weight"] = torch.zeros(32, 32)  # a third decoder block
    with pytest.raises(WeightsError) as err:
        from_hf_state_dict(state, hf_config(model))
    msg = str(err.value)
    assert "2 missing: decoder.block.1.layer.1.EncDecAttention.k.weight, lm_head.weight" in msg
    assert "1 unexpected: decoder.block.2.layer.0.SelfAttention.q.weight" in msg
    state = to_hf_state_dict(model)
    state["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = torch.zeros(32, 4)
    with pytest.raises(WeightsError, match=r"encoder_rel_pos.weight \(32, 4\) \(model wants \(8, 4\)\)"):
        from_hf_state_dict(state, hf_config(model))


def test_too_long_input_is_a_context_error_and_the_limit_is_only_config():
    model = T5(tiny("v1.0")).eval()
    long = torch.randint(2, 99, (1, 65))
    with pytest.raises(
        ContextLengthError, match="input of 65 tokens is longer than the model's context of 64"
    ):
        model(long, decoder_input_ids=long[:, :4])
    with pytest.raises(ContextLengthError, match="input of 65 tokens"):
        model(long[:, :4], decoder_input_ids=long)
    with pytest.raises(ContextLengthError, match="input of 65 tokens"):
        model.generate_greedy(long[:, :4], max_new_tokens=65)
    # no weight depends on max_seq_len: the same weights read longer input once the limit is raised
    longer = T5(tiny("v1.0", max_seq_len=256)).eval()
    longer.load_state_dict(model.state_dict())
    assert longer(long, decoder_input_ids=long[:, :4]).logits.shape == (1, 4, 99)


def test_bad_calls_and_configs_say_what_to_do():
    model = T5(tiny("v1.0"))
    with pytest.raises(ModelError, match="T5 needs decoder_input_ids or targets"):
        model(torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ModelError, match="unknown T5 feed_forward 'gated-silu'; known: relu, gated-gelu"):
        tiny("v1.0", feed_forward="gated-silu")
    with pytest.raises(ModelError, match="did you mean t5-small"):
        T5Config.from_name("t5-smal")


def test_targets_are_shifted_right_with_the_start_token_and_pads():
    model = T5(tiny("v1.0", decoder_start_token_id=7, pad_token_id=3))
    targets = torch.tensor([[11, 12, 13, -100, -100]])
    assert model.shift_right(targets).tolist() == [[7, 11, 12, 13, 3]]


def test_tiny_model_learns_to_copy_its_input():
    model = T5(tiny("v1.1", dropout=0.1)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = torch.randint(2, 99, (8, 10))
    losses = []
    for _ in range(10):
        loss = model(x, targets=x).loss  # copying needs cross-attention: the answer is only in the input
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
