"""``llmlab train``: pretrain a model preset on a corpus, with a preflight, checkpoints and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from llmlab.cli.console import console, err_console
from llmlab.errors import LLMLabError
from llmlab.training.trainer import TrainConfig


def load_config_file(path: Path) -> dict[str, Any]:
    """A YAML (or JSON) file of ``llmlab train`` options, with kebab- or snake-case keys."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LLMLabError(f"cannot read the config file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise LLMLabError(f"{path} must hold a mapping of option: value")
    return {k.replace("-", "_"): v for k, v in data.items()}


def train_command(
    preset: Annotated[
        str, typer.Option(help="Model preset (llmlab models list): gpt2/llama/rnn family.")
    ] = "gpt-mini",
    corpus: Annotated[
        str, typer.Option(help="Corpus dataset name, or a text file or folder.")
    ] = "shakespeare",
    tokenizer: Annotated[str, typer.Option(help="Tokenizer name or file (llmlab tokenizer list).")] = "gpt2",
    seq_len: Annotated[int, typer.Option(help="Context length of the training windows.")] = 256,
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 1000,
    batch_size: Annotated[int, typer.Option(help="Sequences per micro-batch.")] = 16,
    grad_accum: Annotated[int, typer.Option(help="Micro-batches per optimizer step.")] = 1,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 6e-4,
    warmup: Annotated[int, typer.Option(help="Linear warmup steps.")] = 100,
    precision: Annotated[
        str,
        typer.Option(help="fp32, bf16 or fp16 (autocast). bf16 ran about 2x fp32 on 2-core Xeons with AMX."),
    ] = "fp32",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    compile: Annotated[bool, typer.Option(help="torch.compile the model.")] = False,
    fsdp: Annotated[
        bool,
        typer.Option(help="Under torchrun: shard weights, gradients and optimizer state (FSDP2), not DDP."),
    ] = False,
    eval_every: Annotated[int, typer.Option(help="Steps between validation passes.")] = 250,
    ckpt_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1337,
    deterministic: Annotated[bool, typer.Option(help="Deterministic kernels: bit-exact resume.")] = False,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/PRESET-CORPUS).")] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue this run folder from its newest checkpoint, with the options it started with."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="YAML file of these options (flags set to other than their defaults win)."),
    ] = None,
    fit: Annotated[
        bool, typer.Option(help="Shrink batch/context to fit --memory-budget / --time-budget.")
    ] = False,
    time_budget: Annotated[
        float | None, typer.Option(help="Seconds the run may take: caps the steps.")
    ] = None,
    memory_budget: Annotated[float | None, typer.Option(help="GiB the run may use (with --fit).")] = None,
) -> None:
    """Pretrain a model preset on a corpus: tokenize once, preflight, train, checkpoint, export."""
    options = dict(locals())
    if resume is not None:  # the run's own options; only a longer --steps may change
        saved = _saved_options(resume)
        saved["steps"] = steps if steps != _defaults()["steps"].default else saved["steps"]
        run_training(**{**saved, "out": str(resume), "resume": True})
        return
    if config is not None:  # file values, then the flags the user actually changed
        from_file = load_config_file(config)
        unknown = sorted(set(from_file) - set(options))
        if unknown:
            raise LLMLabError(f"{config}: unknown option(s) {', '.join(unknown)}")
        defaults = {p: v.default for p, v in _defaults().items()}
        options = {k: (from_file.get(k, v) if v == defaults.get(k) else v) for k, v in options.items()}
    run_training(**{k: v for k, v in options.items() if k != "config"})


def _save_options(out: Path, o: dict[str, Any]) -> None:
    """The effective options (after --fit and --time-budget) for a later --resume."""
    import json

    from llmlab.assets.files import atomic_write_bytes

    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in o.items() if k != "resume"}
    saved.update(fit=False, time_budget=None)  # already applied: a resume keeps the same run
    atomic_write_bytes(out / "run.json", (json.dumps(saved, indent=2) + "\n").encode())


