"""BERT <-> transformers' ``BertModel``, ``BertForMaskedLM`` and ``BertForSequenceClassification``.

HF's BERT spreads one block over five modules (``attention.self``, ``attention.output``,
``intermediate``, ``output``...) whose LayerNorms are named after the sub-layer they close;
our block is ``attn``, ``ln_1``, ``mlp``, ``ln_2``. Every tensor keeps its layout (HF BERT uses
plain ``nn.Linear``), so the map only renames. Two details:

- the bare ``BertModel`` names its tensors ``embeddings.*``, ``encoder.*``, ``pooler.*``; the
  models with a head put the same names under ``bert.`` (and ``BertForMaskedLM`` has no pooler);
- the masked-LM decoder is tied to the word embeddings, and HF also lists the tied copies
  (``cls.predictions.decoder.weight`` / ``.bias``) in ``state_dict()``: they are read as
  aliases (ignored) and never written.

HF buffers (``embeddings.position_ids``, ``embeddings.token_type_ids``) are not weights and are
ignored when reading; all-MiniLM-L6-v2's ``model.safetensors`` still carries ``position_ids``.
"""

from __future__ import annotations

from typing import Any

from llmlab.models.bert import Bert, BertConfig, BertForMaskedLM, BertForSequenceClassification
from llmlab.models.hf.core import NameMap, Rule, WeightsError, same
from llmlab.models.hf.registry import Adapter, register

ARCHITECTURES = ("BertModel", "BertForMaskedLM", "BertForSequenceClassification")


def config_to_hf(cfg: BertConfig) -> dict[str, Any]:
    return {
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_seq_len,
        "type_vocab_size": cfg.type_vocab_size,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.d_ff,
        "hidden_act": "gelu",  # the exact erf form
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.dropout,
        "layer_norm_eps": cfg.norm_eps,
        "pad_token_id": cfg.pad_token_id,
        "position_embedding_type": "absolute",
        "id2label": {str(i): f"LABEL_{i}" for i in range(cfg.n_labels)},
        "label2id": {f"LABEL_{i}": i for i in range(cfg.n_labels)},
        "tie_word_embeddings": True,
    }


def config_from_hf(hf: dict[str, Any]) -> BertConfig:
    unsupported = {
        "hidden_act": (hf.get("hidden_act", "gelu"), "gelu"),
        "position_embedding_type": (hf.get("position_embedding_type", "absolute"), "absolute"),
        "is_decoder": (hf.get("is_decoder", False), False),
        "tie_word_embeddings": (hf.get("tie_word_embeddings", True), True),
    }
    for key, (found, wanted) in unsupported.items():
        if found != wanted:
            raise WeightsError(f"config.json has {key}={found!r}; llmlab's BERT supports only {wanted!r}")
    labels = hf.get("id2label")
    return BertConfig(
        vocab_size=hf["vocab_size"],
        max_seq_len=hf.get("max_position_embeddings", 512),
        type_vocab_size=hf.get("type_vocab_size", 2),
        n_layer=hf["num_hidden_layers"],
        n_head=hf["num_attention_heads"],
        d_model=hf["hidden_size"],
        d_ff=hf.get("intermediate_size") or 0,
        dropout=hf.get("hidden_dropout_prob", 0.1),
        norm_eps=hf.get("layer_norm_eps", 1e-12),
        n_labels=len(labels) if labels else hf.get("num_labels", 2),
        pad_token_id=hf.get("pad_token_id") or 0,
    )


def encoder_rules(ours: str, hf: str, *, pooler: bool) -> list[Rule]:
    """The encoder's rules with a prefix on each side (``""`` or ``"bert."``)."""
    b, p = ours + "blocks.{i}.", hf + "encoder.layer.{i}."
    e = hf + "embeddings."
    rules = [
        same(ours + "tok_emb.weight", e + "word_embeddings.weight"),
        same(ours + "pos_emb.weight", e + "position_embeddings.weight"),
        same(ours + "type_emb.weight", e + "token_type_embeddings.weight"),
        same(ours + "emb_norm.weight", e + "LayerNorm.weight"),
        same(ours + "emb_norm.bias", e + "LayerNorm.bias"),
    ]
    per_layer = {
        "attn.q": "attention.self.query",
        "attn.k": "attention.self.key",
        "attn.v": "attention.self.value",
        "attn.o": "attention.output.dense",
        "ln_1": "attention.output.LayerNorm",  # closes the attention sub-layer
        "mlp.up": "intermediate.dense",
        "mlp.down": "output.dense",
        "ln_2": "output.LayerNorm",  # closes the feed-forward sub-layer
    }
    for our_name, hf_name in per_layer.items():
        rules += [same(f"{b}{our_name}.{w}", f"{p}{hf_name}.{w}") for w in ("weight", "bias")]
    if pooler:
        rules += [same(ours + f"pooler.{w}", hf + f"pooler.dense.{w}") for w in ("weight", "bias")]
    return rules


def name_map(cfg: BertConfig, architecture: str) -> NameMap:
    if architecture not in ARCHITECTURES:
        raise WeightsError(f"llmlab's BERT reads {', '.join(ARCHITECTURES)}, not {architecture}")
    buffers = r"embeddings\.(position_ids|token_type_ids)"
    if architecture == "BertModel":
        return NameMap.build(encoder_rules("", "", pooler=True), cfg.n_layer, [buffers])
    ignore = [r"bert\." + buffers]
    if architecture == "BertForMaskedLM":
        t = "cls.predictions.transform."
        rules = [
            *encoder_rules("bert.", "bert.", pooler=False),
            same("head.dense.weight", t + "dense.weight"),
            same("head.dense.bias", t + "dense.bias"),
            same("head.norm.weight", t + "LayerNorm.weight"),
            same("head.norm.bias", t + "LayerNorm.bias"),
            same("head.decoder.bias", "cls.predictions.bias"),
        ]
        # tied aliases in HF's state_dict(): the word embeddings and cls.predictions.bias again
        ignore.append(r"cls\.predictions\.decoder\.(weight|bias)")
    else:  # BertForSequenceClassification
        rules = [
            *encoder_rules("bert.", "bert.", pooler=True),
            same("classifier.weight", "classifier.weight"),
            same("classifier.bias", "classifier.bias"),
        ]
    return NameMap.build(rules, cfg.n_layer, ignore)


def build(cfg: BertConfig, architecture: str) -> Bert | BertForMaskedLM | BertForSequenceClassification:
    if architecture == "BertForMaskedLM":
        return BertForMaskedLM(cfg)
    if architecture == "BertForSequenceClassification":
        return BertForSequenceClassification(cfg)
    return Bert(cfg)


register(
    Adapter(
        model_type="bert",
        architectures=ARCHITECTURES,
        config_class=BertConfig,
        config_to_hf=config_to_hf,
        config_from_hf=config_from_hf,
        name_map=name_map,
        build=build,
        model_classes=(Bert, BertForMaskedLM, BertForSequenceClassification),
    )
)
