"""``load(name)``: one dataset's records and its seeded splits, read lazily from its asset.

>>> from llmlab import data                       # doctest: +SKIP
>>> ds = data.load("movie-reviews")               # seed 1234 unless you pass another
>>> ds.counts()                                   # {"train": ..., "validation": ..., ...}
>>> ds.split("test")[0]                           # LabelledText(id="movie-reviews/...", ...)
>>> data.load("shakespeare").text("train")[:40]   # a corpus split as one string

Files are read on first use and kept; a dataset with its own splits reads only the file a
split needs (TinyStories' 2.2 GB train file is not touched to look at its test split).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from llmlab import assets
from llmlab.data.files import malformed
from llmlab.data.registry import DatasetInfo, get_info
from llmlab.data.schema import SPLITS, Document, LabelledText, Record, SplitName
from llmlab.data.splits import DEFAULT_SEED, assign, check_seed
from llmlab.errors import LLMLabError

ALL = "all"  # the pseudo-split holding every record


class Dataset:
    """The records of one dataset, split into train/validation/test under one seed."""

    def __init__(self, info: DatasetInfo, folder: Path, seed: int = DEFAULT_SEED):
        self.info = info
        self.folder = folder  # the asset folder the readers get
        self.seed = check_seed(seed)
        self._records: dict[int, Sequence[Record]] = {}  # pool index -> its records
        self._assignment: dict[int, dict[SplitName, list[int]]] = {}  # pool index -> split -> positions

    @property
    def name(self) -> str:
        return self.info.name

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, seed={self.seed})"

    def split(self, split: str) -> list[Record]:
        """The records of ``split`` ("train", "validation", "test" or "all"), in file order."""
        if split == ALL:
            return [r for i in range(len(self.info.pools)) for r in self._pool(i)]
        name = _check_split(split, self.name)
        out: list[Record] = []
        for i, pool in enumerate(self.info.pools):
            if pool.fractions.of(name) > 0:
                records = self._pool(i)
                out.extend(records[j] for j in self._split_of(i)[name])
        return out

    def counts(self) -> dict[str, int]:
        """Records per split, plus "all"."""
        counts = {s: len(self.split(s)) for s in SPLITS}
        return {**counts, ALL: sum(counts.values())}

    def label_counts(self, split: str = ALL) -> dict[str, int]:
        """How many records of ``split`` carry each label (labelled sets only), labels sorted."""
        if self.info.schema is not LabelledText:
            raise LLMLabError(f"dataset '{self.name}' has no labels: it is a {self.info.kind} dataset")
        counter = Counter(r.label for r in self.split(split) if isinstance(r, LabelledText))
        return dict(sorted(counter.items()))

    def text(self, split: str, sep: str = "\n\n") -> str:
        """A corpus split as one string: each document without its outer blank lines, joined by
        ``sep`` (pass e.g. ``"<|endoftext|>"`` to mark document boundaries for pretraining)."""
        if self.info.schema is not Document:
            raise LLMLabError(f"dataset '{self.name}' is not a corpus: text() needs documents")
        return sep.join(d.text.strip("\n") for d in self.split(split) if isinstance(d, Document))

    # -- reading and splitting, once per pool ---------------------------------------------------
    def _pool(self, i: int) -> Sequence[Record]:
        if i not in self._records:
            try:
                self._records[i] = self.info.pools[i].read(self.folder)
            except FileNotFoundError as e:
                raise malformed(Path(e.filename), None, "the file is missing from the asset folder") from None
        return self._records[i]

    def _split_of(self, i: int) -> dict[SplitName, list[int]]:
        if i not in self._assignment:
            pool = self.info.pools[i]
            ids = [r.id for r in self._pool(i)]
            try:
                self._assignment[i] = assign(ids, pool.fractions, self.seed)
            except LLMLabError as e:
                raise LLMLabError(f"dataset '{self.name}' ({pool.source}): {e}") from None
        return self._assignment[i]


def _check_split(split: str, dataset: str) -> SplitName:
    for name in SPLITS:
        if split == name:
            return name
    choices = ", ".join((*SPLITS, ALL))
    raise LLMLabError(f"unknown split '{split}' for dataset '{dataset}': choose one of {choices}")


def load(name: str, seed: int = DEFAULT_SEED) -> Dataset:
    """Dataset ``name`` with its splits under ``seed``; pulls its asset first if needed."""
    info = get_info(name)
    seed = check_seed(seed)
    return Dataset(info, assets.require(info.asset), seed)
