"""Progress through a plan: ticking tasks off, the study streak, per-section progress.

Unlike the plan (what should happen when), this file records what did happen:

- ``mark_done(topic)`` ticks the topic's *earliest unfinished part* (a topic spread over three
  days is ticked one day at a time), or every remaining part with ``all_parts=True``;
  ``mark_skipped(topic)`` skips every remaining part (you decided not to study it).
- The **streak** counts consecutive study days with some work on them (a task ticked or a lab
  run recorded), going back from today. Free days of the plan (after ``days_per_week``) neither
  break it nor, unless you worked on them, add to it; today only counts once you have done
  something, so a streak is not lost in the morning.
- **Section progress**: hours done / hours planned per section, skipped tasks left out of both.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from llmlab.path import store
from llmlab.path.plan import is_study_day
from llmlab.path.store import PathError

_loaded: dict[tuple[str, tuple], object] = {}  # (folder, file times) -> Curriculum


def curriculum_for(plan: sqlite3.Row | None):
    """The curriculum a plan was made from: its own folder, or the packaged one.

    A folder of your own is read once per process and again only when one of its files changes
    (parsing YAML is slow enough to matter when a script records hundreds of runs)."""
    from llmlab.path.curriculum import load_curriculum

    folder = plan["curriculum"] if plan is not None else None
    if not folder:
        return load_curriculum(None)  # cached by the loader
    root = Path(folder)
    stamp = (
        tuple(sorted((p.name, p.stat().st_mtime_ns) for p in root.glob("*.yaml"))) if root.is_dir() else ()
    )
    key = (str(root), stamp)
    if key not in _loaded:
        _loaded[key] = load_curriculum(root)
    return _loaded[key]


def _topic_tasks(db: sqlite3.Connection, plan: sqlite3.Row, curriculum, topic_id: str) -> list[sqlite3.Row]:
    rows = db.execute(
        "SELECT * FROM tasks WHERE plan_id = ? AND topic = ? ORDER BY date, seq, part", (plan["id"], topic_id)
    ).fetchall()
    if rows:
        return rows
    topic = curriculum.topic(topic_id)  # an unknown topic raises here, naming close matches
    raise PathError(
        f"topic {topic.id!r} ({topic.title}) is not in your {plan['track']} plan; "
        "`llmlab path show` lists the plan's topics"
    )


def mark_done(
    db: sqlite3.Connection,
    topic_id: str,
    *,
    note: str | None = None,
    all_parts: bool = False,
    when: datetime | None = None,
) -> list[sqlite3.Row]:
    """Tick the topic's earliest unfinished part (or all of them); returns the ticked tasks."""
    stamp = (when or store.now()).isoformat(timespec="seconds")
    with store.transaction(db):
        plan = store.require_plan(db)
        rows = _topic_tasks(db, plan, curriculum_for(plan), topic_id)
        todo = [r for r in rows if r["status"] == "todo"]
        if not todo:
            last = rows[-1]
            when_done = f" on {last['done_at'][:10]}" if last["done_at"] else ""
            raise PathError(f"{topic_id!r} is already {last['status']}{when_done}; nothing left to tick")
        chosen = todo if all_parts else todo[:1]
        db.executemany(
            "UPDATE tasks SET status = 'done', done_at = ?, note = coalesce(?, note) WHERE id = ?",
            [(stamp, note, r["id"]) for r in chosen],
        )
        ids = [r["id"] for r in chosen]
        return _tasks_by_id(db, ids)


def mark_skipped(db: sqlite3.Connection, topic_id: str) -> list[sqlite3.Row]:
    """Skip every unfinished part of a topic; returns the skipped tasks."""
    stamp = store.now().isoformat(timespec="seconds")
    with store.transaction(db):
        plan = store.require_plan(db)
        rows = _topic_tasks(db, plan, curriculum_for(plan), topic_id)
        todo = [r["id"] for r in rows if r["status"] == "todo"]
        if not todo:
            raise PathError(f"{topic_id!r} has no unfinished part left to skip")
        db.executemany(
            "UPDATE tasks SET status = 'skipped', done_at = ? WHERE id = ?", [(stamp, i) for i in todo]
        )
        return _tasks_by_id(db, todo)


