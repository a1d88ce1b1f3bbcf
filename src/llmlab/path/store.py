"""The learning path's database: one SQLite file, ``<data home>/path.sqlite``.

Everything the learning path keeps (the plan and its tasks, the lab runs, the notes) lives in
one SQLite database, so the CLI and, later, the studio can read and write it at the same time
without corrupting it. What makes that safe:

1. **WAL mode** (write-ahead log): readers never block the writer and the writer never blocks
   readers; a commit appends to ``path.sqlite-wal`` and is durable once ``COMMIT`` returns
   (``synchronous=FULL``: it is on disk, so a killed process or a power cut loses nothing
   committed). See https://www.sqlite.org/wal.html.
2. **busy_timeout**: when two processes want to write at once, the second waits (up to
   ``BUSY_TIMEOUT_MS``) instead of failing with "database is locked".
3. **BEGIN IMMEDIATE** for every write: the write lock is taken when the transaction starts,
   never upgraded half-way (an upgrade that collides cannot wait, it fails at once).
4. **Foreign keys** on, so a task never points at a run that is not there.
5. **Migrations**: the schema version is ``PRAGMA user_version``; ``MIGRATIONS[i]`` moves a
   database from version ``i`` to ``i + 1``. A new column is a new migration at the end of the
   list, never an edit of an old one. They run inside one write transaction, so two processes
   opening a new file at once cannot both apply them.

``today()`` is the one clock of the learning path: tests monkeypatch ``llmlab.path.store.today``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

from llmlab.assets.home import data_home, ensure_writable
from llmlab.errors import LLMLabError

DB_NAME = "path.sqlite"
BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for another one before "database is locked"


class PathError(LLMLabError):
    """A user error of the learning path: bad dates, no plan, a malformed import file..."""


def today() -> date:
    """Today's date: the single place the learning path reads the clock (patched in tests)."""
    return date.today()


def now() -> datetime:
    """A timestamp on ``today()`` (so a patched day moves the timestamps with it), to the second."""
    return datetime.combine(today(), datetime.now().time()).replace(microsecond=0)


def db_path() -> Path:
    return data_home() / DB_NAME


# --- the schema, one migration per version ---------------------------------------------------

V1 = """
CREATE TABLE plans (
    id INTEGER PRIMARY KEY,
    track TEXT NOT NULL,
    start TEXT NOT NULL,                      -- ISO date of day 1
    hours_per_day REAL NOT NULL,
    days_per_week INTEGER NOT NULL,
    curriculum TEXT,                          -- a curriculum folder, or NULL for the packaged one
    created TEXT NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    lab TEXT NOT NULL,                        -- the lab key, e.g. 'train'
    command TEXT NOT NULL,
    figures TEXT NOT NULL,                    -- JSON object of name -> number or text
    run_dir TEXT,
    at TEXT NOT NULL                          -- ISO timestamp
);
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,                     -- position in the prerequisite order of the plan
    date TEXT NOT NULL,
    topic TEXT NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    part INTEGER NOT NULL,                    -- part `part` of `parts` (a long topic spans days)
    parts INTEGER NOT NULL,
    hours REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'done', 'skipped')),
    done_at TEXT,
    note TEXT,
    run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL
);
CREATE INDEX tasks_by_date ON tasks(plan_id, date, seq);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT,
    created TEXT NOT NULL,
    answered TEXT
);
CREATE INDEX notes_by_topic ON notes(topic);
"""

