"""JSON export and import of the whole learning path (plan, tasks, runs, notes).

The export is a plain JSON file a learner can keep, diff, or move to another machine::

    {"format": "llmlab-path", "schema_version": 2, "exported": "2026-03-02T10:00:00",
     "plan": {"track": "beginner", "start": "2026-03-02", ...} or null,
     "tasks": [...], "runs": [...], "notes": [...]}

An import is checked completely before anything is written, and then written in one
transaction, so a malformed file changes nothing and gets one precise line, e.g.
``path.json: 'tasks[3].date' must be an ISO date, got '2026-13-01'``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from llmlab.path import store
from llmlab.path.store import PathError

FORMAT = "llmlab-path"

# one checker per kind of field: returns None when the value is fine, else what it must be
Check = Callable[[Any], str | None]


def _iso_date(v: Any) -> str | None:
    try:
        date.fromisoformat(v)
        return None if len(v) == 10 else "an ISO date"
    except (TypeError, ValueError):
        return "an ISO date"


def _iso_time(v: Any) -> str | None:
    try:
        datetime.fromisoformat(v)
        return None
    except (TypeError, ValueError):
        return "an ISO date and time"


def _int(low: int) -> Check:
    return lambda v: None if type(v) is int and v >= low else f"a whole number >= {low}"


def _hours(v: Any) -> str | None:
    ok = type(v) in (int, float) and 0 < v <= 24
    return None if ok else "a number of hours above 0"


def _text(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else "non-empty text"


def _one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else "one of " + ", ".join(choices)


def _figures(v: Any) -> str | None:
    ok = isinstance(v, dict) and all(
        type(x) in (int, float, str) for x in v.values()
    )  # keys of a JSON object are always text
    return None if ok else "an object of name: number or text"


def _optional(check: Check) -> Check:
    return lambda v: None if v is None else check(v)


PLAN = {"track": _text, "start": _iso_date, "hours_per_day": _hours, "days_per_week": _int(1),
        "curriculum": _optional(_text), "created": _iso_time}  # fmt: skip
TASK = {"id": _int(1), "seq": _int(0), "date": _iso_date, "topic": _text, "title": _text, "section": _text,
        "part": _int(1), "parts": _int(1), "hours": _hours, "status": _one_of("todo", "done", "skipped"),
        "done_at": _optional(_iso_time), "note": _optional(_text), "run_id": _optional(_int(1))}  # fmt: skip
RUN = {"id": _int(1), "lab": _text, "command": _text, "figures": _figures, "run_dir": _optional(_text),
       "at": _iso_time}  # fmt: skip
NOTE = {"id": _int(1), "topic": _text, "question": _text, "answer": _optional(_text), "created": _iso_time,
        "answered": _optional(_iso_time)}  # fmt: skip


def export_data(db: sqlite3.Connection) -> dict[str, Any]:
    """Everything in the database as one JSON-ready dict."""
    plan = store.active_plan(db)
    tasks = store.plan_tasks(db, plan["id"]) if plan is not None else []
    return {
        "format": FORMAT,
        "schema_version": store.SCHEMA_VERSION,
        "exported": store.now().isoformat(),
        "plan": {k: plan[k] for k in PLAN} if plan is not None else None,
        "tasks": [{k: t[k] for k in TASK} for t in tasks],
        "runs": [
            {**{k: r[k] for k in RUN}, "figures": json.loads(r["figures"])}
            for r in db.execute("SELECT * FROM runs ORDER BY id")
        ],
        "notes": [{k: n[k] for k in NOTE} for n in db.execute("SELECT * FROM notes ORDER BY id")],
    }


def export_file(db: sqlite3.Connection, out: Path) -> Path:
    from llmlab.assets.files import atomic_write_bytes

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(export_data(db), indent=2, ensure_ascii=False) + "\n").encode())
    return out


def validate(data: Any, name: str) -> None:
    """Check an export file's content; raises PathError naming the first bad field."""

    def fail(where: str, must: str, got: Any) -> None:
        raise PathError(f"{name}: {where!r} must be {must}, got {got!r}")

    def check_record(record: Any, spec: dict[str, Check], where: str) -> None:
        if not isinstance(record, dict):
            fail(where, "an object", record)
        for key, check in spec.items():
            if key not in record:
                raise PathError(f"{name}: '{where}.{key}' is missing")
            must = check(record[key])
            if must is not None:
                fail(f"{where}.{key}", must, record[key])

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PathError(f'{name}: not an llmlab learning-path export (no "format": "{FORMAT}")')
    for key in ("tasks", "runs", "notes"):
        if not isinstance(data.get(key), list):
            fail(key, "a list", data.get(key))
    if data.get("plan") is not None:
        check_record(data["plan"], PLAN, "plan")
    elif data["tasks"]:
        raise PathError(f"{name}: 'tasks' need a 'plan' to belong to, but 'plan' is null")
    for key, spec in (("runs", RUN), ("tasks", TASK), ("notes", NOTE)):
        seen: set[int] = set()
        for i, record in enumerate(data[key]):
            check_record(record, spec, f"{key}[{i}]")
            if record["id"] in seen:
                fail(f"{key}[{i}].id", "unique", record["id"])
            seen.add(record["id"])
    runs = {r["id"] for r in data["runs"]}
    for i, t in enumerate(data["tasks"]):
        if t["part"] > t["parts"]:
            fail(f"tasks[{i}].part", f"at most parts ({t['parts']})", t["part"])
        if t["run_id"] is not None and t["run_id"] not in runs:
            fail(f"tasks[{i}].run_id", "the id of a run in 'runs'", t["run_id"])


def read_file(path: Path) -> dict[str, Any]:
    """Read and validate an export file (nothing is written)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PathError(f"{path.name}: file not found ({path})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PathError(f"{path.name}: cannot read it ({e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PathError(f"{path.name}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    validate(data, path.name)
    return data


def import_file(db: sqlite3.Connection, path: Path, *, replace: bool = False) -> dict[str, int]:
    """Load an export into the database, all of it or nothing; returns counts per table."""
    data = read_file(path)
    with store.transaction(db):
        held = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("plans", "runs", "notes")}
        if any(held.values()) and not replace:
            raise PathError(
                f"the learning path already holds {held['plans']} plan(s), {held['runs']} runs and "
                f"{held['notes']} notes; add --replace to overwrite them with {path.name}"
            )
        for table in ("tasks", "plans", "notes", "runs"):
            db.execute(f"DELETE FROM {table}")
        for r in data["runs"]:
            db.execute(
                "INSERT INTO runs (id, lab, command, figures, run_dir, at) VALUES (?, ?, ?, ?, ?, ?)",
                (r["id"], r["lab"], r["command"], json.dumps(r["figures"]), r["run_dir"], r["at"]),
            )
        if data["plan"] is not None:
            p = data["plan"]
            cur = db.execute(
                "INSERT INTO plans (track, start, hours_per_day, days_per_week, curriculum, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                tuple(p[k] for k in PLAN),
            )
            cols = ", ".join(TASK)
            db.executemany(
                f"INSERT INTO tasks (plan_id, {cols}) VALUES ({', '.join(['?'] * (len(TASK) + 1))})",
                [(cur.lastrowid, *(t[k] for k in TASK)) for t in data["tasks"]],
            )
        db.executemany(
            f"INSERT INTO notes ({', '.join(NOTE)}) VALUES ({', '.join(['?'] * len(NOTE))})",
            [tuple(n[k] for k in NOTE) for n in data["notes"]],
        )
    return {"tasks": len(data["tasks"]), "runs": len(data["runs"]), "notes": len(data["notes"])}
