"""What a comparison of architectures leaves behind: its result records, ``results.json``, the
two-panel ``compare.png`` and ``report.md``.

:func:`~llmlab.training.compare.compare_architectures` fills a :class:`CompareResult` (one
:class:`ArchResult` per architecture, each with its validation curve) and calls
:func:`write_report`. The figure puts the same curves on two x axes: training seconds (what a
second of this machine buys) and tokens seen (what a token buys). :func:`at_equal_tokens` reads
the second view as numbers: every curve interpolated at the token count the slowest run reached.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmlab.assets.files import atomic_write_bytes
from llmlab.errors import LLMLabError

if TYPE_CHECKING:
    from llmlab.training.compare import CompareConfig

COLORS = {"rnn": "#e07a5f", "lstm": "#3d5a80", "gru": "#2a9d8f", "gpt": "#9b5de5"}
COLUMNS = ("arch", "model", "parameters", "steps", "tokens", "seconds", "tokens/s", "val loss",
           "perplexity", "bits/byte")  # fmt: skip


@dataclass
class CurvePoint:
    """One evaluation: training seconds (evaluation excluded) and tokens before it."""

    seconds: float
    tokens: int
    step: int
    val_loss: float  # nats per token on the fixed validation batches


@dataclass
class ArchResult:
    """How one architecture did in its budget."""

    arch: str
    preset: str
    params: int
    steps: int
    tokens: int
    seconds: float  # training wall time, evaluation excluded
    tokens_per_s: float
    val_loss: float  # at the end of the budget
    val_ppl: float
    val_bpb: float  # bits per byte: comparable across tokenizers
    val_fingerprint: str  # sha256 (16 hex) of the validation ids this run was evaluated on
    cpu_load: float | None  # 1-minute load average at the end: above the core count, runs shared the CPU
    curve: list[CurvePoint] = field(default_factory=list)


@dataclass
class CompareResult:
    """Every architecture's result; ``results.json`` holds all of it."""

    config: CompareConfig
    tokenizer: str
    vocab_size: int
    bytes_per_token: float
    train_tokens: int
    val_tokens: int
    archs: list[ArchResult] = field(default_factory=list)
    status: str = "completed"  # or "interrupted" (Ctrl-C): the finished architectures only

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompareResult:
        from llmlab.training.compare import CompareConfig  # subtle: compare.py imports this module

        archs = [ArchResult(**{**a, "curve": [CurvePoint(**p) for p in a["curve"]]}) for a in d["archs"]]
        return cls(**{**d, "config": CompareConfig(**d["config"]), "archs": archs})


def save_results(result: CompareResult, path: Path) -> Path:
    atomic_write_bytes(path, (json.dumps(result.to_dict(), indent=1) + "\n").encode())
    return path


def load_results(path: Path) -> CompareResult:
    """A comparison back from its ``results.json``."""
    try:
        return CompareResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LLMLabError(f"cannot read comparison results from {path}: {e}") from None


def at_equal_tokens(result: CompareResult) -> tuple[int, dict[str, float]]:
    """The tokens the slowest run saw, and each run's validation loss there (linear interpolation
    between its evaluations): the per-token comparison, free of the speed differences."""
    if not result.archs:
        return 0, {}
    tokens = min(a.tokens for a in result.archs)
    losses = {
        a.arch: float(np.interp(tokens, [p.tokens for p in a.curve], [p.val_loss for p in a.curve]))
        for a in result.archs
    }
    return tokens, losses


def table_rows(result: CompareResult) -> list[list[str]]:
    """The summary table (see :data:`COLUMNS`), as text, for report.md and the terminal."""
    return [
        [a.arch, a.preset, f"{a.params:,}", f"{a.steps:,}", f"{a.tokens:,}", f"{a.seconds:.1f}",
         f"{a.tokens_per_s:,.0f}", f"{a.val_loss:.3f}", f"{a.val_ppl:.1f}", f"{a.val_bpb:.3f}"]
        for a in result.archs
    ]  # fmt: skip


