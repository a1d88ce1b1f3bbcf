"""Steps 3-8 of ``llmlab quickstart``: tokenizer, token files, preflight, pretraining, samples,
report and one question to SmolLM2. Each step prints what it does and where its output goes."""

from __future__ import annotations

import math
import time
from pathlib import Path

from llmlab.cli.console import console, err_console
from llmlab.training.corpus import QUICKSTART_VOCAB as VOCAB

SEQ_LEN = 256
BATCH = 8
PROMPT = "ROMEO:"
TEMPERATURES = (0.5, 0.8, 1.1)
QUESTION = "In one sentence, what does a language model learn during pretraining?"
# docs/training.md, "The golden loss band": the default run (gpt-mini) measured on a 2-core machine
GOLDEN_PRESET, GOLDEN_STEPS, GOLDEN_LOSS, GOLDEN_WIDTH = "gpt-mini", 295, 5.16, 0.3


def band_verdict(preset: str, steps: int, val_loss: float) -> str:
    """Is this quickstart's validation loss normal? One sentence against the golden band."""
    low, high = GOLDEN_LOSS - GOLDEN_WIDTH, GOLDEN_LOSS + GOLDEN_WIDTH
    band = f"the golden band {low:.2f}-{high:.2f} nats (for {GOLDEN_STEPS} steps of {GOLDEN_PRESET})"
    if preset != GOLDEN_PRESET:
        return f"no golden band for {preset}: {band} applies to the default model only"
    if low <= val_loss <= high:
        if steps > 1.1 * GOLDEN_STEPS:
            return (
                f"inside {band}, after {steps} steps: normal, though this many steps usually end lower; "
                f"llmlab quickstart --steps {GOLDEN_STEPS} compares like with like"
            )
        return f"inside {band}: a normal run"
    if val_loss > high and steps < 0.9 * GOLDEN_STEPS:
        return (
            f"above {band}, as expected: only {steps} steps fitted in the time budget on this machine; "
            f"llmlab quickstart --steps {GOLDEN_STEPS} compares like with like"
        )
    if val_loss > high:
        return f"above {band} after {steps} steps: the model learned less than it should (docs/training.md)"
    if steps > 1.1 * GOLDEN_STEPS:
        return f"below {band}, as expected: {steps} steps fitted in the time budget on this machine"
    return f"below {band} after {steps} steps: check that validation text did not leak into training"


def _step(n: int, total: int, what: str) -> None:
    console.print(f"\n[bold]Step {n}/{total}[/bold]  {what}")


