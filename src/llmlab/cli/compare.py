"""``llmlab compare-architectures``: RNN, LSTM, GRU and GPT on the same tokens for the same time.

A thin wrapper over :func:`llmlab.training.compare.compare_architectures`: the flags mirror
:class:`~llmlab.training.compare.CompareConfig` (a test checks the defaults agree), and the
command ends with the summary table and where the figure and report are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from llmlab.cli.console import console


def compare_command(
    archs: Annotated[
        str, typer.Option(help="Comma-separated: rnn, lstm, gru, gpt; NAME=PRESET picks another model.")
    ] = "rnn,lstm,gru,gpt",
    corpus: Annotated[
        str, typer.Option(help="Corpus dataset name, or a text file or folder.")
    ] = "shakespeare",
    tokenizer: Annotated[
        str | None,
        typer.Option(help="Tokenizer name or file (default: the quickstart's 4,096-id BPE, learned here)."),
    ] = None,
    minutes_each: Annotated[
        float, typer.Option(help="Training wall time per architecture, evaluation not counted.")
    ] = 1.5,
    seq_len: Annotated[int, typer.Option(help="Context of the training and validation windows.")] = 128,
    batch_size: Annotated[int, typer.Option(help="Windows per step and per validation batch.")] = 16,
    lr: Annotated[float, typer.Option(help="Learning rate, constant after the warmup.")] = 1e-3,
    warmup: Annotated[int, typer.Option(help="Steps of linear warmup.")] = 10,
    evals: Annotated[int, typer.Option(help="Validation points per run, at equal fractions of it.")] = 10,
    eval_batches: Annotated[int, typer.Option(help="Fixed validation batches per evaluation.")] = 8,
    steps: Annotated[
        int | None, typer.Option(help="Also stop each run after this many steps (quick checks).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the initial weights and the batches.")] = 1337,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    out: Annotated[Path, typer.Option(help="Run folder.")] = Path("runs/compare"),
) -> None:
    """Train RNN, LSTM, GRU and GPT language models on the same tokens for the same time; plot
    validation loss against seconds and against tokens."""
    options = {**locals(), "out": str(out)}  # first, while the locals are the flags only
    from llmlab.training.compare import CompareConfig, compare_architectures
    from llmlab.training.compare_report import COLUMNS, table_rows, verdict

    cfg = CompareConfig(**options)
    result = compare_architectures(cfg)
    table = Table(title=f"{cfg.minutes_each:g} min of training each on {Path(cfg.corpus).name}")
    for i, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if i < 2 else "right")
    for row in table_rows(result):
        table.add_row(*row)
    console.print(table)
    for line in verdict(result):
        console.print(line, soft_wrap=True)
    console.print(f"figure: {out / 'compare.png'}\nreport: {out / 'report.md'}  (all numbers: results.json)")
    from llmlab.path.results import record_run

    figures: dict[str, float | str] = {f"{r.arch}_val_loss": round(r.val_loss, 4) for r in result.archs}
    figures |= {f"{r.arch}_tokens_per_s": round(r.tokens_per_s) for r in result.archs}
    figures["lowest"] = min(result.archs, key=lambda r: r.val_loss).arch
    record_run("compare-architectures", f"llmlab compare-architectures --archs {archs} --minutes-each "
               f"{minutes_each:g}", figures, run_dir=str(out))  # fmt: skip