def verdict(result: CompareResult) -> list[str]:
    """Two sentences: who learned fastest per second, and who learned most per token."""
    if not result.archs:
        return ["no architecture finished"]
    best = min(result.archs, key=lambda a: a.val_loss)
    tokens, losses = at_equal_tokens(result)
    most = min(losses, key=losses.__getitem__)
    at = ", ".join(f"{arch} {loss:.3f}" for arch, loss in losses.items())
    return [
        f"per second: {best.arch} ends lowest, {best.val_loss:.3f} nats/token after "
        f"{result.config.minutes_each:g} min of training each",
        f"per token: {most} learns most; validation loss at {tokens:,} tokens (what the slowest run "
        f"read): {at}",
    ]


def plot(result: CompareResult, path: Path) -> Path:
    """``compare.png``: validation loss against training seconds (left) and tokens seen (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    cfg = result.config
    fig, (by_time, by_tokens) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110, sharey=True)
    for a in result.archs:
        style = dict(color=COLORS.get(a.arch), marker="o", markersize=3, linewidth=1.6)
        size = f"{a.params / 1e6:.1f} M" if a.params >= 100_000 else f"{a.params:,}"
        label = f"{a.arch} ({a.preset}, {size} parameters)"
        by_time.plot([p.seconds for p in a.curve], [p.val_loss for p in a.curve], label=label, **style)
        by_tokens.plot([p.tokens for p in a.curve], [p.val_loss for p in a.curve], label=label, **style)
    uniform = math.log(result.vocab_size)
    for ax in (by_time, by_tokens):
        ax.axhline(uniform, color="gray", linestyle=":", linewidth=1,
                   label=f"uniform guess, ln {result.vocab_size:,} = {uniform:.2f}")  # fmt: skip
        ax.grid(alpha=0.3)
    by_time.set_title("per second of this machine: who learns fastest?")
    by_time.set_xlabel("training wall time (s; evaluation excluded)")
    by_time.set_ylabel("validation loss (nats per token)")
    by_tokens.set_title("per token: who learns most?")
    by_tokens.set_xlabel("tokens seen")
    by_tokens.xaxis.set_major_formatter(EngFormatter(sep=""))
    by_tokens.legend(fontsize=8)
    budget = f"{cfg.minutes_each:g} min" + (f" (or {cfg.steps} steps)" if cfg.steps else "")
    fig.suptitle(
        f"{' vs '.join(a.arch.upper() for a in result.archs)} on {Path(cfg.corpus).name}: {budget} of "
        f"training each, batches of {cfg.batch_size} x {cfg.seq_len} tokens, vocabulary {result.vocab_size:,}"
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown(result: CompareResult) -> str:
    """``report.md``: settings, the table, the verdict and a note when the CPU was shared."""
    cfg = result.config
    lines = [
        "# Architectures compared: same tokens, same time", "", "![validation loss](compare.png)", "",
        f"Corpus `{cfg.corpus}` with the `{result.tokenizer}` tokenizer ({result.vocab_size:,} ids, "
        f"{result.bytes_per_token:.2f} bytes per token): {result.train_tokens:,} training and "
        f"{result.val_tokens:,} validation tokens. Each architecture trained for {cfg.minutes_each:g} min "
        f"(evaluation not counted) on the same batches of {cfg.batch_size} x {cfg.seq_len} tokens, "
        f"AdamW at lr {cfg.lr:g} (linear warmup over {cfg.warmup} steps, then constant), dropout off, "
        f"seed {cfg.seed}; validation loss on the same {cfg.eval_batches} batches "
        f"({cfg.eval_batches * cfg.batch_size * cfg.seq_len:,} tokens) at {cfg.evals + 1} points.", "",
        "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(row) + " |" for row in table_rows(result)), "",
        *(f"- {line}" for line in verdict(result)), "",
    ]  # fmt: skip
    loads = [a.cpu_load for a in result.archs if a.cpu_load is not None]
    cores = os.cpu_count() or 1
    if loads and max(loads) > cores:
        lines += [f"The CPU was shared: the load average reached {max(loads):.1f} on {cores} cores, so the "
                  "seconds (and the steps each budget bought) are lower than on an idle machine.", ""]  # fmt: skip
    if result.status != "completed":
        lines += ["Interrupted: only the architectures above finished.", ""]
    return "\n".join(lines)


def write_report(result: CompareResult, out: Path) -> tuple[Path, Path]:
    """``compare.png`` and ``report.md`` in ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    png = plot(result, out / "compare.png")
    md = out / "report.md"
    atomic_write_bytes(md, markdown(result).encode())
    return png, md
