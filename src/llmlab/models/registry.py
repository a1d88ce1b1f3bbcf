"""Every model llmlab can build or load, by name: the family presets and the real weights.

Two kinds of names share one namespace, so ``llmlab models info NAME`` works for both:

- a **preset** (``gpt2``, ``smollm2-135m``, ``bert-base-uncased``, ``t5-small``, ``lstm-small``...)
  is an architecture with random weights, ready to train;
- a **pretrained** model (``smollm2-135m-instruct``, ``all-minilm-l6-v2``) is a preset plus
  weights that ship as an offline asset, loaded by our own readers (GGUF, safetensors).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from llmlab import assets
from llmlab.models.base import ModelConfig, ModelError
from llmlab.models.bert import Bert, BertConfig
from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.llama import Llama, LlamaConfig
from llmlab.models.rnn import RNNConfig, RNNLanguageModel
from llmlab.models.t5 import T5, T5Config

# family -> (config class, model class, one-line description)
FAMILIES: dict[str, tuple[type[ModelConfig], type[nn.Module], str]] = {
    "gpt2": (GPT2Config, GPT2, "decoder; learned positions, LayerNorm, GELU MLP"),
    "llama": (LlamaConfig, Llama, "decoder; RoPE, RMSNorm, SwiGLU, grouped-query attention"),
    "bert": (BertConfig, Bert, "encoder; post-norm, masked-LM and classification heads"),
    "t5": (T5Config, T5, "encoder-decoder; relative position buckets, RMSNorm"),
    "rnn": (RNNConfig, RNNLanguageModel, "recurrent LM; RNN, LSTM or GRU cells"),
}


@dataclass(frozen=True)
class Pretrained:
    """Real weights that ship as an asset, and how to read them into our model."""

    family: str
    preset: str  # the architecture they fit
    asset: str  # llmlab asset holding the file(s)
    file: str  # what is read inside the asset folder
    source: str  # where the weights come from, for `llmlab models info`
    load: Callable[[Path], nn.Module]


def _load_smollm2(folder: Path) -> nn.Module:
    from llmlab.models.gguf_llama import load_llama_gguf

    return load_llama_gguf(folder / "SmolLM2-135M-Instruct.Q4_1.gguf")


def _load_minilm(folder: Path) -> nn.Module:
    from llmlab.models.sentence import load_minilm

    return load_minilm(folder)[0]


PRETRAINED: dict[str, Pretrained] = {
    "smollm2-135m-instruct": Pretrained(
        "llama", "smollm2-135m", "smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf",
        "HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF, dequantised to float32 by llmlab", _load_smollm2,
    ),
    "all-minilm-l6-v2": Pretrained(
        "bert", "minilm-l6", "all-minilm-l6-v2", "model.safetensors",
        "sentence-transformers/all-MiniLM-L6-v2, safetensors", _load_minilm,
    ),
}  # fmt: skip


def presets() -> dict[str, tuple[str, ModelConfig]]:
    """Every preset name -> (family, config)."""
    return {
        name: (family, cfg) for family, (cls, _, _) in FAMILIES.items() for name, cfg in cls.PRESETS.items()
    }


def all_names() -> list[str]:
    return [*presets(), *PRETRAINED]


def resolve(name: str) -> tuple[str, ModelConfig, Pretrained | None]:
    """``(family, config, pretrained or None)`` for a preset or pretrained name."""
    if name in PRETRAINED:
        p = PRETRAINED[name]
        return p.family, FAMILIES[p.family][0].from_name(p.preset), p
    known = presets()
    if name in known:
        family, cfg = known[name]
        # subtle: a copy, never the preset itself, or a model that changes its config would change the preset
        return family, dataclasses.replace(cfg), None
    close = difflib.get_close_matches(name, all_names(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ModelError(f"unknown model {name!r}{hint} (see: llmlab models list)")


def build(name: str) -> nn.Module:
    """A model with random weights from a preset (or the architecture of a pretrained model)."""
    family, cfg, _ = resolve(name)
    return FAMILIES[family][1](cfg)


DECODERS = ("gpt2", "llama", "rnn")  # the families that predict the next token: what pretraining trains


def decoder_config(name: str, *, action: str = "train") -> tuple[str, ModelConfig]:
    """``(family, config)`` of a decoder preset; an encoder is refused with what ``action`` needs."""
    family, cfg, _ = resolve(name)
    if family not in DECODERS:
        raise ModelError(
            f"{name} is a {family} model; {action} decoders with next-token prediction "
            f"({', '.join(DECODERS)} presets)"
        )
    return family, cfg


def build_decoder(
    name: str, vocab_size: int, seq_len: int, *, action: str = "train", **overrides
) -> nn.Module:
    """A decoder preset with random weights, resized to a tokenizer's vocabulary and a context
    (``overrides``: other config fields, e.g. ``dropout=0.0``)."""
    family, cfg = decoder_config(name, action=action)
    cfg = dataclasses.replace(cfg, vocab_size=vocab_size, max_seq_len=seq_len, **overrides)
    return FAMILIES[family][1](cfg)


def load(name: str) -> nn.Module:
    """A pretrained model with its real weights, in eval mode (pulls nothing: run `llmlab assets pull`)."""
    _, _, pretrained = resolve(name)
    if pretrained is None:
        raise ModelError(
            f"{name!r} is a preset with random weights, not a pretrained model; "
            f"pretrained: {', '.join(PRETRAINED)} (or build it untrained with llmlab.models.registry.build)"
        )
    return pretrained.load(assets.require(pretrained.asset)).eval()
