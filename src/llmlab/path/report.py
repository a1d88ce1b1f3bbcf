"""The weekly report: what a learner's week summary says, written from the database.

Learners close each week with a summary: the topics they covered, what they ran and the numbers
they got ("fine-tuned DistilBERT on IMDB: 92.4%"), key insights, open questions, next week's
plan. ``week_report(db, n)`` gathers exactly that for week ``n`` of the plan (the 7 days from
``start + 7 (n - 1)``), all of it from what was recorded, nothing typed twice:

1. topics covered: tasks ticked done during the week, with the day they were done;
2. what was run: every recorded lab run of the week with its actual figures;
3. key insights: the questions answered during the week, with their answers;
4. open questions: every question asked by the end of the week and still unanswered;
5. next week's plan, and the progress summary (streak, hours, per-section progress).

``write_week(db, n, out)`` renders it as ``week-N.md`` and a self-contained ``week-N.html``
(inline CSS, no external URL) through the small document model in :mod:`llmlab.path.render`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from llmlab.path import store
from llmlab.path.notes import open_questions
from llmlab.path.plan import week_of
from llmlab.path.progress import SectionProgress, Summary, curriculum_for, section_progress, summary
from llmlab.path.render import Block, bar, to_html, to_markdown
from llmlab.path.results import format_figures, runs_between
from llmlab.path.store import PathError


@dataclass(frozen=True)
class WeekReport:
    week: int
    first: date
    last: date
    track: str
    weeks: int  # weeks of the plan (the last task's week)
    covered: list[sqlite3.Row]  # tasks ticked done this week, by the day they were done
    unfinished: list[sqlite3.Row]  # tasks dated this week and not done yet
    runs: list[dict]  # recorded runs of the week, figures decoded
    insights: list[sqlite3.Row]  # notes answered this week
    questions: list[sqlite3.Row]  # open questions asked by the end of the week
    next_week: list[sqlite3.Row]  # tasks dated next week
    summary: Summary
    sections: list[SectionProgress]


def week_report(db: sqlite3.Connection, week: int) -> WeekReport:
    plan = store.require_plan(db)
    start = date.fromisoformat(plan["start"])
    tasks = store.plan_tasks(db, plan["id"])
    weeks = week_of(date.fromisoformat(tasks[-1]["date"]), start) if tasks else 1
    if not 1 <= week <= weeks:
        raise PathError(f"week {week} is not in your plan: it has weeks 1 to {weeks} (from {start})")
    first = start + timedelta(days=7 * (week - 1))
    last = first + timedelta(days=6)
    lo, hi = first.isoformat(), last.isoformat()
    nlo, nhi = (last + timedelta(days=1)).isoformat(), (last + timedelta(days=7)).isoformat()
    covered = [t for t in tasks if t["status"] == "done" and lo <= t["done_at"][:10] <= hi]
    insights = db.execute(
        "SELECT * FROM notes WHERE answer IS NOT NULL AND substr(answered, 1, 10) BETWEEN ? AND ? ORDER BY id",
        (lo, hi),
    ).fetchall()
    return WeekReport(
        week=week,
        first=first,
        last=last,
        track=plan["track"],
        weeks=weeks,
        covered=sorted(covered, key=lambda t: (t["done_at"], t["seq"], t["part"])),
        unfinished=[t for t in tasks if lo <= t["date"] <= hi and t["status"] == "todo"],
        runs=runs_between(db, first, last),
        insights=insights,
        questions=open_questions(db, asked_by=hi),
        next_week=[t for t in tasks if nlo <= t["date"] <= nhi],
        summary=summary(db, plan),
        sections=section_progress(db, plan, _curriculum_or_none(plan)),
    )


def _curriculum_or_none(plan: sqlite3.Row):
    try:
        return curriculum_for(plan)
    except Exception:  # noqa: BLE001 - a report still works if the curriculum folder moved
        return None


def _task_name(t: sqlite3.Row) -> str:
    return t["title"] + (f" (part {t['part']}/{t['parts']})" if t["parts"] > 1 else "")


def blocks(r: WeekReport) -> list[Block]:
    """The report as a list of headed blocks (lists, tables, text) both renderers understand."""
    s = r.summary
    progress = [
        f"Streak: {s.streak} study day{'s' if s.streak != 1 else ''} in a row",
        f"Hours: {s.done_hours:.1f} done of {s.due_hours:.1f} planned so far ({s.planned_hours:.1f} in the plan)",
        f"Tasks: {s.tasks_done} of {s.tasks} done" + (f", {s.missed} overdue" if s.missed else ""),
    ]
    sections = [
        [
            p.title,
            bar(p.fraction),
            f"{p.done_hours:.1f} / {p.planned_hours:.1f} h",
            f"{p.topics_done}/{p.topics}",
        ]
        for p in r.sections
    ]
    covered = [
        [
            t["done_at"][:10],
            _task_name(t),
            t["section"],
            "; ".join(filter(None, [format_figures_of(t, r), t["note"]])),
        ]
        for t in r.covered
    ]
    runs = [[x["at"][:10], x["lab"], f"`{x['command']}`", format_figures(x["figures"])] for x in r.runs]
    insights = [f"**Q:** {n['question']} **A:** {n['answer']}" for n in r.insights]
    questions = [
        f"{n['question']} ({n['topic']}, #{n['id']}, asked {n['created'][:10]})" for n in r.questions
    ]
    nxt = [[t["date"], _task_name(t), f"{t['hours']:g} h", _tick(t["status"])] for t in r.next_week]
    return [
        Block("Progress", items=progress),
        Block("Sections", table=(["section", "progress", "hours", "topics"], sections)),
        Block("Topics covered", table=(["done on", "topic", "section", "figures or note"], covered),
              empty="No topic was ticked off this week."),
        Block("Still open from this week", items=[f"{t['date']}: {_task_name(t)}" for t in r.unfinished],
              empty="Nothing: every task of the week is done or skipped."),
        Block("What I ran", table=(["date", "lab", "command", "figures"], runs),
              empty="No lab run was recorded this week."),
        Block("Key insights", items=insights, empty="No question was answered this week."),
        Block("Open questions", items=questions, empty="None: every question has its answer."),
        Block("Next week's plan", table=(["date", "topic", "time", ""], nxt),
              empty="Nothing planned: this is the last week of the plan."),
    ]  # fmt: skip


def format_figures_of(task: sqlite3.Row, r: WeekReport) -> str:
    """The figures of the run that ticked ``task``, if a run of this week did."""
    for run in r.runs:
        if run["id"] == task["run_id"]:
            return format_figures(run["figures"])
    return ""


def _tick(status: str) -> str:
    return {"done": "✓", "skipped": "skipped"}.get(status, "")


def title_of(r: WeekReport) -> tuple[str, str]:
    return (
        f"Week {r.week}: {r.first} to {r.last}",
        f"{r.track.capitalize()} track, week {r.week} of {r.weeks}. Written by llmlab on {store.today()}.",
    )


def write_week(db: sqlite3.Connection, week: int, out: Path) -> tuple[Path, Path]:
    """Write ``week-N.md`` and ``week-N.html`` into ``out``; returns both paths."""
    from llmlab.assets.files import atomic_write_bytes

    r = week_report(db, week)
    title, subtitle = title_of(r)
    doc = blocks(r)
    out.mkdir(parents=True, exist_ok=True)
    md, html = out / f"week-{week}.md", out / f"week-{week}.html"
    atomic_write_bytes(md, to_markdown(title, subtitle, doc).encode())
    atomic_write_bytes(html, to_html(title, subtitle, doc).encode())
    return md, html
