"""Beam search: keep the ``num_beams`` best partial sequences instead of one (greedy) or a random one.

Greedy commits to the best *next* token; beam search looks for the best *sequence*: a token that
looks worse now may lead somewhere better. A sequence's score is the sum of its tokens'
log-probabilities; a finished one (it produced an EOS id, or reached ``max_new_tokens``) is
ranked by ``score / length ** length_penalty`` (length_penalty > 0 favours longer answers, < 0
shorter ones). The loop, written to give the same tokens as transformers' ``generate(num_beams=k,
do_sample=False)`` (tested)::

    1. run the prompt once and copy it into k rows; only row 0 is live (the others start at
       -1e9 so the first step does not pick the same token k times);
    2. each step: log_softmax of every row's logits + the row's score -> k * V continuations;
       take the best 2k (with one EOS id: enough that k of them do not end);
    3. of the best k continuations, those that end (EOS, or the last step) join the finished
       list, ranked by their length-penalised score; only the best k finished are kept;
    4. the best k continuations that do not end are the next beams: reorder the KV cache rows
       to their parents (``cache.reorder``) and feed each its new token;
    5. stop when k sequences have finished and (``early_stopping=True``) at once, or (``False``)
       when the best running beam, scored at its current length, cannot beat the worst
       finished one, or (``"never"``) as ``False`` but assuming it could grow to the maximum
       length when length_penalty > 0.

Reference: transformers ``GenerationMixin._beam_search`` (the version since v4.50).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from llmlab.generation.config import GenerationConfig
from llmlab.generation.outputs import Generation
from llmlab.generation.runner import Runner
from llmlab.tokenizers.base import Tokenizer

NEG = -1.0e9  # a score no real sequence reaches (transformers' value, so ties break the same way)


@torch.inference_mode()
def beam_search(
    model: nn.Module, prompt_ids: Sequence[int], config: GenerationConfig, tokenizer: Tokenizer | None = None
) -> list[Generation]:
    """The ``config.n`` best finished beams, best first (``config.stop_ids`` are the EOS ids)."""
    from llmlab.generation.sampling import check_request

    check_request(model, prompt_ids, config, tokenizer)
    k, prompt, max_new = config.num_beams, list(prompt_ids), config.max_new_tokens
    eos = torch.tensor(sorted(set(config.stop_ids)), dtype=torch.long)
    was_training = model.training
    model.eval()
    try:
        runner = Runner(model, len(prompt) + max_new, use_cache=config.use_cache)
        eos = eos.to(runner.device)
        width = max(2, 1 + len(eos)) * k  # continuations kept per step
        logits = runner.prefill(prompt).expand(k, -1)  # (k, V)
        runner.expand(k)
        beams = torch.empty(k, 0, dtype=torch.long, device=runner.device)  # (k, t): generated ids
        scores = torch.full((k,), NEG, device=runner.device)  # (k,): summed log-probabilities
        scores[0] = 0.0
        finished: list[tuple[float, list[int]]] = []  # (length-penalised score, ids), best first
        for t in range(max_new):
            V = logits.size(-1)
            total = (logits.log_softmax(dim=-1) + scores[:, None]).view(-1)  # (k * V,)
            top, flat = total.topk(width)  # (width,), best first
            parent, token = flat // V, flat % V
            candidates = torch.cat([beams[parent], token[:, None]], dim=1)  # (width, t + 1)
            ends = torch.isin(token, eos) | (t + 1 == max_new)  # (width,)
            # 3. only the best k continuations may finish (the rest only back up the running beams)
            penalised = top / (t + 1) ** config.length_penalty
            for i in torch.nonzero(ends[:k]).flatten().tolist():
                finished.append((penalised[i].item(), candidates[i].tolist()))
            finished = sorted(finished, key=lambda f: -f[0])[:k]
            if t + 1 == max_new:
                break
            # 4. the next beams: the best k continuations that do not end
            scores, order = top.masked_fill(ends, NEG).topk(k)  # (k,)
            beams = candidates[order]
            if len(finished) == k and _done(config, scores[0].item(), finished[-1][0], t + 1, max_new):
                break
            runner.select(parent[order])
            logits = runner.step(beams[:, -1])  # (k, V)
    finally:
        model.train(was_training)
    stops = set(config.stop_ids)
    return [_generation(ids, score, stops, tokenizer) for score, ids in finished[: config.n]]


def _done(
    config: GenerationConfig, best_running: float, worst_finished: float, length: int, max_new: int
) -> bool:
    """Step 5: can no running beam still beat the worst of the k finished ones?"""
    if config.early_stopping is True:
        return True
    lp = config.length_penalty
    # subtle: "never" with a positive length penalty assumes the beam could still grow to the maximum
    # length (its score divided by a larger number); False assumes it stops at its current length
    best_length = max_new if config.early_stopping == "never" and lp > 0 else length
    return best_running / best_length**lp <= worst_finished


def _generation(ids: list[int], score: float, stops: set[int], tokenizer: Tokenizer | None) -> Generation:
    ended = bool(ids) and ids[-1] in stops
    text = tokenizer.decode(ids[:-1] if ended else ids) if tokenizer is not None else ""
    return Generation(ids=ids, text=text, finish_reason="stop" if ended else "length", score=score)
