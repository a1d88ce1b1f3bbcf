"""Dated day-by-day plans: pack a track's topics into study days, and replan after missed days.

A plan turns a track (an ordered list of topics, each with an estimated number of hours) into
tasks with dates, the way learners write their own week plans ("Day 3: LLaMA architecture;
start self-attention from scratch"). The rules, in order:

1. **Order**: topics come in ``Curriculum.track_topics`` order, a topological order of the
   prerequisites, and keep it: a topic is never scheduled before one it depends on (on the same
   day it comes after it).
2. **Study days**: week N of a plan is the 7 days from ``start + 7 (N - 1)``; its first
   ``days_per_week`` days are study days, the rest are free for catching up.
3. **Budget**: the hours of one day never exceed ``hours_per_day``. A topic that fits in one
   day is never split: if it does not fit in what is left of today, it starts on the next
   study day. A topic longer than a whole day is split into parts of one day's budget (the last
   part is what remains) over consecutive study days, starting on a fresh day.
4. **Coverage**: if the last task falls after the track's weeks, the plan is still written, but
   ``fit_message`` says how many hours the track needs, how many the budget gives, and the
   hours per day that would fit.

Times are counted in whole minutes (``hours * 60``, the budget rounded down) so that sums of
parts compare exactly, with no floating-point drift.

``replan`` (after missed days): done and skipped tasks stay exactly where they are; every
unfinished task is packed again, in its old order, from today on, into what those tasks leave
of each day's budget.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from llmlab.path import store
from llmlab.path.store import PathError

MAX_HOURS_PER_DAY = 16.0


@dataclass(frozen=True)
class PlannedTask:
    """One topic, or one part of a long topic, on one day."""

    date: date
    seq: int  # position of the topic in the track's prerequisite order
    topic: str
    title: str
    section: str
    part: int  # 1-based; a topic of one day has part 1 of 1
    parts: int
    minutes: int

    @property
    def hours(self) -> float:
        return self.minutes / 60


def minutes(hours: float) -> int:
    return round(hours * 60)


def budget_minutes(hours_per_day: float) -> int:
    # subtle: rounded *down*, so that whole minutes within the budget stay within the hours
    return math.floor(hours_per_day * 60 + 1e-9)


def is_study_day(day: date, start: date, days_per_week: int) -> bool:
    return (day - start).days % 7 < days_per_week


def study_days(first: date, start: date, days_per_week: int) -> Iterator[date]:
    """Study days of the plan that began on ``start``, from ``first`` on (endless)."""
    day = first
    while True:
        if is_study_day(day, start, days_per_week):
            yield day
        day += timedelta(days=1)


def week_of(day: date, start: date) -> int:
    """Week number of ``day`` in a plan that began on ``start`` (week 1 holds ``start``)."""
    return (day - start).days // 7 + 1


def check_budget(hours_per_day: float, days_per_week: int) -> None:
    if not (0 < hours_per_day <= MAX_HOURS_PER_DAY) or budget_minutes(hours_per_day) < 1:
        raise PathError(
            f"hours per day must be more than 0 and at most {MAX_HOURS_PER_DAY:g}, got {hours_per_day:g}"
        )
    if not 1 <= days_per_week <= 7:
        raise PathError(f"days per week must be between 1 and 7, got {days_per_week}")


def schedule(
    topics: Sequence, start: date, hours_per_day: float, days_per_week: int = 5
) -> list[PlannedTask]:
    """Pack ``topics`` (curriculum ``Topic`` objects, in prerequisite order) into study days."""
    check_budget(hours_per_day, days_per_week)
    budget = budget_minutes(hours_per_day)
    days = study_days(start, start, days_per_week)
    day, used = next(days), 0
    out: list[PlannedTask] = []
    for seq, topic in enumerate(topics):
        need = max(1, minutes(topic.hours))
        if need <= budget:  # 3a. fits in one day: here, or on the next study day
            if used + need > budget:
                day, used = next(days), 0
            out.append(PlannedTask(day, seq, topic.id, topic.title, topic.section, 1, 1, need))
            used += need
            continue
        n_parts = math.ceil(need / budget)  # 3b. longer than a day: whole-day parts, fresh day
        if used > 0:
            day, used = next(days), 0
        for part in range(1, n_parts + 1):
            if part > 1:
                day = next(days)
            size = budget if part < n_parts else need - budget * (n_parts - 1)
            out.append(PlannedTask(day, seq, topic.id, topic.title, topic.section, part, n_parts, size))
            used = size
    return out


def track_end(start: date, weeks: int) -> date:
    """The last day of a track of ``weeks`` weeks that starts on ``start``."""
    return start + timedelta(days=7 * weeks - 1)


def fitting_hours(
    topics: Sequence, start: date, weeks: int, days_per_week: int, *, above: float = 0.0
) -> float | None:
    """The fewest hours per day (in quarter hours, more than ``above``) that end the plan within
    the track's weeks; None if even ``MAX_HOURS_PER_DAY`` does not."""
    end = track_end(start, weeks)
    h = math.floor(above * 4 + 1) / 4
    while h <= MAX_HOURS_PER_DAY:
        tasks = schedule(topics, start, h, days_per_week)
        if not tasks or tasks[-1].date <= end:
            return h
        h += 0.25
    return None


