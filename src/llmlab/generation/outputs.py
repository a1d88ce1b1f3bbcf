"""What decoding returns: one :class:`Step` per new token while streaming, one :class:`Generation` per sample.

The records are plain dataclasses so that the CLI can print them, the studio can draw them (the
per-step candidates before and after each transform) and tests can compare them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Candidate:
    """A possible next token and its probability at one stage of the transforms."""

    id: int
    prob: float
    text: str = ""  # the token decoded on its own ("" without a tokenizer; may be U+FFFD for a partial byte)


@dataclass
class Step:
    """One new token of one sample, as :func:`~llmlab.generation.sampling.stream` yields it."""

    sample: int  # which of the n samples (0-based)
    index: int  # position of the token in that sample's output (0 = the first new token)
    id: int  # the token chosen
    text: str  # text this token makes visible ("" while a character or a possible stop is incomplete)
    logprob: float  # log-probability of ``id`` under the model's own distribution (before any transform)
    finish_reason: str | None = None  # on a sample's last step: "stop" (stop id or string) or "length"
    # with record_top = k: ("model", top k of the raw softmax), then (transform name, top k after it)
    # for each active transform, in the order they were applied
    top: list[tuple[str, list[Candidate]]] = field(default_factory=list)

    @property
    def before(self) -> list[Candidate]:
        """The top candidates of the model's own distribution."""
        return self.top[0][1] if self.top else []

    @property
    def after(self) -> list[Candidate]:
        """The top candidates of the distribution the token was drawn from (after every transform)."""
        return self.top[-1][1] if self.top else []


@dataclass
class Generation:
    """One finished sample (or, for beam search, one finished beam)."""

    ids: list[int]  # every token generated, a stop id included
    text: str  # the decoded answer, cut before a stop sequence, without a stop id's text ("" without a tokenizer)
    finish_reason: str  # "stop" (a stop id or stop sequence) or "length" (max_new_tokens reached)
    logprobs: list[float] = field(default_factory=list)  # per token, under the model's own distribution
    steps: list[Step] = field(default_factory=list)  # per token, kept when record_top > 0
    score: float | None = None  # beam search: sum of logprobs / len(ids) ** length_penalty
