"""``llmlab generate`` and ``llmlab chat``: decode with every knob, from any model llmlab can load."""

from __future__ import annotations

import sys
from typing import Annotated

import torch
import typer
from rich.table import Table

from llmlab.cli.console import console, err_console
from llmlab.cli.models import _load_any
from llmlab.errors import LLMLabError
from llmlab.generation import GenerationConfig, generate, stream
from llmlab.tokenizers.base import Tokenizer

DEFAULT_MODEL = "smollm2-135m-instruct"
# vocabulary size -> the tokenizer llmlab ships for it
TOKENIZER_BY_VOCAB = {49152: "smollm2", 50257: "gpt2", 100277: "cl100k_base"}


def _tokenizer(model: torch.nn.Module, name: str | None, model_path: str | None = None) -> Tokenizer:
    from pathlib import Path

    from llmlab.tokenizers.registry import load_tokenizer

    vocab = model.config.vocab_size
    beside = Path(model_path) / "tokenizer.json" if model_path else None
    if name is None and beside is not None and beside.is_file():  # a model exported by llmlab train
        name = str(beside)
    name = name or TOKENIZER_BY_VOCAB.get(vocab)
    if name is None:
        raise LLMLabError(
            f"which tokenizer goes with this model (vocabulary {vocab})? pass --tokenizer NAME or PATH"
        )
    tok = load_tokenizer(name)
    if tok.vocab_size > vocab:
        raise LLMLabError(f"tokenizer {name} has {tok.vocab_size} ids but the model only {vocab}")
    return tok


ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Pretrained name, HF folder or .gguf file.")]
TokOpt = Annotated[str | None, typer.Option(help="Tokenizer name or file (default: chosen by vocabulary).")]


def generate_command(
    prompt: Annotated[str, typer.Argument(help="The text to continue.")],
    model: ModelOpt = DEFAULT_MODEL,
    tokenizer: TokOpt = None,
    max_tokens: Annotated[int, typer.Option(help="Most new tokens.")] = 64,
    temperature: Annotated[float, typer.Option(help="0 = greedy; <1 sharper, >1 flatter.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Keep the k most likely tokens (0 = off).")] = 0,
    top_p: Annotated[float, typer.Option(help="Nucleus: smallest set with this much mass (1 = off).")] = 1.0,
    min_p: Annotated[float, typer.Option(help="Keep tokens with p >= min_p * p_max (0 = off).")] = 0.0,
    frequency_penalty: Annotated[float, typer.Option(help="OpenAI: minus count x this.")] = 0.0,
    presence_penalty: Annotated[float, typer.Option(help="OpenAI: minus this once a token appeared.")] = 0.0,
    repetition_penalty: Annotated[
        float, typer.Option(help="CTRL/HF: shrink repeated tokens (1 = off).")
    ] = 1.0,
    stop: Annotated[list[str] | None, typer.Option(help="Stop sequence (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible sampling.")] = None,
    n: Annotated[int, typer.Option("-n", help="Number of samples.")] = 1,
    beams: Annotated[int, typer.Option(help="Beam search with this many beams (1 = off).")] = 1,
    show_top: Annotated[
        int, typer.Option(help="Print the top k candidates before/after the knobs, per step.")
    ] = 0,
) -> None:
    """Continue a prompt with any sampling knob; prints each sample (streams when n = 1)."""
    with err_console.status(f"loading {model}..."):
        net = _load_any(model)
    tok = _tokenizer(net, tokenizer, model)
    config = GenerationConfig(
        max_new_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
        frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
        repetition_penalty=repetition_penalty, stop=list(stop or []), seed=seed, n=n, num_beams=beams,
        record_top=show_top, stop_ids=_eos_ids(tok),
    )  # fmt: skip
    ids = tok.encode(prompt)
    if n == 1 and beams == 1:
        console.print(prompt, end="", style="bold")
        steps = []
        for step in stream(net, ids, config, tokenizer=tok):
            console.print(step.text, end="", soft_wrap=True)
            steps.append(step)
        console.print()
        if show_top:
            _show_candidates(steps)
        _record_generate(model, config, len(steps))
        return
    samples = generate(net, ids, config, tokenizer=tok)
    for i, sample in enumerate(samples):
        console.rule(f"sample {i + 1} ({sample.finish_reason})")
        console.print(f"[bold]{prompt}[/bold]{sample.text}", soft_wrap=True)
    _record_generate(model, config, sum(len(s.ids) for s in samples))


