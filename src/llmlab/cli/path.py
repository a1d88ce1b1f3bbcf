"""``llmlab path ...``: a dated study plan for a track, ticked off by hand or by your lab runs.

Each command is a thin typed function over :mod:`llmlab.path` (plan, progress, transfer); the
notebook (``llmlab notes``) and the weekly report (``llmlab report``) live in
:mod:`llmlab.cli.path_notes` and are re-exported here, so ``main.py`` imports one module.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from llmlab.cli.console import console
from llmlab.cli.path_notes import notes_app, report_app  # noqa: F401 - registered by main.py
from llmlab.path import plan as plans
from llmlab.path import progress, store, transfer
from llmlab.path.render import bar

app = typer.Typer(
    help="Your learning path: a day-by-day plan for a track, ticked off by hand or by your lab runs.",
    epilog="Example: [bold]llmlab path start --track beginner --hours-per-day 2[/bold]   (then: llmlab path today)",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

TICK = {"done": "[green]✓[/green]", "skipped": "[dim]–[/dim]", "todo": "☐"}


def _name(t) -> str:
    return t["title"] + (f" (part {t['part']}/{t['parts']})" if t["parts"] > 1 else "")


def _print_task(t, curriculum, *, details: bool = True, when: bool = False) -> None:
    day = f"{t['date']}  " if when else ""
    console.print(
        f" {TICK[t['status']]} {day}[bold]{escape(_name(t))}[/bold]  {t['hours']:g} h  [dim]{t['section']}[/dim]"
    )
    if t["status"] == "done" and t["note"]:
        console.print(f"     note: {escape(t['note'])}", soft_wrap=True)
    if not details or curriculum is None:
        return
    try:
        topic = curriculum.topic(t["topic"])
    except Exception:  # noqa: BLE001 - a topic no longer in the curriculum: show what the plan holds
        return
    for r in topic.resources:
        console.print(f"     {r.kind}: {escape(r.title)}  [dim]{escape(r.ref)}[/dim]", soft_wrap=True)
    for lab in topic.labs:
        state = "" if lab.status == "available" else "  [dim](planned: not built yet)[/dim]"
        console.print(f"     lab: [bold]{escape(lab.command)}[/bold]{state}", soft_wrap=True)


def _curriculum(plan):
    try:
        return progress.curriculum_for(plan)
    except Exception:  # noqa: BLE001 - the plan's tasks still show without resources
        return None


@app.command(
    epilog="Examples:\n\n[bold]llmlab path start --track beginner[/bold]   (from today, the fewest hours a day that fit)"
    "\n\n[bold]llmlab path start --track advanced --hours-per-day 2 --days-per-week 6 --replace[/bold]"
)
def start(
    track: Annotated[str, typer.Option(help="Track id: beginner or advanced.")] = "beginner",
    from_date: Annotated[
        str | None, typer.Option("--from", help="First study day, YYYY-MM-DD (default: today).")
    ] = None,
    hours_per_day: Annotated[
        float | None,
        typer.Option(help="Study hours per study day, 0 < H <= 16 (default: the fewest that fit the track)."),
    ] = None,
    days_per_week: Annotated[
        int, typer.Option(help="Study days in each 7-day week of the plan; the rest are free.")
    ] = 5,
    replace: Annotated[
        bool, typer.Option(help="Replace the current plan (notes and runs are kept).")
    ] = False,
    strict: Annotated[bool, typer.Option(help="Fail if the track does not fit in its weeks.")] = False,
    curriculum: Annotated[
        Path | None, typer.Option(help="A curriculum folder of your own (default: llmlab's).")
    ] = None,
) -> None:
    """Write a dated day-by-day plan: the track's topics in prerequisite order, within your daily budget.

    A topic longer than one day's budget is split into parts over consecutive study days."""
    from llmlab.path.curriculum import load_curriculum

    first = store.parse_date(from_date, "--from") if from_date else store.today()
    cur = load_curriculum(curriculum)
    with store.opened() as db:
        result = plans.start_plan(
            db, cur, track, first, hours_per_day, days_per_week,
            replace=replace, strict=strict, curriculum_folder=curriculum,
        )  # fmt: skip
    info = cur.track(track)
    last = result.tasks[-1].date if result.tasks else first
    console.print(
        f"[bold]{escape(info.title)}[/bold]: {len({t.topic for t in result.tasks})} topics, "
        f"{sum(t.minutes for t in result.tasks) / 60:.1f} h, from {first} to {last} "
        f"({days_per_week} days a week, {result.hours_per_day:g} h a day)"
    )
    if result.warning:
        console.print(f"[yellow]note:[/yellow] {escape(result.warning)}", soft_wrap=True)
    console.print(
        "Today's tasks: [bold]llmlab path today[/bold]; the whole plan: [bold]llmlab path show[/bold]"
    )


