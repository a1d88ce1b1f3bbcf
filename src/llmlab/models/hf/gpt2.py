"""GPT-2 <-> transformers' ``GPT2LMHeadModel``: the name map and the config fields.

HF's GPT-2 keeps two quirks from OpenAI's TensorFlow code: each linear layer is a ``Conv1D``
whose weight is stored as (in, out), the transpose of ``nn.Linear``; and q, k, v are one fused
``c_attn`` matrix. Our model has separate q/k/v ``nn.Linear`` layers, so the map splits,
joins and transposes them.
"""

from __future__ import annotations

from typing import Any

from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.hf.core import NameMap, Rule, fused, same, transposed
from llmlab.models.hf.registry import Adapter, register


def config_to_hf(cfg: GPT2Config) -> dict[str, Any]:
    return {
        "vocab_size": cfg.vocab_size,
        "n_positions": cfg.max_seq_len,
        "n_embd": cfg.d_model,
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "n_inner": cfg.d_ff,
        "activation_function": "gelu_new",
        "resid_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout,
        "attn_pdrop": cfg.dropout,
        "layer_norm_epsilon": cfg.norm_eps,
        "tie_word_embeddings": cfg.tie_embeddings,
    }


def config_from_hf(hf: dict[str, Any]) -> GPT2Config:
    return GPT2Config(
        vocab_size=hf["vocab_size"],
        max_seq_len=hf.get("n_positions", 1024),
        n_layer=hf["n_layer"],
        n_head=hf["n_head"],
        d_model=hf["n_embd"],
        d_ff=hf.get("n_inner") or 0,
        dropout=hf.get("resid_pdrop", 0.0),
        norm_eps=hf.get("layer_norm_epsilon", 1e-5),
        tie_embeddings=hf.get("tie_word_embeddings", True),
    )


def name_map(cfg: GPT2Config, architecture: str) -> NameMap:
    p, b = "transformer.h.{i}.", "blocks.{i}."
    qkv = (b + "attn.q", b + "attn.k", b + "attn.v")
    rules: list[Rule] = [
        same("tok_emb.weight", "transformer.wte.weight"),
        same("pos_emb.weight", "transformer.wpe.weight"),
        same(b + "ln_1.weight", p + "ln_1.weight"),
        same(b + "ln_1.bias", p + "ln_1.bias"),
        fused(tuple(n + ".weight" for n in qkv), p + "attn.c_attn.weight", transpose=True),
        fused(tuple(n + ".bias" for n in qkv), p + "attn.c_attn.bias"),
        transposed(b + "attn.o.weight", p + "attn.c_proj.weight"),
        same(b + "attn.o.bias", p + "attn.c_proj.bias"),
        same(b + "ln_2.weight", p + "ln_2.weight"),
        same(b + "ln_2.bias", p + "ln_2.bias"),
        transposed(b + "mlp.up.weight", p + "mlp.c_fc.weight"),
        same(b + "mlp.up.bias", p + "mlp.c_fc.bias"),
        transposed(b + "mlp.down.weight", p + "mlp.c_proj.weight"),
        same(b + "mlp.down.bias", p + "mlp.c_proj.bias"),
        same("final_norm.weight", "transformer.ln_f.weight"),
        same("final_norm.bias", "transformer.ln_f.bias"),
    ]
    ignore = [r"transformer\.h\.\d+\.attn\.(masked_)?bias"]  # causal-mask buffers of old checkpoints
    if cfg.tie_embeddings:
        ignore.append(r"lm_head\.weight")  # the same matrix as wte
    else:
        rules.append(same("head.weight", "lm_head.weight"))
    return NameMap.build(rules, cfg.n_layer, ignore)


register(
    Adapter(
        model_type="gpt2",
        architectures=("GPT2LMHeadModel",),
        config_class=GPT2Config,
        config_to_hf=config_to_hf,
        config_from_hf=config_from_hf,
        name_map=name_map,
        build=lambda cfg, arch: GPT2(cfg),
        model_classes=(GPT2,),
    )
)
