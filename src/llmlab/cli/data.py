"""``llmlab data ...``: list the named datasets and look inside one, split by split.

Both commands are plain typed functions (``list_``, ``show``) that tests and notebooks can
call directly; they print through the shared rich console and raise
:class:`~llmlab.errors.LLMLabError` for user mistakes, which the root CLI prints as one line.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from llmlab import data
from llmlab.cli.console import console
from llmlab.data import ALL, DEFAULT_SEED, SPLITS, Record

app = typer.Typer(
    help="Named corpora and labelled sets with fixed, seeded train/validation/test splits.",
    epilog="Example: [bold]llmlab data show movie-reviews --split test --limit 3[/bold]",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

# The fields a preview shows, short ones first; `llmlab data` never prints a whole record.
PREVIEW_FIELDS = {
    "Document": ("id", "title", "text"),
    "LabelledText": ("id", "label", "score", "text"),
    "QAPair": ("id", "category", "question", "answer"),
    "Conversation": ("id", "topic", "turns"),
    "CodeTask": ("id", "entry_point", "prompt"),
}
LONG_FIELDS = {"text", "question", "answer", "turns", "prompt"}
SHORT_WIDTH = 30  # characters kept of a short field (title, category, ...) in the preview
MIN_LONG_WIDTH = 12  # a long field never gets fewer, even in a narrow terminal


@app.command("list", epilog="Example: [bold]llmlab data list[/bold]")
def list_() -> None:
    """List every dataset: its record type, split fractions and what it holds."""
    table = Table(title=f"Datasets (split seed {DEFAULT_SEED} unless --seed)", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("records")
    table.add_column("split % (train/val/test)")
    table.add_column("about")
    for info in data.list_datasets():
        about = info.description + (" [yellow](online only)[/yellow]" if info.online_only else "")
        if info.asset != info.name:
            about += f" (asset {info.asset})"
        table.add_row(
            f"[bold]{info.name}[/bold]", f"{info.schema.__name__} per {info.unit}",
            info.split_rule(compact=True), about,
        )  # fmt: skip
    console.print(table)
    console.print("Look inside one: [bold]llmlab data show movie-reviews --split test --limit 3[/bold]")


@app.command(epilog="Example: [bold]llmlab data show movie-reviews --split test --limit 3[/bold]")
def show(
    name: Annotated[str, typer.Argument(help="Dataset name, as in `llmlab data list`.")],
    split: Annotated[str, typer.Option(help="Split to preview: train, validation, test or all.")] = "train",
    limit: Annotated[int, typer.Option(min=0, help="How many records to preview.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the train/validation/test split.")] = DEFAULT_SEED,
) -> None:
    """Show a dataset: records per split, labels per split, and its first records."""
    ds = data.load(name, seed=seed)
    info = ds.info
    records = ds.split(split)  # checks the split name before the slower counting below
    console.print(f"[bold]{info.name}[/bold]: {info.description}")
    console.print(f"asset: {info.asset}   records: {info.schema.__name__} per {info.unit}   seed: {seed}")
    console.print(f"splits: {info.split_rule()}")

    counts = ds.counts()
    table = Table(title="Records per split", title_justify="left")
    table.add_column("split")
    table.add_column("records", justify="right")
    for s in (*SPLITS, ALL):
        table.add_row(s, f"{counts[s]:,}")
    console.print(table)

    if info.kind == "labelled":
        per_split = {s: ds.label_counts(s) for s in (*SPLITS, ALL)}
        table = Table(title="Labels per split", title_justify="left")
        table.add_column("label")
        for s in (*SPLITS, ALL):
            table.add_column(s, justify="right")
        for label in per_split[ALL]:
            table.add_row(label, *(f"{per_split[s].get(label, 0):,}" for s in (*SPLITS, ALL)))
        console.print(table)

    if limit > 0:
        console.print(_preview(records[:limit], f"First {min(limit, len(records))} records of {split}"))


def _preview(records: list[Record], title: str) -> Table:
    """One row per record, one column per preview field, each cell cut to one line that fits.

    Short fields (id, label, category, ...) keep their width; the long ones (text, turns,
    prompt, ...) share the rest of the terminal's width equally.
    """
    table = Table(title=title, title_justify="left")
    if not records:
        table.add_column("(no records)")
        return table
    names = PREVIEW_FIELDS[type(records[0]).__name__]
    cells = {
        n: [_one_line(getattr(r, n), None if n == "id" else SHORT_WIDTH) for r in records] for n in names
    }
    long = [n for n in names if n in LONG_FIELDS]
    short_width = sum(max(len(n), *(len(c) for c in cells[n])) for n in names if n not in LONG_FIELDS)
    borders = 3 * len(names) + 1  # "| " before and " " after every cell, one closing "|"
    budget = max(MIN_LONG_WIDTH, (console.width - short_width - borders) // max(1, len(long)))
    for n in long:
        cells[n] = [_one_line(getattr(r, n), budget) for r in records]
    for n in names:
        min_width = max(len(c) for c in cells[n]) if n == "id" else None  # ids are never cut
        table.add_column(n, no_wrap=True, overflow="ellipsis", min_width=min_width)
    for i in range(len(records)):
        # subtle: Text(), not a str, so brackets in the data are never read as rich markup
        table.add_row(*(Text(cells[n][i]) for n in names))
    return table


def _one_line(value: object, width: int | None) -> str:
    """A field as one line of at most ``width`` characters (turns are joined with " | ")."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    text = " | ".join(value) if isinstance(value, tuple) else str(value)
    text = " ".join(text.split())
    return text if width is None or len(text) <= width else text[: width - 3] + "..."