def _record_generate(model: str, config: GenerationConfig, new_tokens: int) -> None:
    """Note this run in the learning path (the decoding lab), with its knobs."""
    from llmlab.path.results import record_run

    knobs = {"temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k}
    command = f"llmlab generate --model {model} " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in knobs.items()
    )
    record_run("generate", command, {**knobs, "new_tokens": new_tokens})


def _eos_ids(tok: Tokenizer) -> list[int]:
    return [i for t, i in tok.special_tokens.items() if t in ("<|endoftext|>", "<|im_end|>", "</s>")]


def _show_candidates(steps) -> None:
    table = Table(title="top candidates per step: the model, then after each knob", title_justify="left")
    table.add_column("step", justify="right")
    table.add_column("chosen")
    table.add_column("stage")
    table.add_column("candidates (probability)")
    for step in steps:
        for j, (stage, cands) in enumerate(step.top):
            kept = [c for c in cands if c.prob > 0]  # a knob that removed a token set its probability to 0
            cells = "  ".join(f"{c.text!r} {_prob(c.prob)}" for c in kept)
            if len(kept) < len(cands):
                cells += f"  (+{len(cands) - len(kept)} removed)" if kept else "(all removed)"
            table.add_row(str(step.index) if j == 0 else "", repr(step.text) if j == 0 else "", stage, cells)
    console.print(table)


def _prob(p: float) -> str:
    """0.77, 0.06 ... and small ones as 3e-03 rather than a misleading 0.00."""
    return f"{p:.2f}" if p >= 0.005 else f"{p:.0e}"


def chat_command(
    model: ModelOpt = DEFAULT_MODEL,
    message: Annotated[
        str | None, typer.Option(help="Ask one question and exit (else: interactive).")
    ] = None,
    system: Annotated[str | None, typer.Option(help="A system prompt.")] = None,
    temperature: Annotated[float, typer.Option(help="0 = greedy.")] = 0.2,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.")] = 0.9,
    max_tokens: Annotated[int, typer.Option(help="Longest answer.")] = 256,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible answers.")] = None,
) -> None:
    """Chat with SmolLM2-135M-Instruct running in our own LLaMA (or another SmolLM2-vocabulary model).

    Interactive: type a message and press Enter; /reset forgets the conversation, /quit leaves.
    """
    from llmlab.tokenizers.chat import load_chat_template

    with err_console.status(f"loading {model}..."):
        net = _load_any(model)
    if getattr(net.config, "vocab_size", None) != 49152:
        raise LLMLabError(
            f"chat needs a model with SmolLM2's vocabulary and chat template; {model} has neither"
        )
    tok = _tokenizer(net, "smollm2")
    template = load_chat_template("smollm2")
    config = GenerationConfig(
        max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop_ids=_eos_ids(tok)
    )
    history = [{"role": "system", "content": system}] if system else []
    interactive = message is None
    if interactive:
        err_console.print("chatting with", model, "- /reset to start over, /quit to leave")
    while True:
        text = message if not interactive else _read_line()
        if text is None or text.strip() == "/quit":
            return
        if text.strip() == "/reset":
            history = history[:1] if system else []
            continue
        history.append({"role": "user", "content": text})
        ids = template.encode(tok, history, add_generation_prompt=True)
        answer = []
        for step in stream(net, ids, config, tokenizer=tok):
            console.print(step.text, end="", soft_wrap=True)
            answer.append(step.text)
        console.print()
        history.append({"role": "assistant", "content": "".join(answer)})
        if not interactive:
            return


def _read_line() -> str | None:
    try:
        console.print("[bold]you>[/bold] ", end="")
        line = sys.stdin.readline()
    except KeyboardInterrupt:
        return None
    return line.rstrip("\n") if line else None
