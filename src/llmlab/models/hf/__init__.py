"""Hugging Face interop: save our models in the HF layout and read HF checkpoints into ours.

The HF layout is a folder with ``config.json`` (field names of the transformers class) and
``model.safetensors`` (tensor names of the transformers class). :func:`save_pretrained`
writes it so that ``transformers.AutoModel*.from_pretrained(folder)`` loads the matching class
(``GPT2LMHeadModel``, ``LlamaForCausalLM``, ``BertModel``/``BertForMaskedLM``,
``T5ForConditionalGeneration``); :func:`from_pretrained` reads such a folder, from
transformers or from us, into our model. Weights are read only from safetensors (or GGUF):
a pickle checkpoint (``pytorch_model.bin``) is refused, see :mod:`llmlab.formats.checkpoints`.

Example::

    from llmlab.models.gpt2 import GPT2, GPT2Config
    from llmlab.models.hf import save_pretrained, from_pretrained
    save_pretrained(GPT2(GPT2Config.from_name("gpt2-debug")), "runs/tiny-gpt2")
    model = from_pretrained("runs/tiny-gpt2")   # or transformers.GPT2LMHeadModel.from_pretrained(...)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from llmlab.assets.files import atomic_write_bytes
from llmlab.models.hf.core import WeightsError, from_hf, load_checked, to_hf
from llmlab.models.hf.registry import adapter_for_hf, adapter_for_model, adapters

__all__ = [
    "WeightsError",
    "adapters",
    "from_hf_state_dict",
    "from_pretrained",
    "hf_config",
    "save_pretrained",
    "to_hf_state_dict",
]


def hf_config(model: nn.Module) -> dict[str, Any]:
    """The ``config.json`` transformers expects for ``model``."""
    adapter = adapter_for_model(model)
    arch = adapter.architecture_of(model)
    return {"architectures": [arch], "model_type": adapter.model_type, **adapter.config_to_hf(model.config)}


def to_hf_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Our model's weights under transformers' names and layouts."""
    adapter = adapter_for_model(model)
    names = adapter.name_map(model.config, adapter.architecture_of(model))
    return to_hf(model.state_dict(), names)


def from_hf_state_dict(
    hf_state: dict[str, Tensor], hf_cfg: dict[str, Any], *, architecture: str | None = None
) -> nn.Module:
    """Build our model from a transformers config dict and state dict (both directions checked)."""
    adapter, arch = adapter_for_hf(hf_cfg)
    arch = architecture or arch
    cfg = adapter.config_from_hf(hf_cfg)
    model = adapter.build(cfg, arch)
    state = from_hf(hf_state, adapter.name_map(cfg, arch))
    return load_checked(model, state, what="HF weights")


def save_pretrained(model: nn.Module, folder: str | Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` in the HF layout; returns the folder."""
    from llmlab.formats.safetensors import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = hf_config(model)
    state = {k: v.detach().cpu().contiguous() for k, v in to_hf_state_dict(model).items()}
    dtype = next(iter(state.values())).dtype
    config["torch_dtype"] = str(dtype).removeprefix("torch.")
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    atomic_write_bytes(folder / "config.json", (json.dumps(config, indent=2) + "\n").encode())
    return folder


def read_hf_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise WeightsError(f"{folder} has no config.json; is it a Hugging Face model folder?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{path} is not valid JSON: {exc}") from None


def from_pretrained(
    folder: str | Path, *, architecture: str | None = None, dtype: torch.dtype | None = None
) -> nn.Module:
    """Read an HF-layout folder (ours or transformers') into our model, in eval mode."""
    from llmlab.formats.checkpoints import load_weights

    folder = Path(folder)
    hf_cfg = read_hf_config(folder)
    state = load_weights(folder)
    model = from_hf_state_dict(state, hf_cfg, architecture=architecture)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()