def _saved_options(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.is_file():
        raise LLMLabError(f"{run_dir} is not a run folder of llmlab train (no run.json); check the path")
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def _defaults() -> dict[str, Any]:
    import inspect

    return dict(inspect.signature(train_command).parameters)


def run_training(**o: Any):
    """The body of ``llmlab train``, callable from Python with the same keyword names.

    Under ``torchrun --nproc-per-node N`` every process runs this: they join the group first, so
    that rank 0 alone prepares the token files (the others wait, then read them), times the
    preflight and decides the batch, context and steps for all, speaks, and exports the model;
    each rank reads its own random windows (seed + 1000 x rank) and the gradients are averaged (DDP).
    """
    from llmlab.training import distributed

    info = distributed.setup(o["device"])
    quiet = console.quiet, err_console.quiet
    console.quiet = err_console.quiet = quiet[0] or not info.is_main  # one voice: rank 0's
    try:
        return _run_training(info, **o)
    finally:
        console.quiet, err_console.quiet = quiet
        distributed.teardown(info)


def _run_training(info: Any, **o: Any):  # noqa: ANN202
    from llmlab.data.batches import RandomWindows
    from llmlab.models import registry
    from llmlab.tokenizers.registry import load_tokenizer, save_tokenizer
    from llmlab.training import distributed
    from llmlab.training.corpus import prepare_tokens
    from llmlab.training.trainer import train

    out = Path(o["out"] or f"runs/{o['preset']}-{Path(o['corpus']).name}")
    import torch

    torch.manual_seed(o["seed"])  # the initial weights follow --seed
    tok = load_tokenizer(o["tokenizer"])
    eot = tok.special_tokens.get("<|endoftext|>")
    console.print(f"[bold]data[/bold]  {o['corpus']} with the {tok.name} tokenizer ({tok.vocab_size:,} ids)")
    from llmlab.assets.home import data_home

    # token files are shared by every run with the same corpus and tokenizer: <data home>/tokens/
    def tokenize():  # noqa: ANN202
        return prepare_tokens(o["corpus"], tok, data_home() / "tokens", seq_len=o["seq_len"], eot_id=eot)

    if info.is_main:
        tokens, bytes_per_token = tokenize()
    distributed.barrier(info)  # rank 0 has written the token files: the others find them ready
    if not info.is_main:
        tokens, bytes_per_token = tokenize()
    console.print(f"      {len(tokens.train):,} training and {len(tokens.val):,} validation tokens")
    model = registry.build_decoder(o["preset"], tok.vocab_size, o["seq_len"], action="llmlab train pretrains")
    plan = _plan(model, o) if info.is_main else None
    batch_size, seq_len, steps = distributed.broadcast(plan, info)  # every rank follows rank 0's preflight
    cfg = TrainConfig(
        steps=steps, batch_size=batch_size, grad_accum=o["grad_accum"], lr=o["lr"], min_lr=o["lr"] / 10,
        warmup=min(o["warmup"], steps // 10), precision=o["precision"], device=o["device"], compile=o["compile"],
        eval_every=min(o["eval_every"], steps), ckpt_every=min(o["ckpt_every"], steps), seed=o["seed"],
        deterministic=o["deterministic"], fsdp=o["fsdp"], out_dir=str(out),
    )  # fmt: skip
    fresh = not o["resume"] and not (out / "checkpoints").exists()
    if fresh and info.is_main:  # what `llmlab train --resume RUN` reads
        _save_options(out, {**o, "batch_size": batch_size, "seq_len": seq_len, "steps": steps})
    # subtle: each rank its own windows (seed + 1000 x rank never meets the validation seed + 1);
    # validation is the same windows on every rank, so its loss does not depend on the world size
    train_batches = RandomWindows(tokens.train, batch_size, seq_len, seed=o["seed"] + 1000 * info.rank)
    val_batches = RandomWindows(tokens.val, batch_size, seq_len, seed=o["seed"] + 1)
    result = train(
        model, cfg, train_batches, val_batches, resume=o["resume"], bytes_per_token=bytes_per_token
    )
    if cfg.fsdp:  # collective: every rank hands in its shards, rank 0 gets the full weights
        full = distributed.model_state(model, fsdp=True)
        if info.is_main:
            model = registry.build_decoder(
                o["preset"], tok.vocab_size, o["seq_len"], action="llmlab train exports"
            )
            model.load_state_dict(full)
    if not info.is_main:
        return result, model, tok
    export = out / "model"
    save_tokenizer(tok, export)
    if hasattr(model, "final_norm"):  # transformers' layout for the transformer decoders
        from llmlab.models.hf import save_pretrained

        save_pretrained(model, export)
        console.print(f"model: {export} (try: llmlab generate 'ROMEO:' --model {export})")
    from llmlab.path.results import record_run, train_figures

    command = f"llmlab train --preset {o['preset']} --corpus {o['corpus']} --steps {steps}"
    record_run("train", command, train_figures(result), run_dir=str(out))
    return result, model, tok


def _plan(model: Any, o: dict[str, Any]) -> tuple[int, int, int]:
    """The preflight on this machine: (batch size, context, steps), shrunk by ``--fit`` or a time budget."""
    from llmlab.training.preflight import GiB, fit, preflight

    batch_size, seq_len = o["batch_size"], o["seq_len"]
    with err_console.status("preflight: timing a training step on this machine..."):
        device = _resolve_device(o["device"])
        timed = 3 if o["time_budget"] else 1  # the step count follows from it: a median resists one slow step
        kwargs = dict(device=device, precision=o["precision"], grad_accum=o["grad_accum"], timed_steps=timed)
        mem = o["memory_budget"] * GiB if o["memory_budget"] else None
        if o["fit"]:
            check = fit(
                model, batch_size, seq_len, memory_budget_bytes=mem, time_budget_s=o["time_budget"], **kwargs
            )
            batch_size, seq_len = check.batch_size, check.seq_len
        else:
            check = preflight(
                model, batch_size, seq_len, time_budget_s=o["time_budget"], memory_budget_bytes=mem, **kwargs
            )
    console.print("[bold]preflight[/bold]\n" + check.summary())
    if o["resume"]:  # the run's shape was fixed when it started: keep its batch and context
        batch_size, seq_len = o["batch_size"], o["seq_len"]
    steps = o["steps"]
    if check.steps_in_budget is not None and check.steps_in_budget < steps:
        steps = max(1, int(check.steps_in_budget * 0.9))  # leave room for evaluation and checkpoints
        console.print(f"      the time budget caps the run at {steps} steps")
    return batch_size, seq_len, steps


def _resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"
