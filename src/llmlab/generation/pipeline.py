"""The chain of active logit transforms of one decoding run, with the history the penalties need.

Builds on :mod:`llmlab.generation.logits` (one function per transform): a
:class:`~llmlab.generation.config.GenerationConfig` turns on some of them, and this class applies
those, in the fixed order of that module, to a batch of rows ``(B, V)``. It also owns the two
pieces of history that penalties read and that must follow the rows when the batch is reordered:

* ``seen`` (B, V) bool: the token is in the prompt or the output (repetition penalty);
* ``counts`` (B, V) int: how often the token is in the output (frequency and presence penalties).

With ``record`` it returns, after each transform, the top candidates and their probabilities:
what the studio draws to show how each knob reshapes the distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import Tensor

from llmlab.generation import logits as lp
from llmlab.generation.config import GenerationConfig
from llmlab.generation.outputs import Candidate
from llmlab.tokenizers.base import Tokenizer

Transform = Callable[[Tensor], Tensor]


class Transforms:
    """``transforms(logits) -> (logits, stages)``; ``update(tokens)`` after each step."""

    def __init__(
        self, config: GenerationConfig, prompt: Sequence[int], vocab_size: int, device: torch.device
    ) -> None:
        self.config = c = config
        self.seen = torch.zeros(1, vocab_size, dtype=torch.bool, device=device)  # (B, V)
        self.seen[0, torch.tensor(list(prompt), device=device)] = True
        self.counts = torch.zeros(1, vocab_size, dtype=torch.long, device=device)  # (B, V)
        sampling = not c.greedy  # greedy takes the argmax: temperature and truncation cannot change it
        wanted = [
            (c.repetition_penalty != 1, "repetition_penalty", self._repetition),
            (
                c.frequency_penalty != 0 or c.presence_penalty != 0,
                "frequency_presence",
                self._frequency_presence,
            ),
            (bool(c.logit_bias), "logit_bias", partial(lp.logit_bias, bias=c.logit_bias)),
            (sampling and c.temperature != 1, "temperature", partial(lp.temperature, t=c.temperature)),
            (sampling and c.top_k > 0, "top_k", partial(lp.top_k, k=c.top_k)),
            (sampling and c.top_p < 1, "top_p", partial(lp.top_p, p=c.top_p)),
            (sampling and c.min_p > 0, "min_p", partial(lp.min_p, min_p=c.min_p)),
        ]
        self.chain: list[tuple[str, Transform]] = [(name, fn) for on, name, fn in wanted if on]

    def _repetition(self, logits: Tensor) -> Tensor:
        return lp.repetition_penalty(logits, self.seen, self.config.repetition_penalty)

    def _frequency_presence(self, logits: Tensor) -> Tensor:
        c = self.config
        return lp.frequency_presence(logits, self.counts, c.frequency_penalty, c.presence_penalty)

    def __call__(
        self, logits: Tensor, *, record: int = 0, tokenizer: Tokenizer | None = None
    ) -> tuple[Tensor, list[list[tuple[str, list[Candidate]]]]]:
        """Apply the chain to ``logits`` (B, V); with ``record = k``, per row the top k after each stage."""
        stages = [("model", logits)]
        for name, transform in self.chain:
            logits = transform(logits)
            stages.append((name, logits))
        if not record:
            return logits, []
        per_row: list[list[tuple[str, list[Candidate]]]] = [[] for _ in range(logits.size(0))]
        for name, z in stages:
            probs, ids = z.softmax(dim=-1).topk(min(record, z.size(-1)), dim=-1)  # (B, k) each
            for row, (p_row, id_row) in enumerate(zip(probs.tolist(), ids.tolist(), strict=True)):
                per_row[row].append(
                    (name, [_candidate(i, p, tokenizer) for i, p in zip(id_row, p_row, strict=True)])
                )
        return logits, per_row

    def update(self, tokens: Tensor) -> None:
        """Record the tokens just chosen, ``tokens`` (B,), in the history."""
        rows = torch.arange(tokens.size(0), device=tokens.device)
        self.seen[rows, tokens] = True
        self.counts[rows, tokens] += 1

    def select(self, index: Tensor) -> None:
        """Follow the runner when rows are copied, dropped or reordered (``index`` (B',))."""
        self.seen = self.seen.index_select(0, index)
        self.counts = self.counts.index_select(0, index)


def _candidate(token_id: int, prob: float, tokenizer: Tokenizer | None) -> Candidate:
    return Candidate(token_id, prob, tokenizer.decode([token_id]) if tokenizer is not None else "")