def _tasks_by_id(db: sqlite3.Connection, ids: list[int]) -> list[sqlite3.Row]:
    marks = ",".join("?" * len(ids))
    return db.execute(f"SELECT * FROM tasks WHERE id IN ({marks}) ORDER BY date, seq, part", ids).fetchall()


def active_days(db: sqlite3.Connection) -> set[date]:
    """Days with some work: a task ticked done, or a lab run recorded."""
    days = {r[0] for r in db.execute("SELECT substr(done_at, 1, 10) FROM tasks WHERE status = 'done'")}
    days |= {r[0] for r in db.execute("SELECT substr(at, 1, 10) FROM runs")}
    return {date.fromisoformat(d) for d in days if d}


def streak(db: sqlite3.Connection, plan: sqlite3.Row | None = None, *, today: date | None = None) -> int:
    """Consecutive study days with work on them, ending today (or yesterday's study day)."""
    today = today or store.today()
    active = active_days(db)
    if plan is None:
        start, per_week = today, 7  # no plan: every day is a study day
    else:
        start, per_week = date.fromisoformat(plan["start"]), plan["days_per_week"]
    count = 0
    day = today if today in active else today - timedelta(days=1)  # today is young: from yesterday
    while True:
        if day in active:
            count += 1
        elif day < start or is_study_day(day, start, per_week):
            break  # a study day without work ends the streak (before the plan, every day counts)
        day -= timedelta(days=1)
    return count


@dataclass(frozen=True)
class SectionProgress:
    section: str
    title: str
    done_hours: float
    planned_hours: float  # not counting skipped tasks
    topics_done: int  # topics whose every part is done or skipped
    topics: int

    @property
    def fraction(self) -> float:
        return self.done_hours / self.planned_hours if self.planned_hours else 1.0


def section_progress(db: sqlite3.Connection, plan: sqlite3.Row, curriculum=None) -> list[SectionProgress]:
    """Per section of the plan, in plan order: hours done vs planned, and finished topics."""
    titles = {s.id: s.title for s in curriculum.sections} if curriculum is not None else {}
    out: dict[str, dict] = {}
    topics: dict[str, dict[str, bool]] = {}
    for t in db.execute("SELECT * FROM tasks WHERE plan_id = ? ORDER BY seq, part", (plan["id"],)):
        s = out.setdefault(t["section"], {"done": 0.0, "planned": 0.0})
        if t["status"] != "skipped":
            s["planned"] += t["hours"]
        if t["status"] == "done":
            s["done"] += t["hours"]
        finished = topics.setdefault(t["section"], {})
        finished[t["topic"]] = finished.get(t["topic"], True) and t["status"] != "todo"
    return [
        SectionProgress(
            sid, titles.get(sid, sid), s["done"], s["planned"], sum(topics[sid].values()), len(topics[sid])
        )
        for sid, s in out.items()
    ]


@dataclass(frozen=True)
class Summary:
    done_hours: float
    planned_hours: float  # the whole plan, skipped tasks left out
    due_hours: float  # what the plan scheduled up to and including today (skipped left out)
    tasks_done: int
    tasks: int
    missed: int  # unfinished tasks dated before today
    streak: int
    week: int  # the plan's current week (1 on the start day)


def summary(db: sqlite3.Connection, plan: sqlite3.Row) -> Summary:
    today = store.today()
    rows = store.plan_tasks(db, plan["id"])
    kept = [r for r in rows if r["status"] != "skipped"]
    iso = today.isoformat()
    start = date.fromisoformat(plan["start"])
    return Summary(
        done_hours=sum(r["hours"] for r in rows if r["status"] == "done"),
        planned_hours=sum(r["hours"] for r in kept),
        due_hours=sum(r["hours"] for r in kept if r["date"] <= iso),
        tasks_done=sum(r["status"] == "done" for r in rows),
        tasks=len(rows),
        missed=sum(r["status"] == "todo" and r["date"] < iso for r in rows),
        streak=streak(db, plan, today=today),
        week=max(1, (today - start).days // 7 + 1),
    )