@app.command(epilog="Example: [bold]llmlab path today[/bold]")
def today() -> None:
    """Today's tasks with their resources and lab commands, and your open questions."""
    from llmlab.path.notes import open_questions

    now = store.today()
    with store.opened() as db:
        plan = store.require_plan(db)
        tasks = store.plan_tasks(db, plan["id"])
        questions = open_questions(db)
    cur = _curriculum(plan)
    start = date.fromisoformat(plan["start"])
    mine = [t for t in tasks if t["date"] == now.isoformat()]
    console.print(
        f"[bold]{now:%A} {now}[/bold], week {plans.week_of(now, start)} of your {plan['track']} plan"
    )
    if now < start:
        console.print(f"Your plan starts on {start}.")
    elif not mine:
        console.print("No study planned today.")
    for t in mine:
        _print_task(t, cur)
    missed = [t for t in tasks if t["status"] == "todo" and t["date"] < now.isoformat()]
    if missed:
        console.print(
            f"[yellow]{len(missed)} task(s) from past days are not done[/yellow]: "
            "[bold]llmlab path replan[/bold] moves them forward from today"
        )
    upcoming = [t for t in tasks if t["status"] == "todo" and t["date"] > now.isoformat()]
    if not mine and upcoming:
        console.print(f"Next study day: {upcoming[0]['date']} ({escape(_name(upcoming[0]))})")
    if questions:
        console.print(f"\n[bold]Open questions[/bold] ({len(questions)}):")
        for n in questions:
            console.print(f"  ❓ #{n['id']} {escape(n['question'])}  [dim]{n['topic']}[/dim]", soft_wrap=True)


@app.command("next", epilog="Example: [bold]llmlab path next[/bold]")
def next_() -> None:
    """The next unfinished task of the plan, with its resources and lab commands."""
    with store.opened() as db:
        plan = store.require_plan(db)
        todo = [t for t in store.plan_tasks(db, plan["id"]) if t["status"] == "todo"]
    if not todo:
        console.print("Every task of the plan is done or skipped. Well done! (llmlab path status)")
        return
    _print_task(todo[0], _curriculum(plan), when=True)


@app.command(
    epilog="Example: [bold]llmlab path done backpropagation --note 'chain rule, one layer at a time'[/bold]"
)
def done(
    topic: Annotated[str, typer.Argument(help="Topic id, as `llmlab path show` lists it.")],
    note: Annotated[str | None, typer.Option(help="A line about what you did or learned.")] = None,
    all_parts: Annotated[
        bool, typer.Option("--all", help="Tick every remaining part of a long topic.")
    ] = False,
) -> None:
    """Tick a topic off: its earliest unfinished part (or every part with --all)."""
    with store.opened() as db:
        ticked = progress.mark_done(db, topic, note=note, all_parts=all_parts)
        plan = store.require_plan(db)
        todo = [t for t in store.plan_tasks(db, plan["id"]) if t["status"] == "todo"]
    for t in ticked:
        console.print(f" {TICK['done']} {escape(_name(t))} (planned for {t['date']})")
    console.print(
        f"Next: {escape(_name(todo[0]))} on {todo[0]['date']}"
        if todo
        else "That was the last task of the plan!"
    )


@app.command(epilog="Example: [bold]llmlab path skip wordpiece-and-unigram[/bold]")
def skip(topic: Annotated[str, typer.Argument(help="Topic id, as `llmlab path show` lists it.")]) -> None:
    """Skip a topic: every unfinished part of it (it stays in the plan, marked skipped)."""
    with store.opened() as db:
        skipped = progress.mark_skipped(db, topic)
    console.print(
        f"skipped {escape(_name(skipped[0]))}" + (f" ({len(skipped)} parts)" if len(skipped) > 1 else "")
    )


