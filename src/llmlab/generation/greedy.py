"""Greedy decoding: always take the single most likely next token.

The loop every decoder shares, in its simplest form::

    1. run the prompt through the model once (filling the KV cache);
    2. take argmax of the last position's logits: that is the next token;
    3. stop on a stop id or after ``max_new_tokens``; else feed just that token and go to 2.

With the cache each step costs one token's worth of compute; without it (``use_cache=False``)
every step re-reads the whole sequence, which is slower but gives the same tokens (tested):
a useful check that the cache is right. Greedy output is deterministic, which is why model
parity tests compare greedy continuations. The next rungs: :mod:`llmlab.generation.logits` (the
sampling knobs) and :func:`llmlab.generation.sampling.generate` (any model, n samples, streaming).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from llmlab.models.base import ContextLengthError


@torch.inference_mode()
def greedy(
    model: nn.Module,
    prompt: Sequence[int],
    max_new_tokens: int,
    *,
    stop_ids: Iterable[int] = (),
    use_cache: bool = True,
) -> list[int]:
    """The new token ids (a stop id, if hit, is included as the last one)."""
    if not prompt:
        raise ValueError("greedy decoding needs a prompt of at least one token")
    stop = set(stop_ids)
    max_len = model.config.max_seq_len
    if len(prompt) + max_new_tokens > max_len:
        raise ContextLengthError(
            f"prompt of {len(prompt)} tokens + {max_new_tokens} new tokens exceeds the model's context of {max_len}"
        )
    device = next(model.parameters()).device
    seq = torch.tensor([list(prompt)], device=device)  # (1, T)
    cache = model.new_cache(1, len(prompt) + max_new_tokens) if use_cache else None
    step_input = seq
    out: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(step_input if use_cache else seq, cache=cache).logits[:, -1]  # (1, V)
        nxt = int(logits.argmax(dim=-1))
        out.append(nxt)
        if nxt in stop:
            break
        step_input = torch.tensor([[nxt]], device=device)
        seq = torch.cat([seq, step_input], dim=1)
    return out
