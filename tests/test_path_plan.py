"""Plans and replans: property tests on random curricula, plus the fixture curriculum's plan."""

from __future__ import annotations

import math
import random
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmlab.path import plan as plans
from llmlab.path import store
from llmlab.path.curriculum import load_curriculum
from llmlab.path.topics import Curriculum, Resource, Section, Topic, Track
from test_path_fixtures import set_today, write_curriculum

START = date(2030, 1, 7)
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def curricula(draw) -> Curriculum:
    """A random acyclic curriculum: topics in a shuffled file order, prerequisites drawn from a hidden order."""
    n = draw(st.integers(1, 14))
    rank = draw(st.permutations(range(n)))  # topic i may only need topics of lower rank: no cycles
    topics = []
    for i in range(n):
        lower = [j for j in range(n) if rank[j] < rank[i]]
        pre = draw(st.lists(st.sampled_from(lower), max_size=3, unique=True)) if lower else []
        hours = draw(st.integers(1, 32)) / 4  # 0.25 .. 8 hours, in quarter hours
        topics.append(
            Topic(f"t{i}", f"Topic {i}", "s1" if i % 2 else "s2", "basic", hours,
                  tuple(f"t{j}" for j in pre), "", (Resource("visual", "x", "y"),), ())
        )  # fmt: skip
    sections = (
        Section("s1", "One", 1, "", tuple(topics[1::2])),
        Section("s2", "Two", 2, "", tuple(topics[::2])),
    )
    weeks = draw(st.integers(1, 3))
    return Curriculum(sections, (Track("t", "T", weeks, ("s1", "s2"), ("basic",)),))


def check_plan(cur: Curriculum, tasks, hours_per_day: float, days_per_week: int) -> None:
    topics = {t.id: t for t in cur.track_topics("t")}
    budget = plans.budget_minutes(hours_per_day)
    # every topic is there, its parts add up to its hours, on consecutive study days
    for tid, topic in topics.items():
        parts = [t for t in tasks if t.topic == tid]
        assert [p.part for p in parts] == list(range(1, parts[0].parts + 1))
        assert sum(p.minutes for p in parts) == plans.minutes(topic.hours)
        days = [p.date for p in parts]
        between = [d for d in (days[0] + timedelta(i) for i in range((days[-1] - days[0]).days + 1))
                   if plans.is_study_day(d, START, days_per_week)]  # fmt: skip
        assert days == between
    # the budget: whole minutes and hours, on study days only
    per_day: dict[date, float] = {}
    for t in tasks:
        assert plans.is_study_day(t.date, START, days_per_week)
        per_day[t.date] = per_day.get(t.date, 0) + t.hours
    assert all(sum(t.minutes for t in tasks if t.date == d) <= budget for d in per_day)
    assert all(h <= hours_per_day + 1e-9 for h in per_day.values())
    # prerequisites: a topic's first part comes after its prerequisites' last parts
    key = {(t.topic, t.part): (t.date, t.seq) for t in tasks}
    for tid, topic in topics.items():
        first = key[(tid, 1)]
        for pre in topic.prerequisites:
            last = max(v for (k, _), v in key.items() if k == pre)
            assert last < first, (pre, tid)


@SETTINGS
@given(cur=curricula(), quarter_hours=st.integers(2, 32), days_per_week=st.integers(1, 7))
def test_plans_respect_prerequisites_budget_and_cover_the_track(cur, quarter_hours, days_per_week) -> None:
    hours = quarter_hours / 4
    topics = cur.track_topics("t")
    tasks = plans.schedule(topics, START, hours, days_per_week)
    check_plan(cur, tasks, hours, days_per_week)
    weeks = cur.track("t").weeks
    end = plans.track_end(START, weeks)
    need = sum(t.minutes for t in tasks)
    budget = plans.budget_minutes(hours)
    available = weeks * days_per_week * budget
    warning = plans.fit_message(topics, tasks, START, weeks, hours, days_per_week)
    assert (warning is None) == (tasks[-1].date <= end)
    if 2 * need + budget <= available:  # next-fit wastes less than half of two days together
        assert warning is None
    if need > available:
        assert warning is not None and f"needs {need / 60:.1f} h" in warning
    if warning and "would fit" in warning:  # the advice is right: that budget fits
        suggested = float(warning.split("--hours-per-day ")[1].split()[0])
        assert plans.schedule(topics, START, suggested, days_per_week)[-1].date <= end


def _tmp_db() -> tuple[Path, object]:
    folder = Path(tempfile.mkdtemp(prefix="llmlab-path-"))
    return folder, store.connect(folder / "path.sqlite")


