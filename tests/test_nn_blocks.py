"""Building blocks of llmlab.nn against their production twins (PyTorch and transformers)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close
from transformers.models.bloom.modeling_bloom import build_alibi_tensor
from transformers.models.distilbert.modeling_distilbert import _create_sinusoidal_embeddings
from transformers.models.gptj.modeling_gptj import apply_rotary_pos_emb as gptj_rope
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llama_rope

from llmlab.models.base import ContextLengthError
from llmlab.nn.alibi import alibi_bias, alibi_slopes
from llmlab.nn.attention import causal_mask, fused_attention, padding_mask, scaled_dot_product_attention
from llmlab.nn.feedforward import MLP, SwiGLU
from llmlab.nn.kv_cache import KVCache, LayerKVCache
from llmlab.nn.multihead import MultiHeadAttention
from llmlab.nn.norms import LayerNorm, RMSNorm, layer_norm, rms_norm
from llmlab.nn.positions import sinusoidal_positions
from llmlab.nn.rope import RotaryEmbedding, half_to_interleaved, interleaved_to_half, rope_frequencies

TOL = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def qkv(B=2, H=4, T=7, S=7, D=16):
    return torch.randn(B, H, T, D), torch.randn(B, H, S, D), torch.randn(B, H, S, D)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_torch_sdpa(causal):
    q, k, v = qkv()
    ours = scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=causal), **TOL)
    assert_close(fused_attention(q, k, v, is_causal=causal), ours, **TOL)


def test_attention_with_padding_mask_and_bias_equals_torch():
    q, k, v = qkv()
    am = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]])
    mask = padding_mask(am) & causal_mask(7)
    bias = torch.randn(1, 4, 7, 7)
    ours, att = scaled_dot_product_attention(q, k, v, mask=mask, bias=bias, return_weights=True)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=torch.where(mask, bias, float("-inf")))
    assert_close(ours, ref, **TOL)
    assert_close(fused_attention(q, k, v, mask=padding_mask(am), bias=bias, is_causal=True), ref, **TOL)
    # the weights are distributions that never look at pads or the future
    assert_close(att.sum(-1), torch.ones(2, 4, 7), **TOL)
    assert att[1, :, :, 4:].abs().max() == 0
    assert torch.triu(att[0], diagonal=1).abs().max() == 0


@pytest.mark.parametrize("grouped", [False, True])
def test_cpu_bf16_training_attention_is_written_out_and_equals_torch(grouped, monkeypatch):
    # bf16 training on a CPU at short context takes the written-out path (faster backward there):
    # the values and all three gradients must still be torch's fused kernel's, and only the
    # fused kernel's own cases (fp32, no grad, long context) may call it
    calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(
        "llmlab.nn.attention.F.scaled_dot_product_attention",
        lambda *a, **kw: calls.append(1) or sdpa(*a, **kw),
    )
    H_kv = 2 if grouped else 4
    q, k, v = (t.bfloat16().requires_grad_() for t in (qkv(T=9, S=9)[0], *qkv(H=H_kv, T=9, S=9)[1:]))
    am = torch.tensor([[1] * 9, [1] * 6 + [0] * 3])
    out = fused_attention(q, k, v, mask=padding_mask(am), is_causal=True, enable_gqa=grouped)
    assert calls == []
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, (q, k, v), g)
    ref = sdpa(q, k, v, attn_mask=padding_mask(am) & causal_mask(9), enable_gqa=grouped)
    assert_close(out, ref, rtol=2e-2, atol=2e-2)
    for ours, theirs in zip(grads, torch.autograd.grad(ref, (q, k, v), g), strict=True):
        assert_close(ours, theirs, rtol=2e-2, atol=2e-2)
    fused_attention(q.float(), k.float(), v.float(), is_causal=True, enable_gqa=grouped)  # fp32
    with torch.no_grad():
        fused_attention(q, k, v, is_causal=True, enable_gqa=grouped)  # inference
    long = torch.randn(1, 4, 600, 16, dtype=torch.bfloat16, requires_grad=True)
    fused_attention(long, long, long, is_causal=True)
    assert len(calls) == 3


def test_causal_mask_with_a_cache_in_front():
    # 3 new queries after 4 cached tokens: query j sits at absolute position 4 + j
    m = causal_mask(3, 7)
    assert m.tolist() == [[True] * 5 + [False] * 2, [True] * 6 + [False], [True] * 7]
    q, k, v = qkv(T=3, S=7)
    assert_close(
        fused_attention(q, k, v, is_causal=True), scaled_dot_product_attention(q, k, v, is_causal=True)
    )


def test_multihead_equals_torch_multihead_attention():
    C, H = 32, 4
    ours = MultiHeadAttention(C, H).eval()
    ref = torch.nn.MultiheadAttention(C, H, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        ref.out_proj.weight.copy_(ours.o.weight)
        ref.out_proj.bias.copy_(ours.o.bias)
    x = torch.randn(2, 9, C)
    mask = causal_mask(9)
    out, att = ours(x, is_causal=True, return_weights=True)
    ref_out, ref_att = ref(x, x, x, attn_mask=~mask, average_attn_weights=False)
    assert_close(out, ref_out, **TOL)
    assert_close(att, ref_att, **TOL)
    assert_close(ours(x, is_causal=True)[0], ref_out, **TOL)  # fused path


def test_training_path_packs_qkv_and_equals_torch_multihead_attention_with_gradients():
    C, H = 32, 4
    ours = MultiHeadAttention(C, H)
    ref = torch.nn.MultiheadAttention(C, H, batch_first=True)  # torch packs q, k, v in in_proj too
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        ref.out_proj.weight.copy_(ours.o.weight)
        ref.out_proj.bias.copy_(ours.o.bias)
    x = torch.randn(2, 9, C, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out = ours(x, is_causal=True)[0]
    ref_out = ref(x_ref, x_ref, x_ref, attn_mask=~causal_mask(9), need_weights=False)[0]
    assert_close(out, ref_out, **TOL)
    g = torch.randn_like(out)
    out.backward(g)
    ref_out.backward(g)
    assert_close(x.grad, x_ref.grad, **TOL)
    packed_grad = torch.cat([ours.q.weight.grad, ours.k.weight.grad, ours.v.weight.grad])
    assert_close(packed_grad, ref.in_proj_weight.grad, **TOL)
    assert_close(
        torch.cat([ours.q.bias.grad, ours.k.bias.grad, ours.v.bias.grad]), ref.in_proj_bias.grad, **TOL
    )


@pytest.mark.parametrize("n_kv_head", [4, 2, 1], ids=["mha", "gqa", "mqa"])
def test_packed_and_separate_projections_agree(n_kv_head):
    attn = MultiHeadAttention(32, 4, n_kv_head=n_kv_head, bias=False)
    x = torch.randn(2, 7, 32)
    with torch.no_grad():  # inference: three separate products
        separate = attn(x, is_causal=True)[0]
    packed = attn(x, is_causal=True)[0]  # gradients on: one packed product
    assert packed.requires_grad
    assert_close(packed, separate, **TOL)


def test_a_wrapped_projection_is_never_packed_away():
    class Shifted(torch.nn.Linear):  # stands for an adapter around a projection (LoRA, quantised...)
        def forward(self, x):
            return super().forward(x) + 1.0

    attn = MultiHeadAttention(16, 2)
    plain = attn(torch.ones(1, 3, 16), is_causal=True)[0]
    shifted = Shifted(16, 16)
    shifted.load_state_dict(attn.v.state_dict())
    attn.v = shifted
    out = attn(torch.ones(1, 3, 16), is_causal=True)[0]
    # every value row gains 1, so the output gains o(1) = W_o 1 (attention weights sum to 1)
    assert_close(out - plain, (attn.o.weight.sum(dim=1)).expand_as(out), **TOL)


def test_gqa_with_one_query_head_per_kv_head_is_mha_and_mqa_is_shared_kv():
    C, H, D = 32, 4, 8
    x = torch.randn(2, 6, C)
    gqa = MultiHeadAttention(C, H, n_kv_head=H)
    assert gqa.k.weight.shape == (H * D, C)
    mha = MultiHeadAttention(C, H)
    mha.load_state_dict(gqa.state_dict())
    assert_close(gqa(x, is_causal=True)[0], mha(x, is_causal=True)[0])
    # multi-query: one K/V head serving all query heads equals MHA whose K/V heads are copies
    mqa = MultiHeadAttention(C, H, n_kv_head=1)
    with torch.no_grad():
        for name in ("q", "o"):
            getattr(mha, name).load_state_dict(getattr(mqa, name).state_dict())
        for name in ("k", "v"):
            getattr(mha, name).weight.copy_(getattr(mqa, name).weight.repeat(H, 1))
            getattr(mha, name).bias.copy_(getattr(mqa, name).bias.repeat(H))
    assert_close(mqa(x, is_causal=True)[0], mha(x, is_causal=True)[0], **TOL)


def test_grouped_query_attention_bad_head_counts():
    with pytest.raises(ValueError, match="n_head=4 must be a multiple of n_kv_head=3"):
        MultiHeadAttention(32, 4, n_kv_head=3)


def test_kv_cache_decoding_equals_full_attention():
    C, H = 32, 4
    attn = MultiHeadAttention(C, H, n_kv_head=2).eval()
    rope = RotaryEmbedding(C // H, 32)
    x = torch.randn(2, 10, C)
    full, _ = attn(x, is_causal=True, rope=rope)
    cache = KVCache(1, 2, 2, 32, C // H)
    steps = [attn(x[:, :6], is_causal=True, rope=rope, cache=cache[0])[0]]  # the prompt at once
    for t in range(6, 10):  # then one token at a time
        steps.append(attn(x[:, t : t + 1], is_causal=True, rope=rope, offset=t, cache=cache[0])[0])
    assert_close(torch.cat(steps, dim=1), full, **TOL)
    assert cache.seq_len == 10


def test_kv_cache_overflow_message():
    cache = LayerKVCache(1, 1, 4, 2)
    cache.update(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    with pytest.raises(ContextLengthError, match=r"KV cache is full: 3 cached \+ 2 new tokens > its 4 slots"):
        cache.update(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))


def test_sinusoidal_equals_transformers_table():
    ref = torch.empty(50, 32)
    _create_sinusoidal_embeddings(50, 32, ref)  # DistilBERT's, computed in float64 with numpy
    assert_close(sinusoidal_positions(50, 32), ref, rtol=0, atol=2e-5)  # float32 angles up to pos 49


def test_rope_half_split_equals_transformers_llama():
    B, H, T, D = 2, 4, 11, 16
    q, k = torch.randn(B, H, T, D), torch.randn(B, H, T, D)
    rope = RotaryEmbedding(D, 64, base=500.0)
    freqs = torch.outer(torch.arange(3, 3 + T).float(), rope_frequencies(D, 500.0))
    emb = torch.cat([freqs, freqs], dim=-1)[None]  # (1, T, D) as LlamaRotaryEmbedding builds it
    ref_q, ref_k = llama_rope(q, k, emb.cos(), emb.sin())
    ours_q, ours_k = rope(q, k, offset=3)
    assert_close(ours_q, ref_q, **TOL)
    assert_close(ours_k, ref_k, **TOL)


def test_rope_interleaved_equals_transformers_gptj():
    B, H, T, D = 2, 4, 11, 16
    x = torch.randn(B, T, H, D)  # GPT-J keeps heads in dim 2
    freqs = torch.outer(torch.arange(T).float(), rope_frequencies(D))
    ref = gptj_rope(x, freqs.sin()[None], freqs.cos()[None])  # sin, cos: (1, T, D/2)
    ours, _ = RotaryEmbedding(D, 32, interleaved=True)(x.transpose(1, 2), x.transpose(1, 2))
    assert_close(ours.transpose(1, 2), ref, **TOL)


def test_rope_layouts_are_a_permutation_of_the_projection_rows():
    C, H, D = 32, 4, 8
    w = torch.randn(H * D, C)
    assert_close(half_to_interleaved(interleaved_to_half(w, H), H), w)
    x = torch.randn(1, 5, C)
    q_inter = (x @ w.t()).view(1, 5, H, D).transpose(1, 2)
    q_half = (x @ interleaved_to_half(w, H).t()).view(1, 5, H, D).transpose(1, 2)
    k = q_inter.clone()
    a, _ = RotaryEmbedding(D, 8, interleaved=True)(q_inter, k)
    b, _ = RotaryEmbedding(D, 8)(q_half, q_half)
    # same rotated vectors up to the channel order: dot products (what attention sees) agree
    assert_close(a @ a.transpose(-1, -2), b @ b.transpose(-1, -2), **TOL)


@pytest.mark.parametrize("n_head", [8, 6])
def test_alibi_gives_bloom_attention(n_head):
    T = 9
    ref_bias = build_alibi_tensor(torch.ones(1, T), n_head, torch.float32).view(1, n_head, 1, T)
    assert_close(alibi_slopes(n_head), ref_bias[0, :, 0, 1], **TOL)
    scores = torch.randn(1, n_head, T, T)
    mask = causal_mask(T)
    ours = torch.softmax((scores + alibi_bias(n_head, T)).masked_fill(~mask, float("-inf")), -1)
    ref = torch.softmax((scores + ref_bias).masked_fill(~mask, float("-inf")), -1)
    assert_close(ours, ref, **TOL)  # -m(i - j) and +m j differ by a per-row constant


def test_layernorm_and_rmsnorm_equal_torch():
    x = torch.randn(3, 5, 24) * 3 + 1
    ours = LayerNorm(24, eps=1e-5)
    ref = torch.nn.LayerNorm(24, eps=1e-5)
    with torch.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
        ref.load_state_dict(ours.state_dict())
    assert_close(ours(x), ref(x), **TOL)
    rms, ref_rms = RMSNorm(24, eps=1e-6), torch.nn.RMSNorm(24, eps=1e-6)
    with torch.no_grad():
        rms.weight.normal_()
        ref_rms.load_state_dict(rms.state_dict())
    assert_close(rms(x), ref_rms(x), **TOL)
    assert_close(rms_norm(x, rms.weight, 1e-6), ref_rms(x), **TOL)
    assert_close(layer_norm(x, ours.weight, ours.bias, 1e-5), ref(x), **TOL)
    xb = x.bfloat16()  # half precision in: float32 inside, cast back before the gain, as LLaMA does
    assert rms.bfloat16()(xb).dtype == torch.bfloat16
    assert_close(rms(xb), rms_norm(xb, rms.weight, 1e-6), rtol=0, atol=0)


def test_mlp_and_swiglu_equal_transformers():
    from transformers import GPT2Config, LlamaConfig
    from transformers.models.gpt2.modeling_gpt2 import GPT2MLP
    from transformers.models.llama.modeling_llama import LlamaMLP

    x = torch.randn(2, 5, 16)
    ref = GPT2MLP(64, GPT2Config(n_embd=16)).eval()
    ours = MLP(16, 64, activation="gelu_tanh")
    with torch.no_grad():  # Conv1D stores (in, out)
        ours.up.weight.copy_(ref.c_fc.weight.t()), ours.up.bias.copy_(ref.c_fc.bias)
        ours.down.weight.copy_(ref.c_proj.weight.t()), ours.down.bias.copy_(ref.c_proj.bias)
    assert_close(ours(x), ref(x), **TOL)
    ref = LlamaMLP(
        LlamaConfig(hidden_size=16, intermediate_size=40, num_attention_heads=2, num_key_value_heads=2)
    )
    ours = SwiGLU(16, 40)
    with torch.no_grad():
        for a, b in (("gate", "gate_proj"), ("up", "up_proj"), ("down", "down_proj")):
            getattr(ours, a).weight.copy_(getattr(ref, b).weight)
    assert_close(ours(x), ref(x), **TOL)


def test_written_out_formulas_equal_the_fused_kernels_the_layers_use():
    from llmlab.nn.feedforward import gelu_exact, gelu_tanh
    from llmlab.nn.norms import layer_norm

    x = torch.randn(4, 9, 32) * 4
    assert_close(gelu_tanh(x), F.gelu(x, approximate="tanh"), **TOL)
    assert_close(gelu_exact(x), F.gelu(x), **TOL)
    w, b = torch.randn(32), torch.randn(32)
    assert_close(layer_norm(x, w, b, 1e-5), F.layer_norm(x, (32,), w, b, 1e-5), **TOL)


def test_unknown_activation_message():
    with pytest.raises(ValueError, match="unknown activation 'swish'; known: gelu_tanh, gelu, relu, silu"):
        MLP(8, 16, activation="swish")


def test_moe_equals_transformers_mixtral_block_and_balancing_loss():
    from transformers import MixtralConfig
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock, load_balancing_loss_func

    from llmlab.nn.moe import MoE, load_balancing_loss

    E, k, C, d_ff = 4, 2, 16, 24
    hf_cfg = MixtralConfig(
        hidden_size=C, intermediate_size=d_ff, num_local_experts=E, num_experts_per_tok=k,
        num_attention_heads=2, num_key_value_heads=2,
    )  # fmt: skip
    ref = MixtralSparseMoeBlock(hf_cfg).eval()
    torch.nn.init.normal_(ref.experts.gate_up_proj, std=0.2)
    torch.nn.init.normal_(ref.experts.down_proj, std=0.2)
    torch.nn.init.normal_(ref.gate.weight, std=0.5)
    ours = MoE(C, d_ff, n_expert=E, top_k=k)
    with torch.no_grad():
        ours.router.weight.copy_(ref.gate.weight)
        for e, expert in enumerate(ours.experts):
            gate, up = ref.experts.gate_up_proj[e].chunk(2, dim=0)
            expert.gate.weight.copy_(gate), expert.up.weight.copy_(up)
            expert.down.weight.copy_(ref.experts.down_proj[e])
    x = torch.randn(3, 7, C)
    out, router_logits = ours(x)
    assert_close(out, ref(x), **TOL)
    expected = load_balancing_loss_func((router_logits,), num_experts=E, top_k=k)
    assert_close(load_balancing_loss(router_logits, top_k=k), expected, **TOL)
    # a router spreading tokens evenly scores 1.0; one that sends every token to one expert scores E
    balanced = 50.0 * torch.nn.functional.one_hot(torch.arange(8) % E, E).float()
    assert_close(load_balancing_loss(balanced, top_k=1), torch.tensor(1.0))
    collapsed = 50.0 * torch.nn.functional.one_hot(torch.zeros(8, dtype=torch.long), E).float()
    assert_close(load_balancing_loss(collapsed, top_k=1), torch.tensor(float(E)))


def test_moe_bad_top_k_message():
    from llmlab.nn.moe import MoE

    with pytest.raises(ValueError, match="top_k must be between 1 and n_expert=4, got 5"):
        MoE(8, 16, n_expert=4, top_k=5)


@pytest.mark.parametrize("interleaved", [False, True])
def test_rope_tables_equal_the_written_formula_bit_for_bit(interleaved):
    from llmlab.nn.rope import apply_rope

    x = torch.randn(2, 3, 7, 16, requires_grad=True)
    angles = torch.outer(torch.arange(4, 11).float(), rope_frequencies(16))
    formula = apply_rope(x, angles.cos(), angles.sin(), interleaved)  # the pairs written out
    rope = RotaryEmbedding(16, 32, interleaved=interleaved)
    with torch.no_grad():
        fast, _ = rope(x, x, offset=4)  # inference: built in place
    slow, _ = rope(x, x, offset=4)  # training: plain ops
    assert torch.equal(fast, formula) and torch.equal(slow, formula)
    slow.sum().backward()  # the training path carries gradients: those of apply_rope
    grad, x.grad = x.grad, None
    formula.sum().backward()
    assert_close(grad, x.grad)
    assert grad.abs().sum() > 0


def test_swiglu_inference_and_training_paths_agree_bit_for_bit():
    ff = SwiGLU(16, 40)
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        fast = ff(x)
    slow = ff(x)
    assert slow.requires_grad and torch.equal(fast, slow)


def test_dropout_skips_the_call_only_when_it_is_the_identity():
    from llmlab.nn.dropout import Dropout

    x = torch.randn(4, 8, 16)
    assert Dropout(0.0)(x) is x  # p = 0: the input itself, no operator call
    assert Dropout(0.3).eval()(x) is x  # eval mode likewise
    ours, ref = Dropout(0.3), torch.nn.Dropout(0.3)  # training with p > 0: torch's dropout, same draws
    torch.manual_seed(5)
    a = ours(x)
    torch.manual_seed(5)
    assert torch.equal(a, ref(x)) and (a == 0).any()
