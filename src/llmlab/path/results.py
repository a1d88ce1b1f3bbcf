"""Lab runs as progress: every run of a lab is recorded, and ticks the plan's task it belongs to.

Learners write their results into their week summaries by hand ("fine-tuned on IMDB: 92.4%",
"king vs queen: 0.7839"). Here a lab command does it itself, in three lines at its end::

    from llmlab.path.results import record_run
    record_run("embeddings-analogy", "llmlab embeddings analogy king man woman",
               {"answer": "queen", "cosine": 0.7839}, run_dir=None)

What ``record_run(lab, command, figures, *, run_dir=None, when=None) -> int`` does:

1. stores the run (lab key, command, figures as JSON, run folder, time) in the learning-path
   database and returns its id;
2. if the current plan has an unfinished task whose topic lists this lab key
   (``Curriculum.topics_for_lab``), ticks **the earliest such task** (by date, then plan
   order) done and attaches the run to it, and says so in one line. One run ticks one task.

It never raises into the lab: a broken or locked database prints one warning line and returns
0, and the lab's command succeeds anyway. ``LLMLAB_NO_RECORD=1`` turns recording off (returns
0). The lab keys are the ``lab:`` fields of the curriculum files (``train``, ``quickstart``,
``embeddings-similar`` ...); a new lab picks a key, lists it there, and calls ``record_run``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from datetime import date, datetime

from llmlab.path import store

ENV_NO_RECORD = "LLMLAB_NO_RECORD"


def record_run(
    lab: str,
    command: str,
    figures: dict[str, float | str],
    *,
    run_dir: str | None = None,
    when: datetime | None = None,
) -> int:
    """Record a lab run and tick the plan's task it belongs to; returns the run id (0: not recorded)."""
    if os.environ.get(ENV_NO_RECORD, "") not in ("", "0"):
        return 0
    try:
        return _record(lab, command, figures, run_dir, when or store.now())
    except Exception as e:  # noqa: BLE001 - whatever goes wrong here, the lab itself succeeded
        from llmlab.cli.console import err_console

        reason = " ".join(str(e).split()) or type(e).__name__
        err_console.print(
            f"warning: this run was not recorded in the learning path ({reason}); the lab itself succeeded",
            soft_wrap=True,
        )
        return 0


def clean_figures(figures: dict[str, float | str]) -> dict[str, float | int | str]:
    """Figures that JSON can hold: numbers stay numbers, NaN/inf and anything else become text."""
    out: dict[str, float | int | str] = {}
    for name, value in figures.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out[str(name)] = str(value)
        elif isinstance(value, float) and not math.isfinite(value):
            out[str(name)] = str(value)  # subtle: JSON has no NaN; "nan" keeps it readable
        else:
            out[str(name)] = value
    return out


def _record(lab: str, command: str, figures: dict, run_dir: str | None, when: datetime) -> int:
    from llmlab.path.progress import curriculum_for

    figures = clean_figures(figures)
    with store.opened() as db:
        plan = store.active_plan(db)
        topics: list[str] = []
        if plan is not None:  # read the curriculum before taking the write lock
            try:
                topics = [t.id for t in curriculum_for(plan).topics_for_lab(lab)]
            except Exception:  # noqa: BLE001 - a broken curriculum: record the run, tick nothing
                topics = []
        with store.transaction(db):
            cur = db.execute(
                "INSERT INTO runs (lab, command, figures, run_dir, at) VALUES (?, ?, ?, ?, ?)",
                (lab, command, json.dumps(figures), run_dir, when.isoformat(timespec="seconds")),
            )
            run_id = int(cur.lastrowid)
            task = _earliest_open_task(db, plan, topics) if topics else None
            if task is not None:
                db.execute(
                    "UPDATE tasks SET status = 'done', done_at = ?, run_id = ? WHERE id = ?",
                    (when.isoformat(timespec="seconds"), run_id, task["id"]),
                )
    if task is not None:
        from llmlab.cli.console import console

        part = f" part {task['part']}/{task['parts']}" if task["parts"] > 1 else ""
        console.print(
            f"learning path: ticked {task['topic']!r}{part} (planned for {task['date']}) "
            f"with {format_figures(figures)}",
            soft_wrap=True,
        )
    return run_id


def _earliest_open_task(db: sqlite3.Connection, plan: sqlite3.Row, topics: list[str]) -> sqlite3.Row | None:
    marks = ",".join("?" * len(topics))
    return db.execute(
        f"SELECT * FROM tasks WHERE plan_id = ? AND status = 'todo' AND topic IN ({marks}) "
        "ORDER BY date, seq, part LIMIT 1",
        (plan["id"], *topics),
    ).fetchone()


def format_figure(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or value.is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def format_figures(figures: dict) -> str:
    """``val_loss 2.31, perplexity 10.08, steps 200``: what a week summary lists."""
    return ", ".join(f"{name} {format_figure(v)}" for name, v in figures.items()) or "no figures"


def runs_between(db: sqlite3.Connection, first: date, last: date) -> list[dict]:
    """Recorded runs from ``first`` to ``last`` (inclusive), oldest first, figures decoded."""
    rows = db.execute(
        "SELECT * FROM runs WHERE substr(at, 1, 10) BETWEEN ? AND ? ORDER BY at, id",
        (first.isoformat(), last.isoformat()),
    ).fetchall()
    return [{**dict(r), "figures": json.loads(r["figures"])} for r in rows]


def train_figures(result) -> dict[str, float | str]:
    """The figures of a pretraining run (a ``TrainResult``): what quickstart and train record."""
    final = result.evals[-1] if result.evals else {}
    figures: dict[str, float | str] = {}
    for key, name in (("val_loss", "val_loss"), ("val_ppl", "perplexity"), ("val_bpb", "bits_per_byte")):
        if key in final:
            figures[name] = round(float(final[key]), 4)
    figures.update(steps=int(result.step), tokens=int(result.tokens))
    if result.status != "completed":
        figures["status"] = result.status
    return figures
