"""How a decoding loop feeds a model one token at a time, whatever the model keeps of its past.

Unlike :func:`~llmlab.generation.greedy.greedy`, which handles one transformer sequence, this
small class lets sampling and beam search drive every kind of language model and a batch of rows
through four calls::

    prefill(prompt)   run the prompt once; logits of its last position     (1, V)
    expand(n)         copy that one row n times (n samples, or the beams)
    step(tokens)      feed one new token per row; the next logits           (B, V)
    select(index)     keep, drop or reorder rows (finished samples leave; beams are re-ranked)

What "the past" is depends on the model:

* a transformer (has ``new_cache``): a preallocated KV cache of ``prompt + max_new_tokens`` slots;
  ``select`` is :meth:`KVCache.reorder`;
* a recurrent model (:class:`~llmlab.models.rnn.RNNLanguageModel`): its fixed-size state, passed
  back as ``state=``; ``select`` picks rows of it;
* ``use_cache=False``: nothing; every step re-reads the whole sequence (slow, but a check that the
  cache is right: both give the same tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class Runner:
    """Holds one model's past for a batch of rows during decoding (see the module docstring)."""

    def __init__(self, model: nn.Module, max_len: int, *, use_cache: bool = True) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.max_len = max_len  # prompt + new tokens: the size of the preallocated cache
        self.kind = "recompute" if not use_cache else ("kv" if hasattr(model, "new_cache") else "state")
        self.past = None  # KVCache, recurrent state, or the (B, T) token ids when recomputing

    def _logits(self, idx: Tensor) -> Tensor:
        """Forward ``idx`` (B, T) against the past; the last position's logits (B, V) in float32."""
        if self.kind == "kv":
            out = self.model(idx, cache=self.past)
        elif self.kind == "state":
            out = self.model(idx, state=self.past)
            self.past = out.cache  # the state after these tokens
        else:
            self.past = idx if self.past is None else torch.cat([self.past, idx], dim=1)  # (B, T)
            out = self.model(self.past)
        return out.logits[:, -1].float()

    def prefill(self, prompt: Sequence[int]) -> Tensor:
        """Run the prompt (one row); the logits (1, V) of the token after it."""
        if self.kind == "kv":
            self.past = self.model.new_cache(1, self.max_len)
        idx = torch.tensor([list(prompt)], dtype=torch.long, device=self.device)  # (1, T)
        return self._logits(idx)

    def step(self, tokens: Tensor) -> Tensor:
        """Feed one token per row, ``tokens`` (B,); the next logits (B, V)."""
        return self._logits(tokens.view(-1, 1))

    def expand(self, n: int) -> None:
        """One row -> ``n`` identical rows (the prompt is run once, not n times)."""
        if n > 1:
            self.select(torch.zeros(n, dtype=torch.long, device=self.device))

    def select(self, index: Tensor) -> None:
        """Row ``i`` of the batch becomes old row ``index[i]`` (``index`` (B',) may repeat or drop rows)."""
        if self.kind == "kv":
            self.past.reorder(index)
        elif self.kind == "recompute":
            self.past = self.past.index_select(0, index)
        elif isinstance(self.past, tuple):  # LSTM: (h, c), each (n_layer, B, d_hidden)
            self.past = tuple(t.index_select(1, index) for t in self.past)
        else:  # RNN / GRU: h (n_layer, B, d_hidden)
            self.past = self.past.index_select(1, index)
