"""Task sets: an input paired with what a good model should produce (QA, dialogue, code).

Unlike the labelled sets, the target here is text, not a class:

* ``jeopardy``: ``jeopardy_10k.json``, a JSON list of clues with the keys ``Air Date``,
  ``Round``, ``Value``, ``Category``, ``Question``, ``Answer``; read into :class:`QAPair`.
* ``conversations``: the ChatterBot corpus, one ``<topic>.yml`` per topic with
  ``categories: [...]`` and ``conversations: [[turn, turn, ...], ...]``; read with
  ``yaml.safe_load`` (which never runs code) into :class:`Conversation`, topic = file stem.
  An item that is not a list of text turns is left out. The pulled corpus has exactly one:
  item 13 of ``trivia.yml`` (the "two little ducks" bingo clue) lost its leading ``- `` in
  the source, so YAML reads question and answer as one plain string. (Watch for the same
  trap in new files: YAML reads an unquoted yes/no/on/off as a boolean, not as text.)
* ``humaneval``: ``HumanEval.jsonl.gz``, one JSON object per line; read into :class:`CodeTask`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import yaml

from llmlab.data.files import malformed, read_utf8
from llmlab.data.schema import CodeTask, Conversation, QAPair

JEOPARDY_KEYS = ("Air Date", "Round", "Value", "Category", "Question", "Answer")
HUMANEVAL_KEYS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def read_jeopardy(folder: Path) -> list[QAPair]:
    """The 10,000 clues in file order, id ``jeopardy/<position>`` counting from 0."""
    path = folder / "jeopardy_10k.json"
    try:
        rows = json.loads(read_utf8(path))
    except json.JSONDecodeError as e:
        raise malformed(path, e.lineno, f"not valid JSON ({e.msg})") from None
    if not isinstance(rows, list):
        raise malformed(path, None, "expected a JSON list of clues")
    pairs = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or any(k not in row for k in JEOPARDY_KEYS):
            raise malformed(path, None, f"item {i} lacks one of the keys {', '.join(JEOPARDY_KEYS)}")
        texts = [row[k] for k in ("Question", "Answer", "Category", "Round", "Air Date")]
        value = row["Value"] if row["Value"] is not None else 0
        integer = isinstance(value, int) and not isinstance(value, bool)
        if not (integer and all(isinstance(t, str) for t in texts)):
            raise malformed(path, None, f"item {i}: expected text fields and an integer Value")
        question, answer, category, round_, air_date = (t.strip() for t in texts)
        pairs.append(QAPair(f"jeopardy/{i}", question, answer, category, round_, value, air_date))
    return pairs


def read_conversations(folder: Path) -> list[Conversation]:
    """Every well-formed conversation of every topic file (files sorted by name), id
    ``conversations/<topic>/<position in file>``."""
    conversations = []
    for path in sorted(folder.glob("*.yml"), key=lambda p: p.name):
        try:
            data = yaml.safe_load(read_utf8(path))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise malformed(path, line, f"not valid YAML ({getattr(e, 'problem', None) or e})") from None
        if not isinstance(data, dict) or not isinstance(data.get("conversations"), list):
            raise malformed(path, None, "expected a mapping with a 'conversations' list")
        for k, turns in enumerate(data["conversations"]):
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
                continue  # not a list of text turns: see the module docstring
            turns_ = tuple(t.strip() for t in turns)
            conversations.append(Conversation(f"conversations/{path.stem}/{k}", path.stem, turns_))
    return conversations


def read_humaneval(folder: Path) -> list[CodeTask]:
    """The 164 problems in file order; ids are HumanEval's own task ids (``HumanEval/0``)."""
    path = folder / "HumanEval.jsonl.gz"
    tasks = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise malformed(path, number, f"not valid JSON ({e.msg})") from None
                if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in HUMANEVAL_KEYS):
                    raise malformed(path, number, f"expected the text fields {', '.join(HUMANEVAL_KEYS)}")
                tasks.append(CodeTask(*(row[k] for k in HUMANEVAL_KEYS)))
    except FileNotFoundError:
        raise  # reported by the caller as a missing file
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise malformed(path, None, f"not a readable gzip-compressed UTF-8 file ({e})") from None
    return tasks
