"""Decoding: turning a language model's next-token distributions into text.

The ladder, one idea per file:

* ``greedy.py``: always the most likely token, with or without a KV cache (the first rung);
* ``logits.py``: each sampling knob as a function on (B, V) logits (temperature, top-k, top-p,
  min-p, OpenAI's penalties, the repetition penalty, logit bias);
* ``config.py``: :class:`GenerationConfig`, every knob in one checked dataclass;
* ``pipeline.py``: the active transforms in order, with the history penalties need;
* ``runner.py``: feeding any model token by token (KV cache, RNN state, or recompute);
* ``text.py``: incremental decoding and stop sequences;
* ``sampling.py``: :func:`generate` and :func:`stream`, n samples batched;
* ``beam.py``: :func:`beam_search`.

See docs/generation.md for each knob shown on a real distribution.
"""

from llmlab.generation.beam import beam_search
from llmlab.generation.config import GenerationConfig, GenerationError
from llmlab.generation.greedy import greedy
from llmlab.generation.outputs import Candidate, Generation, Step
from llmlab.generation.sampling import generate, stream

__all__ = [
    "Candidate",
    "Generation",
    "GenerationConfig",
    "GenerationError",
    "Step",
    "beam_search",
    "generate",
    "greedy",
    "stream",
]
