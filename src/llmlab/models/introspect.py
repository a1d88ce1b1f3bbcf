"""Looking inside a model: parameters and FLOPs by component, attention maps, the logit lens.

Everything here works on any family of the zoo, because the families are built from the same
blocks in :mod:`llmlab.nn`: a parameter or a FLOP is attributed to the innermost block it sits
in (attention, feed-forward, norm, recurrent cell), or to the embeddings or the output head.

- :func:`parameter_counts`: where the parameters are. GPT-2 124M: 39.4M in embeddings (tokens and positions),
  28.3M in attention, 56.6M in the MLPs.
- :func:`flops_per_token`: forward FLOPs per token at a given context length, measured by
  PyTorch's FLOP counter on a real forward pass (2 FLOPs per multiply-add) rather than a
  formula, so it is right for every family; the familiar estimate is ``2 * n_params`` plus the
  attention scores, ``2 * 2 * n_layer * T * d_model`` (tested against the counter).
- :func:`logit_lens`: run each layer's hidden state through the final norm and the output
  head, as if the model stopped there: what would it predict after layer i? (nostalgebraist,
  "interpreting GPT: the logit lens", 2020.)
- :func:`attention_maps`: every layer's (n_head, T, T) attention weights for one input.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from llmlab.models.base import ModelError
from llmlab.nn.feedforward import MLP, SwiGLU
from llmlab.nn.moe import MoE
from llmlab.nn.multihead import MultiHeadAttention
from llmlab.nn.norms import LayerNorm, RMSNorm
from llmlab.nn.positions import LearnedPositions

COMPONENTS = ("embeddings", "attention", "feed-forward", "recurrent", "norms", "head", "other")


def _component(module: nn.Module, name: str) -> str | None:
    """The component a module belongs to, or None if it is only a container."""
    from llmlab.nn import recurrent  # the cells live in their own file

    if isinstance(module, nn.Embedding | LearnedPositions):
        return "embeddings"
    if isinstance(module, MultiHeadAttention):
        return "attention"
    if isinstance(module, MLP | SwiGLU | MoE):
        return "feed-forward"
    if isinstance(module, LayerNorm | RMSNorm | nn.LayerNorm):
        return "norms"
    if isinstance(module, nn.RNNBase) or any(
        isinstance(module, getattr(recurrent, c, ())) for c in ("RNNCell", "LSTMCell", "GRUCell")
    ):
        return "recurrent"
    if name.split(".")[-1] in ("head", "lm_head", "decoder", "classifier"):
        return "head"
    return None


def _owner(model: nn.Module, qualified: str) -> str:
    """Walk from the root towards ``qualified`` (a module path) and return the first component met."""
    parts = qualified.split(".") if qualified else []
    module = model
    for i, part in enumerate(parts):
        module = getattr(module, part)
        found = _component(module, ".".join(parts[: i + 1]))
        if found:
            return found
    return "other"


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Parameters by component; a tied head is counted once, under embeddings."""
    counts: Counter[str] = Counter()
    for name, p in model.named_parameters():  # shared parameters are listed once
        counts[_owner(model, name.rpartition(".")[0])] += p.numel()
    return {c: counts[c] for c in COMPONENTS if counts[c]}


def flops_per_token(model: nn.Module, seq_len: int = 128) -> dict[str, float]:
    """Forward FLOPs per token by component, counted on one sequence of ``seq_len`` tokens."""
    own_count = getattr(model, "flops_per_token", None)
    if callable(own_count):  # fused kernels (torch.nn.LSTM) hide their matmuls: the family counts itself
        per_token = {k: float(v) for k, v in own_count().items() if v}
        per_token["total"] = sum(per_token.values())
        return per_token
    device = next(model.parameters()).device
    idx = torch.zeros(1, seq_len, dtype=torch.long, device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        try:  # the written-out attention, whose matmuls the counter sees
            model(idx, output_attentions=True)
        except TypeError:  # families without attention maps (RNNs)
            model(idx)
    counts = {key: sum(ops.values()) for key, ops in counter.get_flop_counts().items()}
    root = type(model).__name__

    def listed_parent(key: str) -> str:
        while "." in key:  # containers that are never called (ModuleList) are not listed
            key = key.rpartition(".")[0]
            if key in counts:
                return key
        return ""

    # a module's own FLOPs are its total minus what its listed children report: attention's
    # score matmuls belong to the attention module itself, its projections to q, k, v and o
    own = {key: flops for key, flops in counts.items() if key.startswith(root + ".")}
    for key in own:
        parent = listed_parent(key)
        if parent in own:
            own[parent] -= counts[key]
    totals: Counter[str] = Counter()
    for key, flops in own.items():
        totals[_owner(model, key[len(root) + 1 :])] += flops
    per_token = {c: totals[c] / seq_len for c in COMPONENTS if totals[c]}
    per_token["total"] = sum(per_token.values())
    return per_token


def logit_lens(model: nn.Module, hidden_states: list[Tensor]) -> Tensor:
    """``(n_layer + 1, B, T, vocab_size)``: each layer's hidden state read out by the final norm and head."""
    if not (hasattr(model, "final_norm") and hasattr(model, "head")):
        raise ModelError(
            f"the logit lens needs a decoder with final_norm and head; {type(model).__name__} has none"
        )
    with torch.no_grad():
        return torch.stack([model.head(model.final_norm(h)) for h in hidden_states])


def attention_maps(model: nn.Module, idx: Tensor) -> list[Tensor]:
    """One ``(B, n_head, T, T)`` map per layer, from the written-out attention."""
    with torch.no_grad():
        out = model(idx, output_attentions=True)
    if not out.attentions:
        raise ModelError(f"{type(model).__name__} has no attention maps")
    return out.attentions
