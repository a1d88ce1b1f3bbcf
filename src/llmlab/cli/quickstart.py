"""``llmlab quickstart``: the executable table of contents, and the main job.

On a fresh machine it walks the whole path in about ten minutes on two CPU cores, saying what it
does at each step:

1. pull the default assets; 2. show the inventory;
3. train a byte-level BPE tokenizer (vocabulary 4,096) on the Shakespeare corpus and tokenize
   the corpus once into token files;
4. preflight: parameters, memory and the measured time per step of a small GPT on this machine,
   and how many steps fit in the time budget;
5. pretrain it (progress bar with loss, tokens/s and ETA), checkpointing as it goes;
6. print samples at three temperatures and the validation perplexity;
7. write the run folder's report (Markdown, HTML and the loss-curve PNG);
8. answer one question with SmolLM2-135M-Instruct running in our own LLaMA.

``--setup-only`` stops after step 2. The steps live in ``quickstart_run.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import llmlab
from llmlab.assets import AssetStore
from llmlab.assets.files import human_size
from llmlab.assets.store import default_assets
from llmlab.cli.assets import pull_with_progress, status_cell
from llmlab.cli.console import console

STEPS = 8


def quickstart(
    minutes: Annotated[float, typer.Option(help="Time budget for pretraining, in minutes.")] = 7.0,
    out: Annotated[Path, typer.Option(help="Run folder for the checkpoints and the report.")] = Path(
        "runs/quickstart"
    ),
    preset: Annotated[str, typer.Option(help="Model preset to pretrain (llmlab models list).")] = "gpt-mini",
    steps: Annotated[
        int | None, typer.Option(help="Exact number of steps (default: what fits in --minutes).")
    ] = None,
    setup_only: Annotated[
        bool, typer.Option(help="Only pull the default assets and show the inventory.")
    ] = False,
    chat: Annotated[bool, typer.Option(help="End with a question to SmolLM2-135M-Instruct.")] = True,
) -> None:
    """Pull the assets, train a tokenizer, pretrain a small GPT, sample it, report, and chat."""
    store = AssetStore()
    defaults = [a.name for a in default_assets()]
    console.rule(f"llmlab {llmlab.__version__} quickstart")
    console.print(f"Data home: [bold]{store.home}[/bold]  (set LLMLAB_HOME to move it)\n")
    total = 2 if setup_only else STEPS
    console.print(f"[bold]Step 1/{total}[/bold]  pulling the default assets: {', '.join(defaults)}")
    pull_with_progress(store, defaults)
    _inventory(store, total)
    if setup_only:
        console.print("Next: [bold]llmlab quickstart[/bold] without --setup-only pretrains a small GPT.")
        return
    from llmlab.cli.quickstart_run import pretrain_and_report

    pretrain_and_report(out=out, preset=preset, minutes=minutes, steps=steps, chat=chat, total=STEPS)


def _inventory(store: AssetStore, total: int) -> None:
    console.print(f"\n[bold]Step 2/{total}[/bold]  inventory")
    table = Table(show_lines=False)
    for col in ("asset", "status", "size", "licence", "used for"):
        table.add_column(col, overflow="fold")
    present = 0
    total_bytes = 0
    for asset in store.known():
        check = store.check(asset, deep=False)
        size = check.manifest.total_bytes if check.manifest else asset.approx_bytes
        if check.ok:
            present += 1
            total_bytes += size
        table.add_row(asset.name, status_cell(check), human_size(size), asset.licence, asset.used_for)
    console.print(table)
    console.print(
        f"{present} of {len(store.known())} assets present ({human_size(total_bytes)}). "
        "Pull the rest with [bold]llmlab assets pull --all[/bold]; check them with "
        "[bold]llmlab assets verify[/bold]."
    )
