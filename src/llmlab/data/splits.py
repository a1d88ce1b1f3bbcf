"""Fixed, seeded train/validation/test splits that come out the same on every machine.

How a list of records is split, given fractions (e.g. 0.8/0.1/0.1) and a seed:

1. give each record the key ``sha256(f"{seed}\\0{id}")`` and sort the records by it; this is a
   shuffle that depends only on the seed and the record ids, never on Python's per-process
   ``hash()`` salt, the order a folder happens to be listed in, or a library's random stream;
2. size the splits: validation and test get ``round(n * fraction)`` records (half up), at
   least one each when their fraction is above zero; train gets the rest (when train's
   fraction is zero, the first split that has a share takes the rest instead);
3. cut the shuffled list in that order (train first, then validation, then test);
4. hand each split back in the dataset's natural order (file order), which reads better.

The same seed gives identical splits on every run; another seed gives other splits; the
splits never overlap and together hold every record.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from llmlab.data.schema import SPLITS, SplitName
from llmlab.errors import LLMLabError

DEFAULT_SEED = 1234


@dataclass(frozen=True)
class Fractions:
    """What share of a pool of records goes to each split; the three add up to 1."""

    train: float
    validation: float
    test: float

    def __post_init__(self) -> None:
        values = (self.train, self.validation, self.test)
        if any(v < 0 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-9):
            raise ValueError(f"split fractions must be >= 0 and add up to 1, got {values}")

    def of(self, split: SplitName) -> float:
        return {"train": self.train, "validation": self.validation, "test": self.test}[split]

    def describe(self, compact: bool = False) -> str:
        """``"80% train / 10% validation / 10% test"`` (empty splits left out), or ``"80/10/10"``."""
        if compact:
            return "/".join(f"{self.of(s) * 100:g}" for s in SPLITS)
        return " / ".join(f"{self.of(s) * 100:g}% {s}" for s in SPLITS if self.of(s) > 0)


def check_seed(seed: object) -> int:
    """Accept only a real integer seed (``True`` and ``3.0`` are refused, not coerced)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise LLMLabError(f"the split seed must be an integer, got {seed!r}")
    return seed


def shuffle_key(record_id: str, seed: int) -> bytes:
    """The sort key of one record: identical on every machine and Python version."""
    return hashlib.sha256(f"{seed}\0{record_id}".encode()).digest()


def split_sizes(n: int, fractions: Fractions) -> dict[SplitName, int]:
    """How many of ``n`` records each split gets (see step 2 in the module docstring)."""
    used = [s for s in SPLITS if fractions.of(s) > 0]
    rest, others = used[0], used[1:]  # the first used split (usually train) takes the remainder
    sizes: dict[SplitName, int] = {s: 0 for s in SPLITS}
    for split in others:
        sizes[split] = max(1, math.floor(n * fractions.of(split) + 0.5))
    sizes[rest] = n - sum(sizes.values())
    if sizes[rest] < 1:
        raise LLMLabError(f"{n} records are too few to give each of {len(used)} splits at least one")
    return sizes


def assign(ids: Sequence[str], fractions: Fractions, seed: int) -> dict[SplitName, list[int]]:
    """Split positions ``0..len(ids)-1`` into train/validation/test, each list ascending."""
    if len(set(ids)) != len(ids):
        raise ValueError("record ids must be unique within a dataset")
    shuffled = sorted(range(len(ids)), key=lambda i: shuffle_key(ids[i], seed))
    sizes = split_sizes(len(ids), fractions)
    out: dict[SplitName, list[int]] = {}
    start = 0
    for split in SPLITS:
        out[split] = sorted(shuffled[start : start + sizes[split]])
        start += sizes[split]
    return out
