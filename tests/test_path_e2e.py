"""End to end: a real `llmlab train` run ticks its task with its figures, and the weekly report shows them."""

from __future__ import annotations

import json
from datetime import date

import pytest

from llmlab.cli.main import main
from llmlab.path import store
from llmlab.path.results import format_figure, record_run
from llmlab.tokenizers.bpe_fast import train_bpe_fast
from llmlab.tokenizers.registry import save_tokenizer
from test_path_fixtures import set_today, write_curriculum

START = date(2030, 1, 7)
TEXT = "\n".join(
    f"{who}: the {what} of Verona is {how}, and the {what} will be {how} again."
    for who in ("ROMEO", "JULIET", "NURSE") for what in ("moon", "night", "rose") for how in ("fair", "dark", "sweet")
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster


def test_a_train_run_ticks_its_task_with_its_figures_and_the_report_shows_them(tmp_path, monkeypatch, capsys):
    set_today(monkeypatch, START)
    cur = write_curriculum(tmp_path / "cur")
    assert main(["path", "start", "--hours-per-day", "2", "--curriculum", str(cur)]) == 0
    (tmp_path / "corpus").mkdir()
    for i in range(3):
        (tmp_path / "corpus" / f"part{i}.txt").write_text(TEXT, encoding="utf-8")
    save_tokenizer(
        train_bpe_fast([TEXT], 300, special_tokens=["<|endoftext|>"], name="tiny"), tmp_path / "tok"
    )
    capsys.readouterr()
    code = main([
        "train", "--preset", "gpt2-debug", "--corpus", str(tmp_path / "corpus"), "--tokenizer",
        str(tmp_path / "tok" / "tokenizer.json"), "--steps", "5", "--seq-len", "32", "--batch-size", "2",
        "--eval-every", "5", "--out", str(tmp_path / "run"),
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "learning path: ticked 'training-loop' (planned for 2030-01-14)" in out
    # the figures recorded are the run's own, read back from its metrics file
    last_eval = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    last_eval = [r for r in last_eval if "val_loss" in r][-1]
    with store.opened() as db:
        task = db.execute("SELECT * FROM tasks WHERE topic = 'training-loop'").fetchone()
        run = db.execute("SELECT * FROM runs WHERE id = ?", (task["run_id"],)).fetchone()
        others = db.execute("SELECT count(*) FROM tasks WHERE status = 'done'").fetchone()[0]
    figures = json.loads(run["figures"])
    assert task["status"] == "done" and task["done_at"].startswith("2030-01-07") and others == 1
    assert run["lab"] == "train" and run["run_dir"] == str(tmp_path / "run")
    assert run["command"].startswith("llmlab train --preset gpt2-debug")
    assert figures["val_loss"] == pytest.approx(last_eval["val_loss"], abs=1e-4)
    assert figures["perplexity"] == pytest.approx(last_eval["val_ppl"], abs=1e-4)
    assert figures["steps"] == 5 and figures["tokens"] == 5 * 2 * 32
    assert main(["report", "week", "1", "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "week-1.md").read_text()
    shown = (
        f"val_loss {format_figure(figures['val_loss'])}, perplexity {format_figure(figures['perplexity'])}"
    )
    assert shown in md and md.count(shown) == 2  # under "Topics covered" and under "What I ran"
    assert "| 2030-01-07 | The training loop | models |" in md and "llmlab train --preset gpt2-debug" in md
    html = (tmp_path / "rep" / "week-1.html").read_text()
    assert shown in html


def test_recording_never_breaks_the_lab(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LLMLAB_NO_RECORD", "1")
    assert record_run("train", "llmlab train", {"val_loss": 2.0}) == 0
    assert not store.db_path().exists()
    monkeypatch.delenv("LLMLAB_NO_RECORD")
    store.db_path().parent.mkdir(parents=True)
    store.db_path().write_bytes(b"this is not a database" * 100)
    assert record_run("train", "llmlab train", {"val_loss": 2.0}) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: this run was not recorded in the learning path")
    store.db_path().unlink()
    run_id = record_run("train", "llmlab train", {"val_loss": float("nan"), "note": "ok", "steps": 3})
    assert run_id == 1
    with store.opened() as db:
        assert json.loads(db.execute("SELECT figures FROM runs").fetchone()[0]) == {
            "val_loss": "nan",
            "note": "ok",
            "steps": 3,
        }


def test_a_locked_database_is_a_warning_not_a_failure(tmp_path, monkeypatch, capsys) -> None:
    db = store.connect()
    db.execute("BEGIN EXCLUSIVE")  # another process holds the write lock for longer than we wait
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 200)
    try:
        assert record_run("train", "llmlab train", {"val_loss": 2.0}) == 0
    finally:
        db.execute("ROLLBACK")
        db.close()
    err = capsys.readouterr().err
    assert "warning: this run was not recorded in the learning path (database is locked)" in " ".join(
        err.split()
    )
