"""Sampling: draw each next token from the (transformed) distribution, n samples in one batch.

Unlike :func:`~llmlab.generation.greedy.greedy` (always the argmax, one sequence) this is the
decoding loop behind an OpenAI-style completion call::

    1. run the prompt once (KV cache of prompt + max_new_tokens slots, or the RNN state),
       then copy that one row n times: the n samples share the prompt's work;
    2. per step, for the B rows still running: the last position's logits (B, V)
       -> the transforms of :mod:`~llmlab.generation.pipeline` (penalties, bias, temperature,
       top-k, top-p, min-p) -> softmax -> one draw per row from a seeded torch.Generator
       (temperature 0: the argmax instead);
    3. decode each new token incrementally and check stop ids and stop sequences; a finished
       sample leaves the batch (its cache rows are dropped), the rest go back to 2;
    4. stop when every sample has finished or after ``max_new_tokens``.

:func:`stream` yields one :class:`~llmlab.generation.outputs.Step` per new token as it is made;
:func:`generate` runs the stream to the end (or beam search, for ``num_beams > 1``) and returns
one :class:`~llmlab.generation.outputs.Generation` per sample.

A prompt that leaves no room for ``max_new_tokens`` in the model's context is an error
(:class:`~llmlab.models.base.ContextLengthError`), never a silent truncation: the caller decides
what to cut. Recurrent models have no context limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from llmlab.generation.config import GenerationConfig, GenerationError
from llmlab.generation.outputs import Generation, Step
from llmlab.generation.pipeline import Transforms
from llmlab.generation.runner import Runner
from llmlab.generation.text import TextStream
from llmlab.models.base import ContextLengthError
from llmlab.tokenizers.base import Tokenizer

__all__ = ["GenerationConfig", "GenerationError", "check_request", "generate", "stream"]


def generate(
    model: nn.Module,
    prompt_ids: Sequence[int],
    config: GenerationConfig | None = None,
    tokenizer: Tokenizer | None = None,
) -> list[Generation]:
    """``config.n`` finished samples (or the best ``n`` beams when ``num_beams > 1``) for one prompt.

    Example::

        tok = load_pretrained("smollm2")
        cfg = GenerationConfig(max_new_tokens=40, temperature=0.7, top_p=0.9, seed=0, n=3)
        for g in generate(model, tok.encode("Once upon a time"), cfg, tok):
            print(g.text, g.finish_reason)
    """
    config = config or GenerationConfig()
    if config.num_beams > 1:
        from llmlab.generation.beam import beam_search

        return beam_search(model, prompt_ids, config, tokenizer)
    samples: dict[int, Generation] = {}
    for step in stream(model, prompt_ids, config, tokenizer):
        g = samples.setdefault(step.sample, Generation(ids=[], text="", finish_reason=""))
        g.ids.append(step.id)
        g.text += step.text
        g.logprobs.append(step.logprob)
        if config.record_top:
            g.steps.append(step)
        if step.finish_reason:
            g.finish_reason = step.finish_reason
    return [samples[i] for i in range(config.n)]


def stream(
    model: nn.Module,
    prompt_ids: Sequence[int],
    config: GenerationConfig | None = None,
    tokenizer: Tokenizer | None = None,
) -> Iterator[Step]:
    """Yield each new token as soon as it is chosen: per step, one :class:`Step` per running sample.

    Example::

        for step in stream(model, ids, GenerationConfig(temperature=0.8, seed=1), tok):
            print(step.text, end="", flush=True)
    """
    config = config or GenerationConfig()
    if config.num_beams > 1:
        raise GenerationError(
            "beam search cannot stream (the best beam is known only at the end); use generate()"
        )
    check_request(model, prompt_ids, config, tokenizer)
    return _stream(model, list(prompt_ids), config, tokenizer)


@torch.inference_mode()  # no_grad, and no autograd version counters either: ~8% faster per token on CPU
def _stream(model: nn.Module, prompt: list[int], config: GenerationConfig, tokenizer: Tokenizer | None):
    was_training = model.training
    model.eval()  # subtle: dropout left on would make even greedy decoding random
    try:
        runner = Runner(model, len(prompt) + config.max_new_tokens, use_cache=config.use_cache)
        transforms = Transforms(config, prompt, model.config.vocab_size, runner.device)
        generator = torch.Generator(device=runner.device)
        if config.seed is None:
            generator.seed()
        else:
            generator.manual_seed(config.seed)
        # 1. the prompt once, then n copies of its row
        logits = runner.prefill(prompt).expand(config.n, -1)  # (n, V): every sample starts from the prompt
        runner.expand(config.n)
        transforms.select(torch.zeros(config.n, dtype=torch.long, device=runner.device))
        rows = list(range(config.n))  # batch row -> sample number
        texts = [TextStream(tokenizer, config.stop) for _ in rows]
        stop_ids = set(config.stop_ids)
        for index in range(config.max_new_tokens):
            # 2. transform and draw (or take the argmax)
            logprobs = logits.log_softmax(dim=-1)  # (B, V): the model's own distribution
            z, records = transforms(logits, record=config.record_top, tokenizer=tokenizer)
            if config.greedy:
                tokens = z.argmax(dim=-1)  # (B,)
            else:
                tokens = torch.multinomial(z.softmax(dim=-1), 1, generator=generator).squeeze(1)  # (B,)
            transforms.update(tokens)
            chosen = logprobs.gather(1, tokens[:, None]).squeeze(1).tolist()
            # 3. text and stops, per row; finished rows leave the batch
            keep = []
            for b, token in enumerate(tokens.tolist()):
                sample, out = rows[b], texts[rows[b]]
                reason = "stop" if token in stop_ids else None
                text = out.finish() if reason else out.push(token)
                if out.stopped:
                    reason = "stop"
                elif reason is None and index == config.max_new_tokens - 1:
                    reason, text = "length", text + out.finish()
                yield Step(sample, index, token, text, chosen[b], reason, records[b] if records else [])
                if reason is None:
                    keep.append(b)
            if not keep:
                return
            if len(keep) < len(rows):
                kept = torch.tensor(keep, device=runner.device)
                runner.select(kept)
                transforms.select(kept)
                tokens, rows = tokens[kept], [rows[b] for b in keep]
            logits = runner.step(tokens)  # (B, V)
    finally:
        model.train(was_training)


def check_request(
    model: nn.Module, prompt_ids: Sequence[int], config: GenerationConfig, tokenizer: Tokenizer | None
) -> None:
    """The checks that need the model and tokenizer (the config checked itself when built)."""
    family = getattr(model.config, "family", "")
    if family in ("bert", "t5"):
        hint = " (for T5 use model.generate_greedy)" if family == "t5" else ""
        raise GenerationError(f"generation drives decoder-only language models, not a {family} model{hint}")
    vocab = model.config.vocab_size
    if len(prompt_ids) == 0:
        raise GenerationError("the prompt is empty: give at least one token (e.g. a BOS or <|endoftext|> id)")
    bad = [i for i in prompt_ids if not 0 <= i < vocab]
    if bad:
        raise GenerationError(f"prompt id {bad[0]} is outside the model's vocabulary of {vocab}")
    for what, ids in (("logit_bias", config.logit_bias), ("stop_ids", config.stop_ids)):
        bad = [i for i in ids if not 0 <= i < vocab]
        if bad:
            raise GenerationError(f"{what} id {bad[0]} is outside the model's vocabulary of {vocab}")
    if config.stop and tokenizer is None:
        raise GenerationError(
            "stop sequences are matched on decoded text: pass a tokenizer (or use stop_ids)"
        )
    total, limit = len(prompt_ids) + config.max_new_tokens, model.config.max_seq_len
    if hasattr(model, "new_cache") and total > limit:  # recurrent models have no context limit
        raise ContextLengthError(
            f"prompt of {len(prompt_ids)} tokens + max_new_tokens={config.max_new_tokens} = {total} tokens "
            f"exceeds the model's context of {limit}; keep the prompt's last "
            f"{max(limit - config.max_new_tokens, 0)} tokens or lower max_new_tokens"
        )
