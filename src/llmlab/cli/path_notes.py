"""``llmlab notes ...`` (the Q&A notebook) and ``llmlab report ...`` (the weekly report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from llmlab.cli.console import console
from llmlab.path import notes, report, store

notes_app = typer.Typer(
    help="Your Q&A notebook: a question per topic, open until you answer it.",
    epilog="Example: [bold]llmlab notes add self-attention 'Why divide by sqrt(d_k)?'[/bold]",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
report_app = typer.Typer(
    help="Reports written from your plan, your lab runs and your notes.",
    epilog="Example: [bold]llmlab report week 1[/bold]",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _print_notes(rows, empty: str) -> None:
    if not rows:
        console.print(empty)
        return
    table = Table(show_lines=True)
    for col in ("id", "topic", "question", "answer"):
        table.add_column(col, overflow="fold")
    for n in rows:
        answer = escape(n["answer"]) if n["answer"] is not None else f"[yellow]{notes.OPEN_MARK}[/yellow]"
        table.add_row(str(n["id"]), n["topic"], escape(n["question"]), answer)
    console.print(table)


@notes_app.command(
    epilog="Examples:\n\n[bold]llmlab notes add self-attention 'Why divide by sqrt(d_k)?'[/bold]"
    "\n\n[bold]llmlab notes add tokenization 'Is a token a word?' --answer 'No: often a piece of one'[/bold]"
)
def add(
    topic: Annotated[str, typer.Argument(help="Topic id of the curriculum (llmlab path show).")],
    question: Annotated[str, typer.Argument(help="The question, in your words.")],
    answer: Annotated[str | None, typer.Option(help="The answer, if you have it already.")] = None,
) -> None:
    """Add a question to a topic (open until it has an answer)."""
    with store.opened() as db:
        note_id = notes.add_note(db, topic, question, answer)
    state = "answered" if answer else f"open; answer it with: llmlab notes answer {note_id} '...'"
    console.print(f"note #{note_id} on {topic} ({state})")


@notes_app.command(
    epilog="Example: [bold]llmlab notes answer 3 'It keeps the softmax from saturating'[/bold]"
)
def answer(
    note_id: Annotated[int, typer.Argument(help="The note's id (llmlab notes list).")],
    text: Annotated[str, typer.Argument(help="The answer.")],
) -> None:
    """Answer an open question (or replace an answer)."""
    with store.opened() as db:
        n = notes.answer_note(db, note_id, text)
    console.print(f"note #{n['id']} answered: {escape(n['question'])}", soft_wrap=True)


@notes_app.command("list", epilog="Example: [bold]llmlab notes list --topic self-attention --open[/bold]")
def list_(
    topic: Annotated[str | None, typer.Option(help="Only this topic's notes.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only unanswered questions.")] = False,
) -> None:
    """List notes, oldest first."""
    with store.opened() as db:
        rows = notes.list_notes(db, topic, open_only=open_only)
    _print_notes(rows, "No notes yet: llmlab notes add TOPIC 'your question'")


@notes_app.command(epilog="Example: [bold]llmlab notes search softmax temperature[/bold]")
def search(
    words: Annotated[list[str], typer.Argument(help="Words that must all appear in a question or answer.")],
) -> None:
    """Search questions and answers (full-text, best matches first)."""
    text = " ".join(words)
    with store.opened() as db:
        rows = notes.search_notes(db, text)
    _print_notes(rows, escape(f"No note mentions {text!r}."))


@notes_app.command("export", epilog="Example: [bold]llmlab notes export --out notes.md[/bold]")
def export_(
    out: Annotated[Path | None, typer.Option(help="Markdown file to write (default: print it).")] = None,
) -> None:
    """The whole notebook as Markdown, grouped by section and topic, open questions marked."""
    with store.opened() as db:
        text = notes.export_markdown(db)
    if out is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    from llmlab.assets.files import atomic_write_bytes

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, text.encode())
    console.print(f"wrote {out}")


@report_app.command(epilog="Example: [bold]llmlab report week 1 --out reports[/bold]")
def week(
    n: Annotated[int, typer.Argument(help="Week of the plan (week 1 starts on the plan's first day).")],
    out: Annotated[Path, typer.Option(help="Folder for week-N.md and week-N.html.")] = Path("reports"),
) -> None:
    """Write the week's report: topics covered, runs and their figures, insights, open questions, next week."""
    with store.opened() as db:
        md, html = report.write_week(db, n, out)
    console.print(f"wrote {md}\nwrote {html}")
