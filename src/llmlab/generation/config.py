"""The run config of decoding: every knob of an OpenAI-style completion call, in one dataclass.

It is separate from the model's config (a model does not know how it will be sampled), and it
checks itself when built, so a bad value fails at once with a one-line :class:`GenerationError`
instead of deep inside a decoding loop. Defaults are neutral: with ``GenerationConfig()`` every
transform is off and the model's own distribution is sampled (temperature 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmlab.errors import LLMLabError


class GenerationError(LLMLabError):
    """A decoding setting that cannot work (bad value, or a combination that does not apply)."""


@dataclass
class GenerationConfig:
    """How to turn next-token distributions into text (see docs/generation.md for each knob)."""

    max_new_tokens: int = 64  # most tokens to generate (a stop may end it sooner)
    temperature: float = 1.0  # divide logits by it; 0 = greedy (always the most likely token)
    top_k: int = 0  # keep only the k most likely tokens; 0 = off
    top_p: float = 1.0  # keep the smallest set of most likely tokens with mass >= top_p; 1 = off
    min_p: float = 0.0  # keep tokens with p >= min_p * p_max; 0 = off
    frequency_penalty: float = 0.0  # OpenAI: subtract count * this from a generated token's logit
    presence_penalty: float = 0.0  # OpenAI: subtract this once from any token already generated
    repetition_penalty: float = 1.0  # CTRL/HF: shrink logits of tokens in prompt + output; 1 = off
    logit_bias: dict[int, float] = field(default_factory=dict)  # token id -> value added to its logit
    stop: list[str] = field(default_factory=list)  # stop sequences, checked on decoded text
    stop_ids: list[int] = field(default_factory=list)  # token ids that end a sample (EOS, <|im_end|>)
    seed: int | None = None  # seeds the sampler's own torch.Generator; None = a fresh random seed
    n: int = 1  # samples to draw, decoded together as one batch (beam search: best n beams)
    num_beams: int = 1  # > 1: beam search instead of sampling (deterministic)
    length_penalty: float = 1.0  # beam search: score = sum of logprobs / length ** length_penalty
    early_stopping: bool | str = False  # beam search: True, False (heuristic) or "never", as in HF
    record_top: int = 0  # record the k most likely candidates before/after each transform per step
    use_cache: bool = True  # keep keys/values (or the RNN state); False recomputes the whole sequence

    def __post_init__(self) -> None:
        self.stop = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        self.stop_ids = list(self.stop_ids)
        self.logit_bias = {int(k): float(v) for k, v in self.logit_bias.items()}
        checks = [
            (self.max_new_tokens >= 1, f"max_new_tokens must be at least 1, got {self.max_new_tokens}"),
            (self.temperature >= 0, f"temperature must be >= 0 (0 means greedy), got {self.temperature}"),
            (self.top_k >= 0, f"top_k must be >= 0 (0 turns it off), got {self.top_k}"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1] (1 turns it off), got {self.top_p}"),
            (0 <= self.min_p <= 1, f"min_p must be in [0, 1] (0 turns it off), got {self.min_p}"),
            (-2 <= self.frequency_penalty <= 2, f"frequency_penalty must be in [-2, 2] as in OpenAI's API, "
             f"got {self.frequency_penalty}"),
            (-2 <= self.presence_penalty <= 2, f"presence_penalty must be in [-2, 2] as in OpenAI's API, "
             f"got {self.presence_penalty}"),
            (self.repetition_penalty > 0, f"repetition_penalty must be > 0 (1 turns it off), "
             f"got {self.repetition_penalty}"),
            (all(s for s in self.stop), "stop sequences must be non-empty strings"),
            (self.n >= 1, f"n (number of samples) must be at least 1, got {self.n}"),
            (self.num_beams >= 1, f"num_beams must be at least 1, got {self.num_beams}"),
            (self.record_top >= 0, f"record_top must be >= 0 (0 records nothing), got {self.record_top}"),
            (self.early_stopping in (True, False, "never"),
             f"early_stopping must be True, False or 'never', got {self.early_stopping!r}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise GenerationError(message)
        if self.num_beams > 1:
            self._check_beam_search()

    def _check_beam_search(self) -> None:
        """Beam search keeps the best-scoring sequences; sampling knobs have no meaning there."""
        if self.temperature not in (0.0, 1.0) or self.top_k or self.top_p < 1 or self.min_p:
            raise GenerationError(
                "beam search does not sample: leave temperature (0 or 1), top_k, top_p and min_p at their "
                "defaults, or set num_beams=1 to sample"
            )
        if self.frequency_penalty or self.presence_penalty or self.repetition_penalty != 1 or self.logit_bias:
            raise GenerationError(
                "penalties and logit_bias are not supported with beam search (num_beams > 1)"
            )
        if self.stop or self.record_top:
            raise GenerationError(
                "beam search supports stop_ids but not stop strings or record_top; use num_beams=1 for those"
            )
        if self.n > self.num_beams:
            raise GenerationError(f"n={self.n} beams asked for but only num_beams={self.num_beams} are kept")

    @property
    def greedy(self) -> bool:
        """Temperature 0: take the argmax after the penalties, skip temperature and truncation."""
        return self.temperature == 0