def fit_message(
    topics: Sequence,
    tasks: list[PlannedTask],
    start: date,
    weeks: int,
    hours_per_day: float,
    days_per_week: int,
) -> str | None:
    """None when the plan ends within the track's weeks; else one line: needed vs available."""
    end = track_end(start, weeks)
    if not tasks or tasks[-1].date <= end:
        return None
    needed = sum(t.minutes for t in tasks) / 60
    available = weeks * days_per_week * budget_minutes(hours_per_day) / 60
    late = (tasks[-1].date - end).days
    h = fitting_hours(topics, start, weeks, days_per_week, above=hours_per_day)
    more_days = ": add --days-per-week" if days_per_week < 7 else ""
    advice = f"--hours-per-day {h:g} would fit" if h else f"even 16 hours a day would not fit{more_days}"
    budget = f"{_n(weeks, 'week')} x {days_per_week} days x {hours_per_day:g} h/day"
    if needed > available:
        why = f"the track needs {needed:.1f} h but {budget} give {available:.1f} h"
    else:  # enough hours in total, but whole topics leave gaps at the ends of days
        why = f"the track needs {needed:.1f} h of the {available:.1f} h that {budget} give, but topics do not split to fill days"
    return (
        f"{why}: the plan runs to {tasks[-1].date}, {_n(late, 'day')} past its {_n(weeks, 'week')}; {advice}"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class StartResult:
    plan_id: int
    tasks: list[PlannedTask]
    end: date  # the last day of the track's weeks
    warning: str | None  # fit_message, when the plan runs past the track's weeks
    hours_per_day: float  # as given, or the fewest hours that fit


def start_plan(
    db: sqlite3.Connection,
    curriculum,
    track: str,
    start: date,
    hours_per_day: float | None = None,
    days_per_week: int = 5,
    *,
    replace: bool = False,
    strict: bool = False,
    curriculum_folder: Path | None = None,
) -> StartResult:
    """Write a new plan for ``track`` (a curriculum ``Track`` id) into the database.

    ``hours_per_day=None`` picks the fewest quarter hours a day that fit the track in its weeks."""
    info = curriculum.track(track)  # an unknown track raises, listing the valid ones
    if start < store.today():
        raise PathError(f"the plan cannot start on {start}, which is in the past; use today or later")
    topics = curriculum.track_topics(track)
    if hours_per_day is None:
        hours_per_day = fitting_hours(topics, start, info.weeks, days_per_week) or MAX_HOURS_PER_DAY
    check_budget(hours_per_day, days_per_week)
    tasks = schedule(topics, start, hours_per_day, days_per_week)
    warning = fit_message(topics, tasks, start, info.weeks, hours_per_day, days_per_week)
    if warning and strict:
        raise PathError(warning)
    with store.transaction(db):
        old = store.active_plan(db)
        if old is not None and not replace:
            raise PathError(
                f"a {old['track']} plan from {old['start']} already exists; add --replace to start over "
                "(your notes and recorded runs are kept)"
            )
        db.execute("DELETE FROM plans")  # tasks go with them (ON DELETE CASCADE)
        folder = str(Path(curriculum_folder).absolute()) if curriculum_folder else None
        cur = db.execute(
            "INSERT INTO plans (track, start, hours_per_day, days_per_week, curriculum, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (track, start.isoformat(), hours_per_day, days_per_week, folder, store.now().isoformat()),
        )
        plan_id = int(cur.lastrowid)
        db.executemany(
            "INSERT INTO tasks (plan_id, seq, date, topic, title, section, part, parts, hours) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (plan_id, t.seq, t.date.isoformat(), t.topic, t.title, t.section, t.part, t.parts, t.hours)
                for t in tasks
            ],
        )
    return StartResult(plan_id, tasks, track_end(start, info.weeks), warning, hours_per_day)


