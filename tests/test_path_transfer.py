"""JSON export/import: a round trip keeps everything; each malformed file is one precise error, nothing written."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from llmlab.path import notes, progress, store, transfer
from llmlab.path.curriculum import load_curriculum
from llmlab.path.plan import start_plan
from llmlab.path.results import record_run
from test_path_fixtures import set_today, write_curriculum

START = date(2030, 1, 7)


@pytest.fixture
def exported(tmp_path, monkeypatch) -> dict:
    """A plan with a ticked task, a recorded run that ticked another, two notes; exported."""
    set_today(monkeypatch, START)
    cur_dir = write_curriculum(tmp_path / "cur")
    with store.opened() as db:
        start_plan(db, load_curriculum(cur_dir), "beginner", START, 2.0, 5, curriculum_folder=cur_dir)
        progress.mark_done(db, "tokens", note="merges")
        notes.add_note(db, "tokens", "What is a merge?", "Two tokens become one.")
        notes.add_note(db, "attention", "What is a head?")
    record_run("train", "llmlab train --steps 5", {"val_loss": 2.5, "steps": 5}, run_dir="runs/x")
    with store.opened() as db:
        return transfer.export_data(db)


def test_export_import_round_trip_into_a_new_home(exported, tmp_path, monkeypatch) -> None:
    assert [t["status"] for t in exported["tasks"]].count("done") == 2
    assert exported["runs"][0]["figures"] == {"val_loss": 2.5, "steps": 5}
    (tmp_path / "path.json").write_text(json.dumps(exported))
    monkeypatch.setenv("LLMLAB_HOME", str(tmp_path / "other home"))
    with store.opened() as db:
        assert transfer.import_file(db, tmp_path / "path.json") == {"tasks": 6, "runs": 1, "notes": 2}
        again = transfer.export_data(db)
        assert [n["id"] for n in notes.search_notes(db, "merge")] == [1]  # the search index is rebuilt too
    assert {k: v for k, v in again.items() if k != "exported"} == {
        k: v for k, v in exported.items() if k != "exported"
    }


def _break(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("tasks.3.date", "2026-13-01", "path.json: 'tasks[3].date' must be an ISO date, got '2026-13-01'"),
        ("tasks.0.status", "finished", "path.json: 'tasks[0].status' must be one of todo, done, skipped, got 'finished'"),
        ("tasks.1.hours", "two", "path.json: 'tasks[1].hours' must be a number of hours above 0, got 'two'"),
        ("tasks.2.run_id", 77, "path.json: 'tasks[2].run_id' must be the id of a run in 'runs', got 77"),
        ("tasks.2.part", 3, "path.json: 'tasks[2].part' must be at most parts (2), got 3"),
        ("tasks.4.topic", KeyError, "path.json: 'tasks[4].topic' is missing"),
        ("notes.1.id", 1, "path.json: 'notes[1].id' must be unique, got 1"),
        ("runs.0.figures", {"loss": [1, 2]}, "path.json: 'runs[0].figures' must be an object of name: number or text, got {'loss': [1, 2]}"),
        ("plan.start", "soon", "path.json: 'plan.start' must be an ISO date, got 'soon'"),
        ("plan", None, "path.json: 'tasks' need a 'plan' to belong to, but 'plan' is null"),
        ("notes", {}, "path.json: 'notes' must be a list, got {}"),
        ("format", "something", 'path.json: not an llmlab learning-path export (no "format": "llmlab-path")'),
    ],
)  # fmt: skip
def test_a_malformed_import_is_one_error_and_changes_nothing(
    exported, tmp_path, path, value, message
) -> None:
    (tmp_path / "path.json").write_text(json.dumps(_break(exported, path, value)))
    with store.opened() as db:
        before = transfer.export_data(db)
        with pytest.raises(store.PathError) as e:
            transfer.import_file(db, tmp_path / "path.json", replace=True)
        after = transfer.export_data(db)
    assert str(e.value) == message
    assert {k: v for k, v in after.items() if k != "exported"} == {
        k: v for k, v in before.items() if k != "exported"
    }


def test_unreadable_files_are_one_error(tmp_path) -> None:
    (tmp_path / "path.json").write_text('{"format": "llmlab-path",\n "tasks": [}')
    with store.opened() as db:
        with pytest.raises(store.PathError, match=r"path.json: not valid JSON \(line 2, column 12: "):
            transfer.import_file(db, tmp_path / "path.json")
        with pytest.raises(store.PathError, match="nothing.json: file not found"):
            transfer.import_file(db, tmp_path / "nothing.json")
