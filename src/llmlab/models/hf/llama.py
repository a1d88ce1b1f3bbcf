"""LLaMA <-> transformers' ``LlamaForCausalLM``: the name map and the config fields.

The names differ but the tensors are the same, except in one case: a model built with
``rope_interleaved=True`` (the GGUF/Meta channel pairing) has its q and k projection rows in
the other order, and the map permutes them to HF's half-split layout and back.
"""

from __future__ import annotations

from typing import Any

from llmlab.models.hf.core import NameMap, Rule, reshaped, same
from llmlab.models.hf.registry import Adapter, register
from llmlab.models.llama import Llama, LlamaConfig
from llmlab.nn.rope import half_to_interleaved, interleaved_to_half


def config_to_hf(cfg: LlamaConfig) -> dict[str, Any]:
    return {
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_seq_len,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.d_ff,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.n_kv_head,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "attention_bias": False,
        "mlp_bias": False,
        "attention_dropout": cfg.dropout,
        "tie_word_embeddings": cfg.tie_embeddings,
    }


def config_from_hf(hf: dict[str, Any]) -> LlamaConfig:
    # transformers 5 may nest rope settings under "rope_parameters"
    rope = hf.get("rope_parameters") or {}
    return LlamaConfig(
        vocab_size=hf["vocab_size"],
        max_seq_len=hf.get("max_position_embeddings", 2048),
        n_layer=hf["num_hidden_layers"],
        n_head=hf["num_attention_heads"],
        n_kv_head=hf.get("num_key_value_heads") or hf["num_attention_heads"],
        d_model=hf["hidden_size"],
        d_ff=hf["intermediate_size"],
        head_dim=hf.get("head_dim") or 0,
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        rope_theta=rope.get("rope_theta", hf.get("rope_theta", 10000.0)),
        tie_embeddings=hf.get("tie_word_embeddings", False),
        dropout=hf.get("attention_dropout", 0.0),
    )


def name_map(cfg: LlamaConfig, architecture: str) -> NameMap:
    p, b = "model.layers.{i}.", "blocks.{i}."
    if cfg.rope_interleaved:
        q = reshaped(b + "attn.q.weight", p + "self_attn.q_proj.weight",
                     to_hf=lambda w: interleaved_to_half(w, cfg.n_head),
                     from_hf=lambda w: half_to_interleaved(w, cfg.n_head))  # fmt: skip
        k = reshaped(b + "attn.k.weight", p + "self_attn.k_proj.weight",
                     to_hf=lambda w: interleaved_to_half(w, cfg.n_kv_head),
                     from_hf=lambda w: half_to_interleaved(w, cfg.n_kv_head))  # fmt: skip
    else:
        q = same(b + "attn.q.weight", p + "self_attn.q_proj.weight")
        k = same(b + "attn.k.weight", p + "self_attn.k_proj.weight")
    rules: list[Rule] = [
        same("tok_emb.weight", "model.embed_tokens.weight"),
        same(b + "attn_norm.weight", p + "input_layernorm.weight"),
        q,
        k,
        same(b + "attn.v.weight", p + "self_attn.v_proj.weight"),
        same(b + "attn.o.weight", p + "self_attn.o_proj.weight"),
        same(b + "mlp_norm.weight", p + "post_attention_layernorm.weight"),
        same(b + "mlp.gate.weight", p + "mlp.gate_proj.weight"),
        same(b + "mlp.up.weight", p + "mlp.up_proj.weight"),
        same(b + "mlp.down.weight", p + "mlp.down_proj.weight"),
        same("final_norm.weight", "model.norm.weight"),
    ]
    ignore = [r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq"]  # a buffer in old checkpoints
    if cfg.tie_embeddings:
        ignore.append(r"lm_head\.weight")
    else:
        rules.append(same("head.weight", "lm_head.weight"))
    return NameMap.build(rules, cfg.n_layer, ignore)


register(
    Adapter(
        model_type="llama",
        architectures=("LlamaForCausalLM",),
        config_class=LlamaConfig,
        config_to_hf=config_to_hf,
        config_from_hf=config_from_hf,
        name_map=name_map,
        build=lambda cfg, arch: Llama(cfg),
        model_classes=(Llama,),
    )
)