@app.command(epilog="Example: [bold]llmlab path replan[/bold]   (after missed days)")
def replan() -> None:
    """Move unfinished tasks forward from today; completed work stays exactly as it was."""
    with store.opened() as db:
        result = plans.replan(db)
    console.print(
        f"moved {result.moved} unfinished task(s) ({result.missed} overdue) from {store.today()} on; "
        f"the plan now ends on {result.last}"
    )


@app.command(epilog="Example: [bold]llmlab path status[/bold]")
def status() -> None:
    """Per-section progress bars, your study streak, hours done vs planned."""
    with store.opened() as db:
        plan = store.require_plan(db)
        s = progress.summary(db, plan)
        sections = progress.section_progress(db, plan, _curriculum(plan))
    table = Table(title=f"{plan['track'].capitalize()} plan from {plan['start']}", title_justify="left")
    for col in ("section", "progress", "hours", "topics"):
        table.add_column(col)
    for p in sections:
        table.add_row(
            escape(p.title),
            bar(p.fraction),
            f"{p.done_hours:.1f} / {p.planned_hours:.1f}",
            f"{p.topics_done}/{p.topics}",
        )
    console.print(table)
    console.print(f"streak: {s.streak} study day{'s' if s.streak != 1 else ''} in a row   week: {s.week}")
    console.print(
        f"hours: {s.done_hours:.1f} done, {s.due_hours:.1f} planned up to today, {s.planned_hours:.1f} in the plan"
        + (f"   [yellow]{s.missed} overdue[/yellow] (llmlab path replan)" if s.missed else "")
    )


@app.command(epilog="Example: [bold]llmlab path show --week 2[/bold]")
def show(week: Annotated[int | None, typer.Option(help="Only this week of the plan.")] = None) -> None:
    """The plan as a table: date, topic, section, hours, done or not."""
    with store.opened() as db:
        plan = store.require_plan(db)
        tasks = store.plan_tasks(db, plan["id"])
    start = date.fromisoformat(plan["start"])
    if week is not None:
        tasks = [t for t in tasks if plans.week_of(date.fromisoformat(t["date"]), start) == week]
        if not tasks:
            raise store.PathError(f"week {week} of your plan has no tasks; `llmlab path show` lists them all")
    table = Table(
        title=f"{plan['track'].capitalize()} plan, {plan['hours_per_day']:g} h a day", title_justify="left"
    )
    for col in ("week", "date", "topic (id for `path done`)", "hours", ""):
        table.add_column(
            col, no_wrap=col in ("week", "date", "hours"), ratio=1 if col.startswith("topic") else None
        )
    for t in tasks:
        d = date.fromisoformat(t["date"])
        part = f" (part {t['part']}/{t['parts']})" if t["parts"] > 1 else ""
        topic = f"{escape(t['title'])}{part}\n[dim]{t['topic']}[/dim]"
        table.add_row(
            str(plans.week_of(d, start)), f"{d:%a} {d}", topic, f"{t['hours']:g}", TICK[t["status"]]
        )
    console.print(table)


@app.command("export", epilog="Example: [bold]llmlab path export --out my-path.json[/bold]")
def export_(out: Annotated[Path, typer.Option(help="JSON file to write.")] = Path("path.json")) -> None:
    """Write the plan, tasks, recorded runs and notes to one JSON file."""
    with store.opened() as db:
        transfer.export_file(db, out)
    console.print(f"wrote {out}")


@app.command("import", epilog="Example: [bold]llmlab path import my-path.json --replace[/bold]")
def import_(
    file: Annotated[Path, typer.Argument(help="A file written by `llmlab path export`.")],
    replace: Annotated[bool, typer.Option(help="Overwrite what the learning path holds now.")] = False,
) -> None:
    """Load a JSON export (checked first; all of it or nothing)."""
    with store.opened() as db:
        counts = transfer.import_file(db, file, replace=replace)
    console.print(
        f"imported {counts['tasks']} tasks, {counts['runs']} runs and {counts['notes']} notes from {file}"
    )
