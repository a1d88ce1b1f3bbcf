"""The learning-path database: pragmas, migrations, and safety under SIGKILL and concurrent writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from llmlab.cli.main import main
from llmlab.path import store
from test_path_fixtures import write_curriculum

# A child that commits one run and one note per transaction and acknowledges each commit on stdout
CRASH_CHILD = textwrap.dedent(
    """
    from llmlab.path import store
    db = store.connect()
    for i in range(1_000_000):
        with store.transaction(db):
            db.execute("INSERT INTO runs (lab, command, figures, at) VALUES ('train', ?, '{}', '2030-01-07T10:00:00')",
                       (f"run {i}",))
            db.execute("INSERT INTO notes (topic, question, created) VALUES ('tokens', ?, '2030-01-07T10:00:00')",
                       (f"question {i}",))
        print(i, flush=True)
    """
)

# A child that writes through the public API: record_run and add_note, alternately
WRITER_CHILD = textwrap.dedent(
    """
    import sys
    from llmlab.path import notes, store
    from llmlab.path.results import record_run
    name, n = sys.argv[1], int(sys.argv[2])
    db = store.connect()
    for i in range(n):
        print("run", record_run("train", f"llmlab train {name} {i}", {"i": i}), flush=True)
        print("note", notes.add_note(db, "tokens", f"{name} question {i}?"), flush=True)
    """
)


def test_a_new_database_is_wal_with_foreign_keys_and_the_latest_schema(tmp_path: Path) -> None:
    db = store.connect(tmp_path / "p.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == store.BUSY_TIMEOUT_MS
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == len(store.MIGRATIONS)
    with pytest.raises(sqlite3.IntegrityError):  # a task must belong to a plan
        with store.transaction(db):
            db.execute(
                "INSERT INTO tasks (plan_id, seq, date, topic, title, section, part, parts, hours) "
                "VALUES (99, 0, '2030-01-07', 'x', 'X', 's', 1, 1, 1.0)"
            )
    assert db.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0  # rolled back
    db.close()


def test_migrating_a_version_1_file_keeps_its_notes_and_indexes_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    store.MIGRATIONS[0](old)  # the file as the first release wrote it
    old.execute(
        "INSERT INTO notes (topic, question, created) VALUES ('attention', 'Why sqrt of d_k?', '2030-01-07')"
    )
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    db = store.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    if store.has_fts5(db):
        assert store.has_notes_search(db)
        hits = db.execute("SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'sqrt'").fetchall()
        assert [h[0] for h in hits] == [1]
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(store.PathError, match="schema version 99, newer than this llmlab"):
        store.connect(path)


def _count(path: Path, table: str) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


def test_a_killed_writer_loses_nothing_committed_and_leaves_a_sound_file(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CRASH_CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    acked = []
    for line in child.stdout:  # wait until it is well into its writes, then kill it mid-flight
        acked.append(int(line))
        if len(acked) >= 150:
            os.kill(child.pid, signal.SIGKILL)
            break
    acked += [int(line) for line in child.stdout]  # commits acknowledged before the kill landed
    child.wait()
    assert child.returncode == -signal.SIGKILL
    path = store.db_path()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    runs = {r[0] for r in db.execute("SELECT command FROM runs")}
    questions = {r[0] for r in db.execute("SELECT question FROM notes")}
    db.close()
    assert {f"run {i}" for i in acked} <= runs  # every acknowledged commit is there
    assert len(runs) - len(acked) in (0, 1)  # at most the one committed as the kill landed
    assert {q.replace("question", "run") for q in questions} == runs  # no half transaction
    assert store.connect().execute("SELECT count(*) FROM runs").fetchone()[0] == len(runs)  # reopens fine


def test_two_processes_writing_at_once_both_succeed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store, "today", lambda: date(2030, 1, 7))
    cur = write_curriculum(tmp_path / "cur")
    assert main(["path", "start", "--from", "2030-01-07", "--curriculum", str(cur)]) == 0
    n = 200
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER_CHILD, name, str(n)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
        for name in ("cli", "studio")
    ]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "warning" not in out + err and "locked" not in out + err
    ids = {kind: [int(line.split()[-1]) for o, _ in outputs for line in o.splitlines() if line.startswith(kind)]
           for kind in ("run", "note")}  # fmt: skip
    assert len(ids["run"]) == len(set(ids["run"])) == 2 * n and 0 not in ids["run"]
    assert len(ids["note"]) == len(set(ids["note"])) == 2 * n
    assert _count(store.db_path(), "runs") == 2 * n and _count(store.db_path(), "notes") == 2 * n
    db = store.connect()
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ticked = db.execute("SELECT run_id FROM tasks WHERE topic = 'training-loop'").fetchall()
    assert len(ticked) == 1 and ticked[0][0] in ids["run"]  # 400 runs of `train` tick its one task once
    db.close()
