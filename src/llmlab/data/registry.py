"""The dataset registry: every name ``llmlab.data.load`` accepts, as data.

Each entry says which asset it reads, which record type it yields, and how it is split. A
dataset is read from one or more *pools*: most have a single pool (all records), split by
fractions; a dataset that ships its own splits (TinyStories, IMDB) has one pool per file,
and each pool's fractions say where its records go, e.g. IMDB's test file goes wholly to
test while 10% of its train file is carved out for validation.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from llmlab.assets import get_asset
from llmlab.data import corpora, labelled, tasks
from llmlab.data.schema import CodeTask, Conversation, Document, Kind, LabelledText, QAPair, Record
from llmlab.data.splits import Fractions
from llmlab.errors import LLMLabError

Reader = Callable[[Path], Sequence[Record]]

EIGHTY_TEN_TEN = Fractions(0.8, 0.1, 0.1)


@dataclass(frozen=True)
class Pool:
    """Records read by one function from the asset folder, and how they are split."""

    source: str  # what is read, for humans: "all", "train file", "validation file"
    read: Reader
    fractions: Fractions


@dataclass(frozen=True)
class DatasetInfo:
    """One named dataset: where it comes from, what its records are, how it is split."""

    name: str  # the name users type: `llmlab data show <name>`
    kind: Kind  # corpus | labelled | qa | conversations | code
    asset: str  # the asset it reads (see `llmlab assets list`)
    schema: type  # the record class of every item: Document, LabelledText, ...
    pools: tuple[Pool, ...]
    unit: str  # what one record is: "work", "sentence", "clue", ...
    description: str

    @property
    def online_only(self) -> bool:
        return get_asset(self.asset).online_only

    @property
    def fractions(self) -> Fractions | None:
        """The split fractions for a single-pool dataset; ``None`` when it has its own splits."""
        return self.pools[0].fractions if len(self.pools) == 1 else None

    def split_rule(self, compact: bool = False) -> str:
        """``"80% train / 10% validation / 10% test"`` (or ``"80/10/10"``), one clause per file
        for a dataset with its own splits."""
        if self.fractions is not None:
            return self.fractions.describe(compact)
        return "; ".join(f"{p.source}: {p.fractions.describe(compact)}" for p in self.pools)


def _one_pool(read: Reader, fractions: Fractions = EIGHTY_TEN_TEN) -> tuple[Pool, ...]:
    return (Pool("all", read, fractions),)


DATASETS: tuple[DatasetInfo, ...] = (
    # --- corpora: split by whole documents --------------------------------------------------------
    DatasetInfo(
        name="shakespeare",
        kind="corpus",
        asset="shakespeare",
        schema=Document,
        pools=_one_pool(corpora.read_shakespeare),
        unit="work",
        description="Shakespeare's 42 plays and poems",
    ),
    DatasetInfo(
        name="botchan",
        kind="corpus",
        asset="botchan",
        schema=Document,
        pools=_one_pool(corpora.read_botchan),
        unit="chapter",
        description="Natsume's novel Botchan in English: front matter and 11 chapters",
    ),
    DatasetInfo(
        name="wiki100",
        kind="corpus",
        asset="wiki100",
        schema=Document,
        pools=_one_pool(corpora.read_wiki100),
        unit="article",
        description="101 English Wikipedia articles",
    ),
    DatasetInfo(
        name="tinystories",
        kind="corpus",
        asset="tinystories",
        schema=Document,
        pools=(
            Pool("train file", corpora.read_tinystories_train, Fractions(1, 0, 0)),
            Pool("validation file", corpora.read_tinystories_valid, Fractions(0, 0.5, 0.5)),
        ),
        unit="story",
        description="TinyStories V2: short stories written by GPT-4 in simple English",
    ),
    # --- labelled sets ----------------------------------------------------------------------------
    DatasetInfo(
        name="movie-reviews",
        kind="labelled",
        asset="movie-reviews",
        schema=LabelledText,
        pools=_one_pool(labelled.read_movie_reviews),
        unit="sentence",
        description="movie-review sentences labelled pos/neg from mean human ratings",
    ),
    DatasetInfo(
        name="rotten-tomatoes",
        kind="labelled",
        asset="rotten-tomatoes",
        schema=LabelledText,
        pools=_one_pool(labelled.read_rotten_tomatoes),
        unit="snippet",
        description="Rotten Tomatoes snippets labelled fresh, rotten or plot",
    ),
    DatasetInfo(
        name="imdb",
        kind="labelled",
        asset="imdb",
        schema=LabelledText,
        pools=(
            Pool("train file", labelled.read_imdb_train, Fractions(0.9, 0.1, 0)),
            Pool("test file", labelled.read_imdb_test, Fractions(0, 0, 1)),
        ),
        unit="review",
        description="IMDB movie reviews labelled pos/neg",
    ),
    # --- tasks: an input and the text a model should produce --------------------------------------
    DatasetInfo(
        name="jeopardy",
        kind="qa",
        asset="jeopardy",
        schema=QAPair,
        pools=_one_pool(tasks.read_jeopardy),
        unit="clue",
        description="Jeopardy! clues with answers, categories, rounds and values",
    ),
    DatasetInfo(
        name="conversations",
        kind="conversations",
        asset="conversations",
        schema=Conversation,
        pools=_one_pool(tasks.read_conversations),
        unit="conversation",
        description="short English conversations in 21 topic files (ChatterBot corpus)",
    ),
    DatasetInfo(
        name="humaneval",
        kind="code",
        asset="humaneval",
        schema=CodeTask,
        pools=_one_pool(tasks.read_humaneval, Fractions(0.1, 0.1, 0.8)),
        unit="problem",
        description="HumanEval Python problems with tests; train is for few-shot examples",
    ),
)

_BY_NAME = {d.name: d for d in DATASETS}


def list_datasets() -> list[DatasetInfo]:
    """Every dataset llmlab can load, in the order of the table above."""
    return list(DATASETS)


def get_info(name: str) -> DatasetInfo:
    """Look a dataset up by name; an unknown name gets the closest known ones in the message."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    close = difflib.get_close_matches(name, list(_BY_NAME), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise LLMLabError(f"unknown dataset '{name}': {hint}see `llmlab data list`")