@SETTINGS
@given(
    cur=curricula(), quarter_hours=st.integers(4, 16), days_per_week=st.integers(1, 7),
    late=st.integers(0, 20), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_replan_keeps_completed_work_and_still_respects_the_rules(
    cur, quarter_hours, days_per_week, late, seed, monkeypatch
) -> None:
    hours = quarter_hours / 4
    set_today(monkeypatch, START)
    folder, db = _tmp_db()
    try:
        result = plans.start_plan(db, cur, "t", START, hours, days_per_week)
        rows = db.execute("SELECT * FROM tasks ORDER BY id").fetchall()
        rng = random.Random(seed)
        for r in rows:  # some work done (maybe out of order), some skipped, the rest missed
            status = rng.choice(["todo", "todo", "done", "skipped"])
            stamp = None if status == "todo" else "2030-01-07T10:00:00"
            db.execute("UPDATE tasks SET status = ?, done_at = ? WHERE id = ?", (status, stamp, r["id"]))
        before = {r["id"]: dict(r) for r in db.execute("SELECT * FROM tasks")}
        today = START + timedelta(days=late)
        set_today(monkeypatch, today)
        plans.replan(db)
        after = {r["id"]: dict(r) for r in db.execute("SELECT * FROM tasks")}
    finally:
        db.close()
    assert before.keys() == after.keys() and len(after) == len(result.tasks)
    budget = plans.budget_minutes(hours)
    for i, row in after.items():
        if before[i]["status"] != "todo":
            assert row == before[i]  # completed or skipped work stays exactly as it was
        else:
            assert {k: v for k, v in row.items() if k != "date"} == {
                k: v for k, v in before[i].items() if k != "date"
            }
            d = date.fromisoformat(row["date"])
            assert d >= today and plans.is_study_day(d, START, days_per_week)
    for d in {r["date"] for r in after.values() if r["date"] >= today.isoformat()}:
        assert sum(plans.minutes(r["hours"]) for r in after.values() if r["date"] == d) <= budget
    topics = {t.id: t for t in cur.topics}
    todo = [r for r in after.values() if r["status"] == "todo"]
    order = {(r["topic"], r["part"]): (r["date"], r["seq"], r["part"]) for r in todo}
    for r in todo:  # an unfinished prerequisite (or earlier part) still comes first
        needs = [
            (p, k)
            for (p, k) in order
            if p in topics[r["topic"]].prerequisites or (p == r["topic"] and k < r["part"])
        ]
        assert all(order[n] < order[(r["topic"], r["part"])] for n in needs)


def test_fixture_plan_splits_the_long_topic_and_warns_when_it_does_not_fit(tmp_path, monkeypatch) -> None:
    set_today(monkeypatch, START)
    cur = load_curriculum(write_curriculum(tmp_path / "cur"))
    tasks = plans.schedule(cur.track_topics("beginner"), START, 2.0, 5)
    assert [(t.date.day, t.topic, t.part, t.parts, t.hours) for t in tasks] == [
        (7, "tokens", 1, 1, 1.0), (8, "embeddings", 1, 1, 1.5),  # 1.5 h does not fit the hour left on day 1
        (9, "backprop", 1, 2, 2.0), (10, "backprop", 2, 2, 1.0),  # 3 h > 2 h a day: two parts
        (11, "attention", 1, 1, 2.0), (14, "training-loop", 1, 1, 1.0),  # 12th, 13th: free days
    ]  # fmt: skip
    topics = cur.track_topics("beginner")
    assert plans.fit_message(topics, tasks, START, 1, 2.0, 5) == (
        "the track needs 8.5 h of the 10.0 h that 1 week x 5 days x 2 h/day give, but topics do not split to "
        "fill days: the plan runs to 2030-01-14, 1 day past its 1 week; --hours-per-day 2.5 would fit"
    )
    assert plans.schedule(topics, START, 2.5, 5)[-1].date == date(2030, 1, 10)
    short = plans.fit_message(
        topics, plans.schedule(topics, START, 2.0, 4), START, 1, 2.0, 4
    )  # 8 h available: not enough in total
    assert short is not None and short.startswith(
        "the track needs 8.5 h but 1 week x 4 days x 2 h/day give 8.0 h:"
    )


@pytest.mark.parametrize(
    "hours, days, message",
    [
        (0, 5, "hours per day must be more than 0 and at most 16, got 0"),
        (-1, 5, "hours per day must be more than 0 and at most 16, got -1"),
        (16.5, 5, "hours per day must be more than 0 and at most 16, got 16.5"),
        (2, 0, "days per week must be between 1 and 7, got 0"),
        (2, 8, "days per week must be between 1 and 7, got 8"),
    ],
)
def test_bad_budgets_are_one_clear_error(hours, days, message) -> None:
    with pytest.raises(store.PathError) as e:
        plans.schedule([], START, hours, days)
    assert str(e.value) == message


def test_study_days_and_weeks() -> None:
    days = plans.study_days(START, START, 2)
    assert [next(days).day for _ in range(4)] == [7, 8, 14, 15]
    assert (
        plans.week_of(START + timedelta(days=6), START) == 1
        and plans.week_of(START + timedelta(7), START) == 2
    )
    assert plans.budget_minutes(1.01) == 60 and math.isclose(plans.budget_minutes(2.5) / 60, 2.5)