def repack(
    tasks: Sequence[sqlite3.Row | dict], first: date, start: date, hours_per_day: float, days_per_week: int
) -> dict[int, date]:
    """New dates for the unfinished tasks (``{task id: date}``), packed from ``first`` on.

    Done and skipped tasks keep their dates and use up their day's budget. Unfinished ones are
    placed in their old order (by ``seq`` then ``part``: the prerequisite order), each on the
    first study day, not before the previous one's, with enough budget left.
    """
    budget = budget_minutes(hours_per_day)
    used: dict[date, int] = {}
    for t in tasks:
        if t["status"] != "todo":
            d = date.fromisoformat(t["date"])
            used[d] = used.get(d, 0) + minutes(t["hours"])
    todo = sorted((t for t in tasks if t["status"] == "todo"), key=lambda t: (t["seq"], t["part"]))
    days = study_days(first, start, days_per_week)
    day = next(days)
    moved: dict[int, date] = {}
    for t in todo:
        need = minutes(t["hours"])
        # subtle: a part longer than the budget (a plan imported with more hours per day) goes
        # alone on an empty day; without the `used > 0` test this loop would never end
        while used.get(day, 0) > 0 and used.get(day, 0) + need > budget:
            day = next(days)
        used[day] = used.get(day, 0) + need
        moved[t["id"]] = day
    return moved


@dataclass(frozen=True)
class ReplanResult:
    moved: int  # unfinished tasks whose date changed
    missed: int  # unfinished tasks that were dated before today
    last: date | None  # the date of the last task after replanning


def replan(db: sqlite3.Connection) -> ReplanResult:
    """Move every unfinished task forward from today (completed work stays exactly as it was)."""
    today = store.today()
    with store.transaction(db):
        plan = store.require_plan(db)
        start = date.fromisoformat(plan["start"])
        tasks = store.plan_tasks(db, plan["id"])
        missed = sum(1 for t in tasks if t["status"] == "todo" and date.fromisoformat(t["date"]) < today)
        first = max(today, start)
        new = repack(tasks, first, start, plan["hours_per_day"], plan["days_per_week"])
        old = {t["id"]: t["date"] for t in tasks}
        changed = [(d.isoformat(), i) for i, d in new.items() if d.isoformat() != old[i]]
        db.executemany("UPDATE tasks SET date = ? WHERE id = ?", changed)
        last = db.execute("SELECT max(date) FROM tasks WHERE plan_id = ?", (plan["id"],)).fetchone()[0]
    return ReplanResult(len(changed), missed, date.fromisoformat(last) if last else None)
