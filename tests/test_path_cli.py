"""`llmlab path`, `llmlab notes` and `llmlab report` as a learner runs them, on the fixture curriculum."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from llmlab.cli.main import main
from llmlab.path import store
from test_path_fixtures import set_today, write_curriculum

START = date(2030, 1, 7)  # a Monday


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


@pytest.fixture
def planned(tmp_path: Path, monkeypatch, capsys) -> Path:
    """A beginner plan on the fixture curriculum, starting today (2030-01-07), 2 h a day."""
    set_today(monkeypatch, START)
    cur = write_curriculum(tmp_path / "cur")
    code, out, err = run(capsys, "path", "start", "--track", "beginner", "--hours-per-day", "2",
                         "--curriculum", str(cur))  # fmt: skip
    assert code == 0, err
    return cur


@pytest.mark.parametrize(
    "group, commands",
    [
        ("path", ["start", "today", "next", "done", "skip", "replan", "status", "show", "export", "import"]),
        ("notes", ["add", "answer", "list", "search", "export"]),
        ("report", ["week"]),
    ],
)
def test_every_command_has_help_with_an_example(capsys, group, commands) -> None:
    for command in commands:
        code, out, _ = run(capsys, group, command, "--help")
        assert code == 0
        assert f"llmlab {group} {command}" in out.replace("\n", " ") and "Example" in out, (group, command)


def test_start_writes_the_plan_and_says_when_the_track_does_not_fit(planned, capsys) -> None:
    code, out, _ = run(capsys, "path", "show")
    assert code == 0
    assert "Mon 2030-01-07" in out and "backprop" in out and "2/2" in out
    code, out, _ = run(capsys, "path", "show", "--week", "2")
    assert code == 0 and "training-loop" in out and "tokens" not in out
    code, _, err = run(capsys, "path", "start", "--curriculum", str(planned))
    assert code == 1 and "a beginner plan from 2030-01-07 already exists; add --replace to start over" in err
    code, out, _ = run(capsys, "path", "start", "--replace", "--curriculum", str(planned))
    assert code == 0 and "2.5 h a day" in out and "note:" not in out  # the default: the fewest that fit
    code, out, _ = run(
        capsys, "path", "start", "--replace", "--hours-per-day", "2", "--curriculum", str(planned)
    )
    assert code == 0 and "--hours-per-day 2.5 would fit" in out.replace("\n", " ")
    code, _, err = run(capsys, "path", "start", "--replace", "--hours-per-day", "2", "--strict",
                       "--curriculum", str(planned))  # fmt: skip
    assert code == 1 and "the plan runs to 2030-01-14, 1 day past its 1 week" in err


def test_today_next_done_skip_status(planned, capsys, monkeypatch) -> None:
    code, out, _ = run(capsys, "path", "today")
    assert code == 0 and "Monday 2030-01-07" in out and "Tokens and tokenizers" in out
    assert "visual: A picture of it" in out and "lab: llmlab tokenizer train" in out and "planned" in out
    code, out, _ = run(capsys, "path", "done", "tokens", "--note", "BPE merges pairs")
    assert code == 0 and "Tokens and tokenizers" in out and "Next: Word embeddings on 2030-01-08" in out
    code, out, _ = run(capsys, "path", "today")
    assert "✓ Tokens and tokenizers" in out and "note: BPE merges pairs" in out
    code, out, _ = run(capsys, "path", "next")
    assert code == 0 and "2030-01-08" in out and "Word embeddings" in out
    code, out, _ = run(capsys, "path", "done", "backprop")  # a long topic: one part at a time
    assert code == 0 and "Backpropagation (part 1/2)" in out and "(part 2/2)" not in out
    code, out, _ = run(capsys, "path", "skip", "backprop")
    assert code == 0 and "skipped Backpropagation (part 2/2)" in out
    code, _, err = run(capsys, "path", "skip", "backprop")
    assert code == 1 and "'backprop' has no unfinished part left to skip" in err
    code, _, err = run(capsys, "path", "done", "tokens")
    assert code == 1 and "'tokens' is already done on 2030-01-07" in err
    code, out, _ = run(capsys, "path", "status")
    assert code == 0 and "streak: 1 study day in a row" in out
    assert (
        "hours: 3.0 done, 1.0 planned up to today, 7.5 in the plan" in out
    )  # backprop's skipped hour left out
    assert "Basics" in out and "█" in out


def test_missed_days_then_replan(planned, capsys, monkeypatch) -> None:
    run(capsys, "path", "done", "tokens")
    set_today(monkeypatch, START + timedelta(days=3))  # Thursday: three study days missed
    code, out, _ = run(capsys, "path", "today")
    assert "2 task(s) from past days are not done" in out and "llmlab path replan" in out
    code, out, _ = run(capsys, "path", "replan")
    assert code == 0 and "moved 5 unfinished task(s) (2 overdue) from 2030-01-10 on" in out
    code, out, _ = run(capsys, "path", "today")
    assert "Word embeddings" in out and "not done" not in out
    with store.opened() as db:
        first = db.execute("SELECT date, status FROM tasks WHERE topic = 'tokens'").fetchone()
    assert tuple(first) == ("2030-01-07", "done")  # completed work stays where it was


@pytest.mark.parametrize(
    "args, message",
    [
        (["path", "start", "--track", "expert"], "unknown track 'expert'; choose one of: beginner, advanced"),
        (["path", "start", "--from", "2030-01-03"],
         "the plan cannot start on 2030-01-03, which is in the past; use today or later"),
        (["path", "start", "--from", "2030-13-01"], "--from must be an ISO date like 2026-03-02, got '2030-13-01'"),
        (["path", "start", "--hours-per-day", "0"], "hours per day must be more than 0 and at most 16, got 0"),
        (["path", "start", "--hours-per-day", "17"], "hours per day must be more than 0 and at most 16, got 17"),
        (["path", "done", "embedings"], "unknown topic 'embedings' (did you mean 'embeddings'?)"),
        (["path", "done", "scaling"], "topic 'scaling' (Scaling laws) is not in your beginner plan"),
        (["notes", "add", "atention", "Why?"], "unknown topic 'atention' (did you mean 'attention'?)"),
        (["notes", "answer", "42", "yes"], "there is no note #42"),
        (["report", "week", "9"], "week 9 is not in your plan: it has weeks 1 to 2 (from 2030-01-07)"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error(planned, capsys, args, message) -> None:
    extra = ["--replace", "--curriculum", str(planned)] if args[:2] == ["path", "start"] else []
    code, out, err = run(capsys, *args, *extra)
    assert code == 1 and message in err
    assert err.startswith("error: ") and "Traceback" not in err


def test_commands_without_a_plan_say_how_to_start_one(capsys) -> None:
    for command in ("today", "next", "status", "show", "replan"):
        code, _, err = run(capsys, "path", command)
        assert code == 1 and "there is no learning plan yet; start one with `llmlab path start" in err


def test_notes_add_answer_list_search_export(planned, capsys, tmp_path) -> None:
    code, out, _ = run(capsys, "notes", "add", "attention", "Why divide the scores by sqrt(d_k)?")
    assert code == 0 and "note #1 on attention (open" in out
    run(capsys, "notes", "add", "tokens", "Is a token a word?", "--answer", "No: often a piece of one.")
    code, out, _ = run(capsys, "path", "today")
    assert "Open questions (1)" in out and "#1 Why divide" in out
    code, out, _ = run(capsys, "notes", "list", "--open")
    assert "sqrt(d_k)" in out and "token a word" not in out
    code, out, _ = run(
        capsys, "notes", "answer", "1", "The dot products grow with d_k; softmax would saturate."
    )
    assert code == 0 and "note #1 answered" in out
    code, out, _ = run(capsys, "path", "today")
    assert "Open questions" not in out
    code, out, _ = run(capsys, "notes", "search", "softmax")
    assert code == 0 and "sqrt(d_k)" in out and "token a word" not in out
    code, out, _ = run(capsys, "notes", "list", "--topic", "tokens")
    assert "token a word" in out and "sqrt" not in out
    code, out, _ = run(capsys, "notes", "export", "--out", str(tmp_path / "nb.md"))
    text = (tmp_path / "nb.md").read_text()
    assert code == 0 and text.index("## Basics") < text.index("### Tokens and tokenizers") < text.index(
        "## Models"
    )
    assert "**A:** No: often a piece of one." in text


def test_report_week_writes_markdown_and_html(planned, capsys, tmp_path) -> None:
    run(capsys, "path", "done", "tokens", "--note", "BPE merges the most frequent pair")
    run(capsys, "notes", "add", "tokens", "What is a merge?", "--answer", "Two tokens become one.")
    run(capsys, "notes", "add", "attention", "What is a head?")
    code, out, _ = run(capsys, "report", "week", "1", "--out", str(tmp_path / "rep"))
    assert code == 0 and "week-1.md" in out and "week-1.html" in out
    md = (tmp_path / "rep" / "week-1.md").read_text()
    assert md.startswith("# Week 1: 2030-01-07 to 2030-01-13")
    assert "| 2030-01-07 | Tokens and tokenizers | basics | BPE merges the most frequent pair |" in md
    assert "**Q:** What is a merge? **A:** Two tokens become one." in md
    assert "What is a head? (attention, #2" in md
    assert "| 2030-01-14 | The training loop | 1 h |" in md  # next week's plan
    html = (tmp_path / "rep" / "week-1.html").read_text()
    assert "<strong>Q:</strong> What is a merge?" in html
    assert "http://" not in html and "https://" not in html and "src=" not in html  # nothing to fetch


def test_export_then_import_round_trips_and_a_malformed_file_changes_nothing(
    planned, capsys, tmp_path
) -> None:
    run(capsys, "path", "done", "tokens")
    run(capsys, "notes", "add", "tokens", "What is a merge?")
    code, out, _ = run(capsys, "path", "export", "--out", str(tmp_path / "path.json"))
    assert code == 0
    data = json.loads((tmp_path / "path.json").read_text())
    assert (
        data["plan"]["track"] == "beginner"
        and len(data["tasks"]) == 6
        and data["tasks"][0]["status"] == "done"
    )
    data["tasks"][3]["date"] = "2026-13-01"
    (tmp_path / "bad" / "path.json").parent.mkdir()
    (tmp_path / "bad" / "path.json").write_text(json.dumps(data))
    before = (tmp_path / "path.json").read_text()
    code, _, err = run(capsys, "path", "import", str(tmp_path / "bad" / "path.json"), "--replace")
    assert code == 1 and "path.json: 'tasks[3].date' must be an ISO date, got '2026-13-01'" in err
    run(capsys, "path", "export", "--out", str(tmp_path / "again.json"))
    again = json.loads((tmp_path / "again.json").read_text())
    assert {k: v for k, v in again.items() if k != "exported"} == {
        k: v for k, v in json.loads(before).items() if k != "exported"
    }  # nothing changed
    code, _, err = run(capsys, "path", "import", str(tmp_path / "path.json"))
    assert code == 1 and "add --replace to overwrite them" in err
    code, out, _ = run(capsys, "path", "import", str(tmp_path / "path.json"), "--replace")
    assert code == 0 and "imported 6 tasks, 0 runs and 1 notes" in out
