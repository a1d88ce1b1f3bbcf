"""The Q&A notebook: questions per topic, answered when you understand them.

Learners keep notes as questions and answers ("How does the LLM manage context overflow?") with a
list of open questions they come back to. Here each note belongs to a curriculum topic, starts as
a question, and is open until it gets an answer. Open questions are shown by ``llmlab path today``
and in every weekly report until they are answered.

Search uses SQLite's full-text index (FTS5, https://www.sqlite.org/fts5.html) when the SQLite
build has it: every word must appear, in any form the tokenizer folds together (case, accents),
best matches first. Without FTS5 it falls back to ``LIKE '%word%'`` for every word.
``export_markdown`` writes the whole notebook grouped by section and topic, open questions marked.
"""

from __future__ import annotations

import sqlite3

from llmlab.path import store
from llmlab.path.progress import curriculum_for
from llmlab.path.store import PathError

OPEN_MARK = "❓ open"


def _check_topic(db: sqlite3.Connection, topic: str) -> str:
    curriculum_for(store.active_plan(db)).topic(topic)  # unknown: raises with close matches
    return topic


def _text(value: str, what: str) -> str:
    value = " ".join(value.split()) if "\n" not in value else value.strip()
    if not value:
        raise PathError(f"the {what} is empty; write a few words")
    return value


def add_note(db: sqlite3.Connection, topic: str, question: str, answer: str | None = None) -> int:
    """Add a question (answered already if ``answer`` is given); returns its id."""
    _check_topic(db, topic)
    question = _text(question, "question")
    answer = _text(answer, "answer") if answer is not None else None
    stamp = store.now().isoformat()
    with store.transaction(db):
        cur = db.execute(
            "INSERT INTO notes (topic, question, answer, created, answered) VALUES (?, ?, ?, ?, ?)",
            (topic, question, answer, stamp, stamp if answer is not None else None),
        )
    return int(cur.lastrowid)


def answer_note(db: sqlite3.Connection, note_id: int, answer: str) -> sqlite3.Row:
    """Answer (or re-answer) a note; returns the updated note."""
    answer = _text(answer, "answer")
    with store.transaction(db):
        cur = db.execute(
            "UPDATE notes SET answer = ?, answered = ? WHERE id = ?",
            (answer, store.now().isoformat(), note_id),
        )
        if cur.rowcount == 0:
            raise PathError(f"there is no note #{note_id}; `llmlab notes list` shows the notes and their ids")
    return db.execute("SELECT * FROM notes WHERE id = ?", (note_id,)).fetchone()


def list_notes(
    db: sqlite3.Connection, topic: str | None = None, *, open_only: bool = False
) -> list[sqlite3.Row]:
    """Notes, oldest first; only one topic's with ``topic``, only unanswered ones with ``open_only``."""
    where, args = [], []
    if topic is not None:
        where.append("topic = ?")
        args.append(_check_topic(db, topic))
    if open_only:
        where.append("answer IS NULL")
    sql = "SELECT * FROM notes" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    return db.execute(sql, args).fetchall()


def open_questions(db: sqlite3.Connection, *, asked_by: str | None = None) -> list[sqlite3.Row]:
    """Unanswered notes (asked on or before the ISO date ``asked_by``, when given)."""
    if asked_by is None:
        return db.execute("SELECT * FROM notes WHERE answer IS NULL ORDER BY id").fetchall()
    return db.execute(
        "SELECT * FROM notes WHERE answer IS NULL AND substr(created, 1, 10) <= ? ORDER BY id", (asked_by,)
    ).fetchall()


def search_notes(db: sqlite3.Connection, text: str) -> list[sqlite3.Row]:
    """Notes whose question or answer holds every word of ``text``."""
    words = text.split()
    if not words:
        raise PathError("search for at least one word, e.g. `llmlab notes search attention`")
    if store.has_notes_search(db):
        # subtle: each word becomes a quoted FTS5 string, so "don't" or "top-p" or AND/OR/NOT
        # typed by a learner are searched as text, never parsed as query syntax
        query = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        return db.execute(
            "SELECT notes.* FROM notes_fts JOIN notes ON notes.id = notes_fts.rowid "
            "WHERE notes_fts MATCH ? ORDER BY rank",
            (query,),
        ).fetchall()
    like = " AND ".join("(question LIKE ? OR coalesce(answer, '') LIKE ?)" for _ in words)
    args = [f"%{w}%" for w in words for _ in (0, 1)]
    return db.execute(f"SELECT * FROM notes WHERE {like} ORDER BY id", args).fetchall()


def format_note(note: sqlite3.Row, heading: str = "**Q:**") -> list[str]:
    """One Q&A in Markdown: the question, then the answer or the open mark."""
    lines = [f"{heading} {note['question']}  _(#{note['id']}, {note['created'][:10]})_", ""]
    if note["answer"] is None:
        lines += [f"{OPEN_MARK}: not answered yet", ""]
    else:
        lines += [f"**A:** {note['answer']}", ""]
    return lines


def export_markdown(db: sqlite3.Connection, title: str = "My LLM notebook") -> str:
    """The notebook as Markdown: sections and topics in curriculum order, open questions marked."""
    notes = db.execute("SELECT * FROM notes ORDER BY id").fetchall()
    curriculum = curriculum_for(store.active_plan(db))
    by_topic: dict[str, list[sqlite3.Row]] = {}
    for n in notes:
        by_topic.setdefault(n["topic"], []).append(n)
    n_open = sum(n["answer"] is None for n in notes)
    lines = [f"# {title}", "", f"_{len(notes)} questions, {n_open} open. Exported {store.today()}._", ""]
    known = set()
    for section in curriculum.sections:
        topics = [t for t in section.topics if t.id in by_topic]
        if not topics:
            continue
        lines += [f"## {section.title}", ""]
        for topic in topics:
            known.add(topic.id)
            lines += [f"### {topic.title}", ""]
            for n in by_topic[topic.id]:
                lines += format_note(n)
    others = [t for t in by_topic if t not in known]  # topics no longer in the curriculum
    if others:
        lines += ["## Other topics", ""]
        for t in others:
            lines += [f"### {t}", ""]
            for n in by_topic[t]:
                lines += format_note(n)
    return "\n".join(lines).rstrip() + "\n"
