"""RNN, LSTM, GRU and GPT trained on the same tokens for the same wall-clock time: a race.

What this adds over :func:`~llmlab.training.trainer.train`: the same training run, four times, under
rules that make the four curves comparable, and two views of them. *Validation loss against
seconds* answers "per second of CPU, which architecture learns fastest?"; *validation loss against
tokens seen* answers "per token, which learns most?" (sample efficiency). A recurrent network must
step through a window one token at a time, each step a small matrix product that waits for the
previous one; a transformer handles all positions of a window in a few large products, so on the
same hardware it usually reads many more tokens per second (Vaswani et al., 2017, section 4).

The fairness rules, the same for every architecture:

1. the same token file (corpus and tokenizer) and the same stream of training batches: step k of
   every run reads the same windows (one :class:`~llmlab.data.batches.RandomWindows` seed);
2. models of a comparable size: the ``*-small`` presets, about 4 M parameters each at 4,096 ids;
3. the same initial-weight seed, optimizer (AdamW, ``train()``'s defaults, gradients clipped to 1)
   and learning-rate rule: a linear warmup over ``warmup`` steps, then a constant rate. The number of
   steps a time budget buys is unknown in advance, so a cosine decay could not be placed;
4. dropout off: every run reads far less than one epoch, where dropout only slows learning;
5. the same budget, ``minutes_each``, on a clock that starts with the first step and pauses
   while we evaluate: neither the trainer's setup nor evaluation eats into training time (the
   trainer's per-step logging does count, as it would in any run);
6. the same fixed validation batches, evaluated at the start and at ``evals`` equal fractions of
   the budget; each architecture records a fingerprint of the ids it was evaluated on.

How a time budget stops ``train()``, which has no deadline: it gets an unreachable step count and a
callback that raises :class:`_BudgetSpent` once the clock runs out; the run folder keeps what the
trainer wrote (``metrics.jsonl``, TensorBoard files). Plots and
the Markdown report are in :mod:`llmlab.training.compare_report`.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from torch import nn

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer
from llmlab.training.compare_report import ArchResult, CompareResult, CurvePoint, save_results, write_report
from llmlab.training.distributed import DEVICES

# architecture -> the preset it trains by default (``--archs lstm=lstm-debug`` picks another)
ARCHS: dict[str, str] = {"rnn": "rnn-small", "lstm": "lstm-small", "gru": "gru-small", "gpt": "gpt-small"}
# gpt-small, not the quickstart's gpt-mini (12.3 M), so that all four have about 4.2 M parameters
_UNREACHABLE = 10**9  # subtle: the budget, not the trainer's step count, ends every run


@dataclass
class CompareConfig:
    """One comparison. ``llmlab compare-architectures`` flags mirror these fields (kebab-case)."""

    archs: tuple[str, ...] = tuple(ARCHS)  # names of ARCHS, each optionally NAME=PRESET
    corpus: str = "shakespeare"  # corpus dataset name, or a text file or folder
    tokenizer: str | None = None  # name or file; None: the quickstart's BPE (4,096 ids) learned here
    minutes_each: float = 1.5  # training wall time per architecture (evaluation not counted)
    seq_len: int = 128  # context of the training and validation windows
    batch_size: int = 16  # windows per step (and per validation batch)
    lr: float = 1e-3  # peak learning rate, constant after warmup
    warmup: int = 10  # steps of linear warmup
    evals: int = 10  # validation points per run, at equal fractions of the budget (plus one at 0)
    eval_batches: int = 8  # fixed validation batches per evaluation
    steps: int | None = None  # optional cap on the steps per run (tests; the budget still applies)
    seed: int = 1337  # initial weights, training batches (validation batches use seed + 1)
    device: str = "auto"  # "auto" (CUDA, then MPS, then CPU), "cpu", "cuda" or "mps"
    out: str = "runs/compare"  # the run folder

    def __post_init__(self) -> None:
        if isinstance(self.archs, str):  # "rnn,lstm" from a flag
            self.archs = tuple(a.strip() for a in self.archs.split(",") if a.strip())
        self.archs = tuple(self.archs)
        checks = [
            (self.minutes_each > 0, f"minutes_each must be > 0, got {self.minutes_each}"),
            (min(self.seq_len, self.batch_size, self.evals, self.eval_batches) >= 1,
             "seq_len, batch_size, evals and eval_batches must be >= 1"),
            (self.steps is None or self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.lr > 0 and self.warmup >= 0, "lr must be > 0 and warmup >= 0"),
            (self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, got {self.device!r}"),
        ]  # fmt: skip
        for ok, problem in checks:
            if not ok:
                raise LLMLabError(f"bad comparison config: {problem}")
        self.models()  # unknown names fail here, before any work

    def models(self) -> list[tuple[str, str]]:
        """``[(arch, preset), ...]`` from ``archs``: ``"lstm"`` or ``"lstm=lstm-debug"``."""
        if not self.archs:
            raise LLMLabError(f"no architectures to compare: choose from {', '.join(ARCHS)}")
        pairs = [(s.split("=", 1) + [""])[:2] for s in self.archs]
        pairs = [(a.strip(), p.strip() or ARCHS.get(a.strip(), "")) for a, p in pairs]
        for arch, _ in pairs:
            if arch not in ARCHS:
                raise LLMLabError(
                    f"unknown architecture {arch!r}: choose from {', '.join(ARCHS)} "
                    "(NAME=PRESET changes the model, e.g. lstm=lstm-debug)"
                )
        names = [a for a, _ in pairs]
        if len(set(names)) < len(names):
            raise LLMLabError(f"an architecture is listed twice in {','.join(self.archs)}")
        return pairs


def build_model(preset: str, vocab_size: int, seq_len: int) -> nn.Module:
    """A decoder preset resized to the vocabulary and context, with dropout off (rule 4)."""
    from llmlab.models import registry

    return registry.build_decoder(preset, vocab_size, seq_len, action="compare", dropout=0.0)


def validation_batches(val_tokens: Any, cfg: CompareConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The fixed validation set: ``eval_batches`` random windows, seed ``cfg.seed + 1``, drawn once."""
    from llmlab.data.batches import RandomWindows

    windows = RandomWindows(val_tokens, cfg.batch_size, cfg.seq_len, seed=cfg.seed + 1)
    return [next(windows) for _ in range(cfg.eval_batches)]  # each (x, y), (B, T)


