"""Logit transforms: the knobs between a model's scores and the token that gets sampled.

Unlike greedy decoding (always the argmax), sampling draws the next token from a distribution,
and every knob of an OpenAI-style API is a small function that reshapes that distribution. Each
one here takes ``logits`` of shape ``(B, V)`` (one row per sequence in the batch) and returns a
new tensor of the same shape; a token that is ruled out gets ``-inf`` (probability 0 after the
softmax). :mod:`llmlab.generation.sampling` applies them in this order, the order of
transformers' ``generate`` and of OpenAI's documentation::

    1. repetition_penalty       scores of tokens already in prompt + output  (CTRL)
    2. frequency_presence       scores of tokens already in the output       (OpenAI)
    3. logit_bias               a fixed amount added to chosen ids           (OpenAI)
    4. temperature              sharpen (< 1) or flatten (> 1) the whole distribution
    5. top_k, 6. top_p, 7. min_p  keep only a head of the distribution ("truncation")

Penalties change scores *before* the temperature, so a penalty means the same at any temperature;
the truncations come last, so they cut the distribution that is actually sampled.
The tests check each one on hand-made logits and against transformers' ``LogitsProcessor`` classes.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

NEG_INF = float("-inf")


def temperature(logits: Tensor, t: float) -> Tensor:
    """``logits / t`` (t > 0): below 1 sharpens the distribution, above 1 flattens it.

    ``softmax(z / t)``: as t -> 0 all mass goes to the argmax (greedy), as t -> inf it becomes
    uniform. t = 1 is the model's own distribution. (Ackley, Hinton and Sejnowski, 1985.)
    """
    return logits / t


def top_k(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` highest-scoring tokens of each row; the rest get ``-inf``.

    # subtle: tokens tied with the k-th score are all kept (as transformers does), so a row can
    keep more than k tokens when scores tie. (Fan, Lewis and Dauphin, 2018.)
    """
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, 1): the k-th largest score
    return logits.masked_fill(logits < kth, NEG_INF)


def top_p(logits: Tensor, p: float) -> Tensor:
    """Nucleus sampling: keep the smallest set of most likely tokens whose mass is at least ``p``.

    Steps, per row: 1. sort the probabilities in descending order; 2. the mass *before* each
    token is the exclusive cumulative sum; 3. keep a token while that mass is still below ``p``
    (so the token that first reaches ``p`` is kept, and the most likely token always is);
    4. scatter the keep-mask back to vocabulary order. (Holtzman et al., 2020, "The Curious
    Case of Neural Text Degeneration".)
    """
    probs = logits.softmax(dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True)  # (B, V)
    mass_before = F.pad(sorted_p.cumsum(dim=-1)[..., :-1], (1, 0))  # (B, V): mass of the more likely ones
    keep_sorted = mass_before < p
    keep_sorted[..., 0] = True  # subtle: p = 0 would otherwise keep nothing
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)  # back to vocabulary order
    return logits.masked_fill(~keep, NEG_INF)


def min_p(logits: Tensor, min_p: float) -> Tensor:
    """Keep tokens whose probability is at least ``min_p * p_max`` (p_max: the row's top probability).

    Unlike top-p the cut scales with the model's confidence: a confident step (p_max = 0.9)
    keeps few tokens, an uncertain one (p_max = 0.1) keeps many. (Nguyen et al., 2024,
    "Turning Up the Heat: Min-p Sampling".) The most likely token always survives.
    """
    probs = logits.softmax(dim=-1)  # (B, V)
    threshold = min_p * probs.amax(dim=-1, keepdim=True)  # (B, 1)
    return logits.masked_fill(probs < threshold, NEG_INF)


def frequency_presence(
    logits: Tensor, counts: Tensor, frequency_penalty: float, presence_penalty: float
) -> Tensor:
    """OpenAI's penalties: ``logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty``.

    ``counts`` (B, V) says how often each token already appears in the *generated* text (not the
    prompt). The frequency penalty grows with every repeat; the presence penalty is paid once,
    by any token that has appeared at all. Negative values encourage repeats. (OpenAI API
    reference, "Frequency and presence penalties".)
    """
    counts = counts.to(logits.dtype)
    return logits - counts * frequency_penalty - (counts > 0).to(logits.dtype) * presence_penalty


def repetition_penalty(logits: Tensor, seen: Tensor, penalty: float) -> Tensor:
    """CTRL's repetition penalty on tokens already in prompt + output (``seen``, a (B, V) bool mask).

    A seen token's logit is divided by ``penalty`` when positive and multiplied by it when
    negative, so with ``penalty > 1`` it always becomes less likely (dividing a negative logit
    would *raise* it: that was the bug in the paper's formula that transformers fixed).
    ``penalty < 1`` rewards repeats. (Keskar et al., 2019, "CTRL"; transformers'
    ``RepetitionPenaltyLogitsProcessor``.)
    """
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def logit_bias(logits: Tensor, bias: Mapping[int, float]) -> Tensor:
    """Add ``bias[id]`` to the logit of each listed token id (OpenAI's ``logit_bias``).

    -100 effectively bans a token, +100 effectively forces it; small values (+-1) nudge.
    """
    if not bias:
        return logits
    ids = torch.tensor(list(bias), device=logits.device)  # (n,)
    values = torch.tensor(list(bias.values()), dtype=logits.dtype, device=logits.device)  # (n,)
    out = logits.clone()
    out[:, ids] += values
    return out


def token_counts(ids: Tensor, vocab_size: int) -> Tensor:
    """``(B, T)`` token ids -> ``(B, V)`` counts: how often each id occurs in each row."""
    counts = torch.zeros(ids.size(0), vocab_size, dtype=torch.long, device=ids.device)
    return counts.scatter_add_(1, ids, torch.ones_like(ids))