def pretrain_and_report(
    *, out: Path, preset: str, minutes: float, steps: int | None, chat: bool, total: int
) -> None:
    from llmlab.data.batches import RandomWindows
    from llmlab.generation import GenerationConfig, generate
    from llmlab.models import registry
    from llmlab.models.hf import save_pretrained
    from llmlab.tokenizers.registry import save_tokenizer
    from llmlab.training.corpus import prepare_tokens, quickstart_tokenizer
    from llmlab.training.preflight import preflight
    from llmlab.training.report import write_report
    from llmlab.training.trainer import TrainConfig, train

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _step(
        3,
        total,
        f"training a byte-level BPE tokenizer (vocabulary {VOCAB:,}) on Shakespeare, then tokenizing",
    )
    with err_console.status("counting pairs and merging..."):
        t0 = time.perf_counter()
        tok = quickstart_tokenizer("shakespeare")
    save_tokenizer(tok, out / "tokenizer")
    console.print(
        f"      {tok.vocab_size:,} tokens learned in {time.perf_counter() - t0:.1f} s -> {out / 'tokenizer'}"
    )
    example = "Shall I compare thee to a summer's day?"
    pieces = [tok.decode([i]) for i in tok.encode(example)]
    console.print(f"      {example!r} -> {len(pieces)} tokens: {' | '.join(pieces)}")
    eot = tok.special_tokens["<|endoftext|>"]
    # the tokenizer is new in every run, so its token files live in the run folder
    tokens, bytes_per_token = prepare_tokens("shakespeare", tok, out / "tokens", seq_len=SEQ_LEN, eot_id=eot)
    console.print(
        f"      token files: {len(tokens.train):,} training + {len(tokens.val):,} validation tokens "
        f"({bytes_per_token:.2f} bytes per token)"
    )

    _step(4, total, f"preflight: a {preset} model on this machine, {minutes:g} minutes of training")
    model = registry.build_decoder(preset, tok.vocab_size, SEQ_LEN)
    with err_console.status("timing three training steps..."):
        check = preflight(model, BATCH, SEQ_LEN, time_budget_s=minutes * 60, timed_steps=3)
    console.print("      " + check.summary().replace("\n", "\n      "))
    n_steps = steps or max(10, int(check.steps_in_budget * 0.9))

    _step(
        5,
        total,
        f"pretraining for {n_steps} steps of {BATCH} x {SEQ_LEN} tokens (Ctrl-C stops and keeps a checkpoint)",
    )
    cfg = TrainConfig(
        steps=n_steps, batch_size=BATCH, lr=1e-3, min_lr=1e-4, warmup=max(1, n_steps // 20),
        eval_every=max(1, n_steps // 5), eval_steps=10, ckpt_every=max(1, n_steps // 2), device="cpu",
        seed=1337, out_dir=str(out),
    )  # fmt: skip
    train_windows = RandomWindows(tokens.train, BATCH, SEQ_LEN, seed=1)
    val_windows = RandomWindows(tokens.val, BATCH, SEQ_LEN, seed=2)
    result = train(model, cfg, train_windows, val_windows, bytes_per_token=bytes_per_token)
    final = result.evals[-1] if result.evals else {}

    _step(6, total, f"samples at three temperatures, prompt {PROMPT!r}")
    model.eval()
    samples = []
    for temperature in TEMPERATURES:
        config = GenerationConfig(max_new_tokens=80, temperature=temperature, top_k=50, seed=7)
        text = generate(model, tok.encode(PROMPT), config, tokenizer=tok)[0].text
        samples.append((temperature, PROMPT + text))
        console.rule(f"temperature {temperature}", style="dim")
        console.print(PROMPT + text, soft_wrap=True)
    if final:
        console.print(
            f"\nvalidation: loss {final['val_loss']:.3f} nats/token, perplexity {final['val_ppl']:.1f} "
            f"(a uniform guess over {VOCAB:,} tokens would be {VOCAB:,}), {final.get('val_bpb', math.nan):.3f} bits per byte"
        )
        console.print(band_verdict(preset, result.step, final["val_loss"]))

    _step(7, total, "writing the report")
    export = out / "model"
    save_pretrained(model, export)
    save_tokenizer(tok, export)
    md, html_path, png = write_report(
        out,
        "llmlab quickstart: a small GPT pretrained on Shakespeare",
        _sections(preset, model, check, cfg, result, final, samples, time.perf_counter() - started, export),
    )
    console.print(f"      {md}\n      {html_path}\n      {png}")

    from llmlab.path.results import record_run, train_figures

    record_run("quickstart", f"llmlab quickstart --preset {preset} --steps {n_steps}", train_figures(result),
               run_dir=str(out))  # fmt: skip
    _step(8, total, "one question for SmolLM2-135M-Instruct, running in our own LLaMA")
    if chat:
        _ask_smollm2()
    else:
        console.print("      skipped (--no-chat)")
    console.print(
        f"\nDone in {(time.perf_counter() - started) / 60:.1f} min. Open [bold]{html_path}[/bold]; "
        f"sample more with [bold]llmlab generate '{PROMPT}' --model {export}[/bold]; "
        f"train longer with [bold]llmlab train --preset {preset}[/bold]."
    )


def _ask_smollm2() -> None:
    from llmlab.generation import GenerationConfig, stream
    from llmlab.models import registry
    from llmlab.tokenizers.chat import load_chat_template
    from llmlab.tokenizers.pretrained import load_pretrained

    with err_console.status("loading SmolLM2-135M-Instruct from its GGUF file..."):
        model = registry.load("smollm2-135m-instruct")
    tok, template = load_pretrained("smollm2"), load_chat_template("smollm2")
    ids = template.encode(tok, [{"role": "user", "content": QUESTION}], add_generation_prompt=True)
    console.print(f"[bold]you:[/bold] {QUESTION}\n[bold]SmolLM2:[/bold] ", end="")
    config = GenerationConfig(max_new_tokens=80, temperature=0, stop_ids=[tok.special_tokens["<|im_end|>"]])
    for step in stream(model, ids, config, tokenizer=tok):
        console.print(step.text, end="", soft_wrap=True)
    console.print()


def _sections(preset, model, check, cfg, result, final, samples, seconds, export) -> list[tuple[str, str]]:
    first = result.losses[0] if result.losses else math.nan
    figures = [
        "| what | value |",
        "|---|---|",
        f"| model | {preset}, {check.params:,} parameters |",
        f"| steps | {result.step} of {cfg.batch_size} x {check.seq_len} tokens ({result.tokens:,} tokens) |",
        f"| first / last training loss | {first:.3f} / {result.losses[-1]:.3f} |" if result.losses else "",
        f"| validation loss | {final.get('val_loss', math.nan):.3f} nats/token |",
        f"| against the golden band | {band_verdict(preset, result.step, final['val_loss'])} |"
        if final
        else "",
        f"| validation perplexity | {final.get('val_ppl', math.nan):.1f} |",
        f"| bits per byte | {final.get('val_bpb', math.nan):.3f} |",
        f"| speed | {check.tokens_per_second:,.0f} tokens/s (preflight) |",
        f"| wall time | {seconds / 60:.1f} min |",
    ]
    text = "\n\n".join(f"temperature {t}:\n\n```\n{s}\n```" for t, s in samples)
    return [
        ("Figures", "\n".join(line for line in figures if line)),
        ("Samples", text),
        ("Files", f"- checkpoints: {cfg.out_dir}/checkpoints\n- metrics: {cfg.out_dir}/metrics.jsonl\n"
                  f"- TensorBoard: {cfg.out_dir}/tensorboard\n- model (HF layout) and tokenizer: {export}"),
    ]  # fmt: skip
