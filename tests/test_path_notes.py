"""The Q&A notebook (full-text search and its LIKE fallback, export) and the study streak."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from llmlab.path import notes, progress, store
from llmlab.path.curriculum import load_curriculum
from llmlab.path.plan import start_plan
from llmlab.path.topics import UnknownTopicError
from test_path_fixtures import set_today, write_curriculum

START = date(2030, 1, 7)  # a Monday
QUESTIONS = [
    ("attention", "Why divide the scores by sqrt(d_k)?", "Dot products grow with d_k; softmax saturates."),
    ("attention", "What does a head look at?", None),
    ("tokens", "Is top-p sampling about tokens?", "It keeps the smallest set of tokens with mass p."),
    ("tokens", 'What does "byte-level" mean in BPE?', None),
    ("embeddings", "Why is king - man + woman close to queen?", "Directions in the space carry meaning."),
]


@pytest.fixture
def db(tmp_path, monkeypatch):
    set_today(monkeypatch, START)
    cur_dir = write_curriculum(tmp_path / "cur")
    conn = store.connect()
    start_plan(conn, load_curriculum(cur_dir), "beginner", START, 2.0, 5, curriculum_folder=cur_dir)
    for topic, q, a in QUESTIONS:
        notes.add_note(conn, topic, q, a)
    yield conn
    conn.close()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("softmax", [1]),
        ("tokens", [3]),  # in question 3 and answer 3
        ("TOKENS mass", [3]),  # every word, any case
        ("top-p", [3]),  # a dash is text, not FTS5 syntax
        ('"byte-level"', [4]),  # so are quotes
        ("head OR queen", []),  # and OR is a word here, not an operator
        ("zebra", []),
    ],
)
def test_search_finds_every_word_with_fts5_and_with_the_like_fallback(
    db, monkeypatch, text, expected
) -> None:
    if store.has_notes_search(db):
        assert sorted(n["id"] for n in notes.search_notes(db, text)) == expected
    monkeypatch.setattr(store, "has_notes_search", lambda _db: False)  # a SQLite without FTS5
    assert sorted(n["id"] for n in notes.search_notes(db, text.replace('"', ""))) == expected


def test_the_search_index_follows_answers(db) -> None:
    assert notes.search_notes(db, "subspace") == []
    notes.answer_note(db, 2, "Each head attends within its own subspace.")
    assert [n["id"] for n in notes.search_notes(db, "subspace")] == [2]
    assert [n["id"] for n in notes.list_notes(db, open_only=True)] == [4]


def test_notes_reject_empty_text_and_unknown_topics(db) -> None:
    with pytest.raises(store.PathError, match="the question is empty; write a few words"):
        notes.add_note(db, "tokens", "   ")
    with pytest.raises(store.PathError, match="search for at least one word"):
        notes.search_notes(db, " ")
    with pytest.raises(UnknownTopicError, match="unknown topic 'token' \\(did you mean 'tokens'"):
        notes.add_note(db, "token", "What?")


def test_export_groups_by_section_and_topic_and_marks_open_questions(db) -> None:
    db.execute(
        "INSERT INTO notes (topic, question, created) VALUES ('retired-topic', 'Old question?', '2030-01-01')"
    )
    text = notes.export_markdown(db)
    assert text.startswith("# My LLM notebook\n\n_6 questions, 3 open. Exported 2030-01-07._")
    order = ["## Basics", "### Tokens and tokenizers", "### Word embeddings", "## Models", "### Self-attention",
             "## Other topics", "### retired-topic"]  # fmt: skip
    positions = [text.index(h) for h in order]
    assert positions == sorted(positions)
    attention = text[text.index("### Self-attention") : text.index("## Other topics")]
    assert attention.count("**Q:**") == 2 and attention.count(notes.OPEN_MARK) == 1


def test_streak_counts_study_days_with_work_and_skips_free_days(db, monkeypatch) -> None:
    plan = store.active_plan(db)

    def work_on(*days: int) -> None:
        db.execute("DELETE FROM runs")
        for d in days:
            db.execute("INSERT INTO runs (lab, command, figures, at) VALUES ('x', 'x', '{}', ?)",
                       (f"{START + timedelta(days=d)}T09:00:00",))  # fmt: skip

    today = START + timedelta(days=7)  # Monday of week 2; the 12th and 13th were free days
    work_on(3, 4, 7)
    assert progress.streak(db, plan, today=today) == 3  # Thu, Fri, (free weekend), Mon
    work_on(3, 4)
    assert progress.streak(db, plan, today=today) == 2  # nothing yet today: the streak holds
    work_on(2, 4, 7)
    assert progress.streak(db, plan, today=today) == 2  # Thursday was missed
    work_on(3, 4, 5, 7)
    assert progress.streak(db, plan, today=today) == 4  # work on a free day counts too
    work_on()
    assert progress.streak(db, plan, today=today) == 0
