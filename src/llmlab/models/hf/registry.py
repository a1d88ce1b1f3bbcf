"""The adapters that connect each llmlab family to its transformers twin.

An :class:`Adapter` is data: which HF ``model_type`` and classes it covers, how config fields
are renamed, the weight :class:`~llmlab.models.hf.core.NameMap`, and how to build our model.
Family modules (``hf/gpt2.py``, ``hf/llama.py``...) call :func:`register` when imported;
:func:`adapters` imports them all on first use, so the model files never import this package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from llmlab.models.base import ModelConfig
from llmlab.models.hf.core import NameMap, WeightsError

FAMILY_MODULES = ("gpt2", "llama", "bert", "t5")


@dataclass(frozen=True)
class Adapter:
    model_type: str  # HF config.json "model_type"
    architectures: tuple[str, ...]  # HF classes covered; the first is written by save_pretrained
    config_class: type[ModelConfig]
    config_to_hf: Callable[[Any], dict[str, Any]]
    config_from_hf: Callable[[dict[str, Any]], Any]
    name_map: Callable[[Any, str], NameMap]  # (our config, HF architecture) -> rules
    build: Callable[[Any, str], nn.Module]  # (our config, HF architecture) -> our model
    model_classes: tuple[type[nn.Module], ...]  # our classes; same order as architectures

    def architecture_of(self, model: nn.Module) -> str:
        """The HF class that matches our model's class."""
        for cls, arch in zip(self.model_classes, self.architectures, strict=False):
            if type(model) is cls:
                return arch
        return self.architectures[0]


_REGISTRY: dict[str, Adapter] = {}


def register(adapter: Adapter) -> None:
    _REGISTRY[adapter.model_type] = adapter


def adapters() -> dict[str, Adapter]:
    """All adapters by HF model_type (imports the family modules on first use)."""
    for name in FAMILY_MODULES:
        importlib.import_module(f"llmlab.models.hf.{name}")
    return _REGISTRY


def adapter_for_model(model: nn.Module) -> Adapter:
    for adapter in adapters().values():
        if isinstance(model, adapter.model_classes):
            return adapter
    raise WeightsError(f"no HF adapter for {type(model).__name__}")


def adapter_for_hf(hf_config: dict[str, Any]) -> tuple[Adapter, str]:
    """The adapter and architecture named by an HF ``config.json``."""
    model_type = hf_config.get("model_type")
    known = adapters()
    if model_type not in known:
        raise WeightsError(
            f"config.json has model_type {model_type!r}; llmlab reads {', '.join(sorted(known))}"
        )
    adapter = known[model_type]
    archs = hf_config.get("architectures") or [adapter.architectures[0]]
    arch = archs[0] if archs[0] in adapter.architectures else adapter.architectures[0]
    return adapter, arch