def fingerprint(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> str:
    """16 hex digits of sha256 over every id of the batches, inputs and targets."""
    h = hashlib.sha256()
    for x, y in batches:
        h.update(x.cpu().numpy().tobytes() + y.cpu().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def evaluate(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, str]:
    """Mean loss over ``batches`` (nats per token) and the fingerprint of the ids actually fed."""
    device, was_training = next(model.parameters()).device, model.training
    model.eval()
    fed = [(x.to(device), y.to(device)) for x, y in batches]
    total = sum(model(x, targets=y).loss.float().item() for x, y in fed)
    model.train(was_training)
    return total / len(fed), fingerprint(fed)


class _BudgetSpent(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by the callback to end a run: its clock reached the budget (or the step cap)."""


class _Clock:
    """Training wall time: runs while the trainer works, paused while we evaluate."""

    def __init__(self) -> None:
        self.seconds, self._since = 0.0, time.perf_counter()

    def pause(self) -> float:
        self.seconds += time.perf_counter() - self._since
        return self.seconds

    def resume(self) -> None:
        self._since = time.perf_counter()


def compare_architectures(
    cfg: CompareConfig, *, tokenizer: Tokenizer | None = None, progress: bool = True
) -> CompareResult:
    """Train each of ``cfg.archs`` for ``cfg.minutes_each`` and write ``cfg.out``:

    ``results.json`` (this result), ``compare.png`` (loss vs seconds and vs tokens), ``report.md``,
    ``tokenizer/`` (when trained here) and one trainer run folder per architecture. ``tokenizer``
    (an object) overrides ``cfg.tokenizer``. ``results.json`` is rewritten after every
    architecture, so an interrupted comparison keeps the finished ones.
    """
    from llmlab.assets.home import data_home
    from llmlab.models import registry
    from llmlab.tokenizers.registry import load_tokenizer, save_tokenizer
    from llmlab.training.corpus import QUICKSTART_VOCAB, prepare_tokens, quickstart_tokenizer

    say = Console(highlight=False, markup=False, quiet=not progress)
    out, models = Path(cfg.out), cfg.models()
    for _, preset in models:  # a bad preset fails now, not after the first runs
        registry.decoder_config(preset, action="compare")
    if tokenizer is None and cfg.tokenizer:
        tokenizer = load_tokenizer(cfg.tokenizer)
    if tokenizer is None:
        say.print(f"tokenizer: learning a byte-level BPE of {QUICKSTART_VOCAB:,} ids on {cfg.corpus}")
        tokenizer = quickstart_tokenizer(cfg.corpus)
        save_tokenizer(tokenizer, out / "tokenizer")
    eot = tokenizer.special_tokens.get("<|endoftext|>")
    tokens, bytes_per_token = prepare_tokens(
        cfg.corpus, tokenizer, data_home() / "tokens", seq_len=cfg.seq_len, eot_id=eot
    )
    say.print(
        f"data: {cfg.corpus}, {tokenizer.name} tokenizer ({tokenizer.vocab_size:,} ids): "
        f"{len(tokens.train):,} training and {len(tokens.val):,} validation tokens"
    )
    val = validation_batches(tokens.val, cfg)
    result = CompareResult(
        cfg, tokenizer.name, tokenizer.vocab_size, bytes_per_token, len(tokens.train), len(tokens.val)
    )
    for i, (arch, preset) in enumerate(models, 1):
        model = _fresh_model(preset, tokenizer.vocab_size, cfg)
        n = sum(p.numel() for p in model.parameters())
        say.print(f"[{i}/{len(models)}] {arch}: {preset}, {n:,} parameters, {cfg.minutes_each:g} min")
        arch_result = _race(arch, preset, model, tokens.train, val, bytes_per_token, cfg, progress)
        if arch_result is None:  # Ctrl-C: keep what finished, then stop
            result.status = "interrupted"
            say.print(f"interrupted: keeping the {len(result.archs)} finished architecture(s)")
            break
        result.archs.append(arch_result)
        save_results(result, out / "results.json")
    save_results(result, out / "results.json")
    write_report(result, out)
    return result


def _device(cfg: CompareConfig) -> str:
    if cfg.device != "auto":
        return cfg.device
    return "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"


def _fresh_model(preset: str, vocab_size: int, cfg: CompareConfig) -> nn.Module:
    torch.manual_seed(cfg.seed)  # rule 3: every architecture starts from the same seed
    return build_model(preset, vocab_size, cfg.seq_len).to(_device(cfg))


def _race(arch, preset, model, train_tokens, val, bytes_per_token, cfg, progress) -> ArchResult | None:
    """One architecture for one budget; None when Ctrl-C stopped it.

    1. evaluate the untrained model (the point at 0 s, 0 tokens);
    2. train; after every step the callback stops the clock, evaluates when the run has crossed
       the next of ``evals`` equal fractions of its budget, and ends the run at the budget;
    3. collect the curve and the final figures.
    """
    from llmlab.data.batches import RandomWindows
    from llmlab.training.trainer import StepInfo, TrainConfig, train

    budget, run_dir = cfg.minutes_each * 60, Path(cfg.out) / arch
    loss, fp = evaluate(model, val)
    curve = [CurvePoint(0.0, 0, 0, loss)]
    bar = Progress(
        TextColumn(f"  {arch:<5}"), BarColumn(), TextColumn("{task.fields[clock]}  step {task.fields[step]}"),
        TextColumn("val {task.fields[val]}"), TextColumn("{task.fields[tps]} tok/s"),
        console=Console(stderr=True), disable=not progress,
    )  # fmt: skip
    task = bar.add_task(arch, total=1.0, clock="0 s", step=0, val=f"{loss:.3f}", tps="-")
    clock, evals_done, last = _Clock(), 0, None

    def on_step(info: StepInfo) -> None:
        nonlocal fp, evals_done, last
        seconds, last = clock.pause(), info
        if info.step == 1:
            # subtle: the clock starts with the first step (the trainer timed it), not with train():
            # the trainer's setup is not training, and only the first run would pay the imports
            clock.seconds = seconds = info.tokens / info.tokens_per_s if info.tokens_per_s else seconds
            if seconds > budget:
                raise LLMLabError(
                    f"minutes_each={cfg.minutes_each:g} ({budget:.3g} s) is too short to take one step: "
                    f"the first step of {arch} took {seconds:.2f} s; give each architecture a few minutes"
                )
        done = max(seconds / budget, info.step / cfg.steps if cfg.steps else 0.0)  # fraction of the run
        if done * cfg.evals >= evals_done + 1:  # crossed the next evaluation mark (or several)
            val_loss, fp = evaluate(info.model, val)
            curve.append(CurvePoint(seconds, info.tokens, info.step, val_loss))
            evals_done = min(cfg.evals, math.floor(done * cfg.evals))
        bar.update(task, completed=min(done, 1.0), clock=f"{seconds:.0f}/{budget:.0f} s", step=info.step,
                   val=f"{curve[-1].val_loss:.3f}", tps=f"{info.tokens / seconds:,.0f}")  # fmt: skip
        if done >= 1.0:
            raise _BudgetSpent
        clock.resume()

    tcfg = TrainConfig(
        steps=_UNREACHABLE, batch_size=cfg.batch_size, lr=cfg.lr, min_lr=cfg.lr, warmup=cfg.warmup,
        schedule="constant", eval_every=0, ckpt_every=0, device=_device(cfg),
        seed=cfg.seed, progress=False, out_dir=str(run_dir),
    )  # fmt: skip
    batches = RandomWindows(train_tokens, cfg.batch_size, cfg.seq_len, seed=cfg.seed)  # rule 1
    with bar:
        try:
            clock.resume()
            train(model, tcfg, batches, callbacks=[on_step])  # progress=False: the bar above is ours
            return None  # train() returned: only Ctrl-C does that before the unreachable step
        except _BudgetSpent:
            pass
    final = curve[-1].val_loss
    return ArchResult(
        arch=arch, preset=preset, params=sum(p.numel() for p in model.parameters()), steps=last.step,
        tokens=last.tokens, seconds=clock.seconds, tokens_per_s=last.tokens / clock.seconds, val_loss=final,
        val_ppl=math.exp(min(final, 700.0)), val_bpb=final / math.log(2) / bytes_per_token,
        val_fingerprint=fp, cpu_load=os.getloadavg()[0] if hasattr(os, "getloadavg") else None, curve=curve,
    )  # fmt: skip
