"""T5 <-> transformers' ``T5ForConditionalGeneration``: the name map and the config fields.

HF nests each block as a list of sub-layers (``layer.0`` self-attention, ``layer.1``
cross-attention in the decoder, then the feed-forward), keeps the relative position table only
in block 0 of each stack, and stores the shared embedding under three more names
(``encoder.embed_tokens``, ``decoder.embed_tokens``, and ``lm_head`` when tied) that we drop.
The encoder and decoder may have different depths, so their rules are expanded separately.

Tying and scaling: transformers 4.x reads ``tie_word_embeddings`` as "tie the head *and* scale
the decoder output by d_model**-0.5" (v1.0: true; v1.1: false). transformers 5.x always writes
``tie_word_embeddings: true`` and keeps the scaling in ``scale_decoder_outputs``, untying the
head when the checkpoint holds a different ``lm_head.weight``. We read ``scale_decoder_outputs``
when present (false means a v1.1 model with its own head) and write ``tie_word_embeddings``,
which both versions understand.
"""

from __future__ import annotations

from typing import Any

from llmlab.models.hf.core import NameMap, Rule, same
from llmlab.models.hf.registry import Adapter, register
from llmlab.models.t5 import T5, T5Config

MLP_RULES = {  # our feed-forward names -> HF's
    "relu": {"up": "wi", "down": "wo"},
    "gated-gelu": {"gate": "wi_0", "up": "wi_1", "down": "wo"},
}


def config_to_hf(cfg: T5Config) -> dict[str, Any]:
    return {
        "vocab_size": cfg.vocab_size,
        "d_model": cfg.d_model,
        "d_kv": cfg.d_kv,
        "d_ff": cfg.d_ff,
        "num_layers": cfg.n_layer,
        "num_decoder_layers": cfg.n_decoder_layer,
        "num_heads": cfg.n_head,
        "relative_attention_num_buckets": cfg.relative_attention_num_buckets,
        "relative_attention_max_distance": cfg.relative_attention_max_distance,
        "dropout_rate": cfg.dropout,
        "layer_norm_epsilon": cfg.norm_eps,
        "feed_forward_proj": cfg.feed_forward,
        "tie_word_embeddings": cfg.tie_embeddings,
        "decoder_start_token_id": cfg.decoder_start_token_id,
        "pad_token_id": cfg.pad_token_id,
        "eos_token_id": cfg.eos_token_id,
        "n_positions": cfg.max_seq_len,  # informative only, as in HF's t5-small config.json
        "is_encoder_decoder": True,
    }


def config_from_hf(hf: dict[str, Any]) -> T5Config:
    tied = hf.get("scale_decoder_outputs", hf.get("tie_word_embeddings", True))
    eos = hf.get("eos_token_id", 1)
    eos = eos[0] if isinstance(eos, list) else eos  # some configs list several; greedy stops at the first
    return T5Config(
        vocab_size=hf["vocab_size"],
        d_model=hf["d_model"],
        d_kv=hf["d_kv"],
        d_ff=hf["d_ff"],
        n_layer=hf["num_layers"],
        n_decoder_layer=hf.get("num_decoder_layers") or hf["num_layers"],
        n_head=hf["num_heads"],
        relative_attention_num_buckets=hf.get("relative_attention_num_buckets", 32),
        relative_attention_max_distance=hf.get("relative_attention_max_distance", 128),
        dropout=hf.get("dropout_rate", 0.0),
        norm_eps=hf.get("layer_norm_epsilon", 1e-6),
        feed_forward=hf.get("feed_forward_proj", "relu"),
        tie_embeddings=bool(tied),
        decoder_start_token_id=hf.get("decoder_start_token_id", 0) or 0,
        pad_token_id=hf.get("pad_token_id", 0) or 0,
        eos_token_id=eos,
        max_seq_len=hf.get("n_positions", 512),
    )


def attention_rules(ours: str, hf: str) -> list[Rule]:
    return [same(f"{ours}.{n}.weight", f"{hf}.{n}.weight") for n in "qkvo"]


def mlp_rules(cfg: T5Config, ours: str, hf: str) -> list[Rule]:
    return [same(f"{ours}.{a}.weight", f"{hf}.{b}.weight") for a, b in MLP_RULES[cfg.feed_forward].items()]


def name_map(cfg: T5Config, architecture: str) -> NameMap:
    e, he = "encoder_blocks.{i}.", "encoder.block.{i}.layer."
    encoder: list[Rule] = [
        same(e + "ln_1.weight", he + "0.layer_norm.weight"),
        *attention_rules(e + "attn", he + "0.SelfAttention"),
        same(e + "ln_2.weight", he + "1.layer_norm.weight"),
        *mlp_rules(cfg, e + "mlp", he + "1.DenseReluDense"),
    ]
    d, hd = "decoder_blocks.{i}.", "decoder.block.{i}.layer."
    decoder: list[Rule] = [
        same(d + "ln_1.weight", hd + "0.layer_norm.weight"),
        *attention_rules(d + "self_attn", hd + "0.SelfAttention"),
        same(d + "ln_2.weight", hd + "1.layer_norm.weight"),
        *attention_rules(d + "cross_attn", hd + "1.EncDecAttention"),
        same(d + "ln_3.weight", hd + "2.layer_norm.weight"),
        *mlp_rules(cfg, d + "mlp", hd + "2.DenseReluDense"),
    ]
    bias = "block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    shared: list[Rule] = [
        same("tok_emb.weight", "shared.weight"),
        same("encoder_rel_pos.weight", "encoder." + bias),
        same("encoder_norm.weight", "encoder.final_layer_norm.weight"),
        same("decoder_rel_pos.weight", "decoder." + bias),
        same("final_norm.weight", "decoder.final_layer_norm.weight"),
    ]
    ignore = [
        r"(encoder|decoder)\.embed_tokens\.weight",  # aliases of shared.weight
        r"decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight",  # unused, old checkpoints
    ]
    if cfg.tie_embeddings:
        ignore.append(r"lm_head\.weight")  # the same matrix as shared
    else:
        shared.append(same("head.weight", "lm_head.weight"))
    # subtle: one NameMap.build expands "{i}" with a single layer count; the stacks differ in depth
    rules = NameMap.build(shared, 0).rules
    rules += NameMap.build(encoder, cfg.n_layer).rules + NameMap.build(decoder, cfg.n_decoder_layer).rules
    return NameMap(rules, ignore)


register(
    Adapter(
        model_type="t5",
        architectures=("T5ForConditionalGeneration",),
        config_class=T5Config,
        config_to_hf=config_to_hf,
        config_from_hf=config_from_hf,
        name_map=name_map,
        build=lambda cfg, arch: T5(cfg),
        model_classes=(T5,),
    )
)
