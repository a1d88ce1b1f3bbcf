"""What every model family shares: the output record, config presets, and the errors.

Each family (``gpt2.py``, ``llama.py``, ``bert.py``, ``t5.py``, ``rnn.py``) is one file that reads
top to bottom; this file holds only the small pieces they all need so that a trainer, a decoder or
the studio can drive any of them the same way:

- :class:`ModelOutput` is what ``model(idx)`` returns: logits, and on request the loss, the
  hidden states after every layer and the attention weights of every layer.
- :class:`ModelConfig` gives a config dataclass its presets (``GPT2Config.from_name("gpt2")``)
  and a JSON-safe round trip (``to_dict`` / ``from_dict``) so checkpoints carry their config.
- :class:`ContextLengthError` is raised when an input is longer than the model can see.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import torch.nn.functional as F
from torch import Tensor

from llmlab.errors import LLMLabError


class ModelError(LLMLabError):
    """A model was asked for something it cannot do (unknown preset, bad config, bad input)."""


class ContextLengthError(ModelError):
    """The input (plus any cached tokens) is longer than the model's ``max_seq_len``."""


@dataclass
class ModelOutput:
    """What a forward pass returns. Only ``logits`` is always set."""

    logits: Tensor  # (B, T, vocab_size) for language models, (B, n_labels) for classifiers
    loss: Tensor | None = None  # mean cross-entropy when targets were given
    hidden_states: list[Tensor] | None = None  # embeddings output, then the output of each layer: (B, T, C)
    attentions: list[Tensor] | None = None  # one (B, n_head, T, S) softmax map per layer, when asked
    cache: Any = None  # the KV cache or recurrent state to pass back in for the next step


@dataclass
class ModelConfig:
    """Base for every family's config dataclass: named presets and a dict round trip.

    A subclass sets ``family`` (its name in ``llmlab models list``) and fills ``PRESETS`` with
    ``name -> config`` after the class is defined.
    """

    family: ClassVar[str] = ""
    PRESETS: ClassVar[dict[str, Any]]

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> Self:
        """A named preset, optionally with some fields replaced: ``GPT2Config.from_name("gpt2", n_layer=2)``."""
        if name not in cls.PRESETS:
            close = difflib.get_close_matches(name, list(cls.PRESETS), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ModelError(
                f"unknown {cls.family} preset {name!r}{hint}; known: {', '.join(sorted(cls.PRESETS))}"
            )
        return dataclasses.replace(cls.PRESETS[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        """The fields that define the model (derived fields included), JSON-safe."""
        return {"family": self.family, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a config from :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        data = {k: v for k, v in data.items() if k != "family"}
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ModelError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in names})


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy of ``logits`` (B, T, V) against ``targets`` (B, T); -100 marks "no target".

    Computed in float32 even under bf16/fp16 autocast: the log-softmax over a large vocabulary is
    where half precision loses the most.
    """
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)


def check_context(T: int, past: int, max_seq_len: int) -> None:
    """Raise a clear error when ``past`` cached tokens plus ``T`` new ones exceed the context."""
    if past + T > max_seq_len:
        held = f" ({past} cached + {T} new)" if past else ""
        raise ContextLengthError(
            f"input of {past + T} tokens{held} is longer than the model's context of {max_seq_len}; "
            f"truncate it (keep the last {max_seq_len} tokens) or use a model with a longer max_seq_len"
        )