# Full-text search over the notes, kept in step by triggers (an external-content FTS5 table:
# https://www.sqlite.org/fts5.html#external_content_tables). Skipped where FTS5 is not compiled in.
NOTES_FTS = """
CREATE VIRTUAL TABLE notes_fts USING fts5(question, answer, content='notes', content_rowid='id');
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts(rowid, question, answer) VALUES (new.id, new.question, coalesce(new.answer, ''));
END;
CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN
    INSERT INTO notes_fts(notes_fts, rowid, question, answer)
    VALUES ('delete', old.id, old.question, coalesce(old.answer, ''));
END;
CREATE TRIGGER notes_au AFTER UPDATE ON notes BEGIN
    INSERT INTO notes_fts(notes_fts, rowid, question, answer)
    VALUES ('delete', old.id, old.question, coalesce(old.answer, ''));
    INSERT INTO notes_fts(rowid, question, answer) VALUES (new.id, new.question, coalesce(new.answer, ''));
END;
"""


def _v1(db: sqlite3.Connection) -> None:
    for statement in _statements(V1):
        db.execute(statement)


def _v2_notes_search(db: sqlite3.Connection) -> None:
    if has_fts5(db):
        for statement in _statements(NOTES_FTS):
            db.execute(statement)
        # subtle: the triggers only see future writes; index the notes that are already there
        db.execute("INSERT INTO notes_fts(notes_fts) VALUES ('rebuild')")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2_notes_search]
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a script on the ``;`` that ends a statement (triggers hold ``;`` inside BEGIN..END)."""
    out, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if line.rstrip().endswith(";") and sqlite3.complete_statement(current):
            out.append(current)
            current = ""
    return out


def has_fts5(db: sqlite3.Connection) -> bool:
    return bool(db.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')").fetchone()[0])


def has_notes_search(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'notes_fts'").fetchone()
    return row is not None


# --- opening and transactions ------------------------------------------------------------------


def connect(path: Path | None = None, *, busy_timeout_ms: int | None = None) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the learning-path database.

    The connection is in autocommit mode (``isolation_level=None``): reads see the newest
    commit, and writes go through :func:`transaction`.
    """
    path = path or db_path()
    busy_timeout_ms = BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
    ensure_writable(path.parent)
    db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    _retry_busy(lambda: db.execute("PRAGMA journal_mode = WAL"), busy_timeout_ms)
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    migrate(db)
    return db


def _retry_busy(op: Callable[[], object], budget_ms: int) -> None:
    # subtle: switching a brand-new file to WAL takes an exclusive lock and does not always go
    # through the busy handler, so two processes creating the file at once retry here
    deadline = time.monotonic() + budget_ms / 1000
    while True:
        try:
            op()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``with transaction(db):`` runs the block as one write transaction: all of it or nothing."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema to ``SCHEMA_VERSION``; returns the version the file had before."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return version
    with transaction(db):
        # read again under the write lock: another process may have migrated meanwhile
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise PathError(
                f"{DB_NAME} has schema version {version}, newer than this llmlab ({SCHEMA_VERSION}); "
                "upgrade llmlab"
            )
        for step in MIGRATIONS[version:]:
            step(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return version


@contextlib.contextmanager
def opened(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """``with opened() as db:`` a connection that is closed afterwards."""
    db = connect(path)
    try:
        yield db
    finally:
        db.close()


# --- small queries every module shares -----------------------------------------------------------


def active_plan(db: sqlite3.Connection) -> sqlite3.Row | None:
    """The current plan (the newest one), or None."""
    return db.execute("SELECT * FROM plans ORDER BY id DESC LIMIT 1").fetchone()


def require_plan(db: sqlite3.Connection) -> sqlite3.Row:
    plan = active_plan(db)
    if plan is None:
        raise PathError(
            "there is no learning plan yet; start one with "
            "`llmlab path start --track beginner --hours-per-day 2`"
        )
    return plan


def plan_tasks(db: sqlite3.Connection, plan_id: int) -> list[sqlite3.Row]:
    """The plan's tasks in the order they are studied: by date, then prerequisite order."""
    return db.execute("SELECT * FROM tasks WHERE plan_id = ? ORDER BY date, seq, part", (plan_id,)).fetchall()


def parse_date(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise PathError(f"{what} must be an ISO date like 2026-03-02, got {text!r}") from None
