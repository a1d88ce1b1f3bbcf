"""Seeded splits: sizes, determinism across runs and processes, disjointness, coverage."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from llmlab.data.splits import DEFAULT_SEED, Fractions, assign, check_seed, shuffle_key, split_sizes
from llmlab.errors import LLMLabError

IDS = [f"toy/{i}" for i in range(50)]
STANDARD = Fractions(0.8, 0.1, 0.1)


def test_shuffle_key_is_sha256_of_seed_and_id() -> None:
    assert shuffle_key("toy/7", 1234) == hashlib.sha256(b"1234\x00toy/7").digest()


def test_same_seed_gives_identical_splits() -> None:
    assert assign(IDS, STANDARD, 1234) == assign(list(IDS), STANDARD, 1234)


def test_other_seed_gives_other_splits() -> None:
    assert assign(IDS, STANDARD, 1234)["test"] != assign(IDS, STANDARD, 1235)["test"]


def test_splits_are_disjoint_cover_everything_and_keep_file_order() -> None:
    parts = assign(IDS, STANDARD, DEFAULT_SEED)
    everything = parts["train"] + parts["validation"] + parts["test"]
    assert sorted(everything) == list(range(len(IDS)))
    assert all(p == sorted(p) for p in parts.values())
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [40, 5, 5]


def test_a_records_split_does_not_depend_on_input_order() -> None:
    shuffled = list(reversed(IDS))
    forward = {s: {IDS[i] for i in idx} for s, idx in assign(IDS, STANDARD, 7).items()}
    backward = {s: {shuffled[i] for i in idx} for s, idx in assign(shuffled, STANDARD, 7).items()}
    assert forward == backward


def test_splits_do_not_depend_on_python_hash_randomisation() -> None:
    code = (
        "import json; from llmlab.data.splits import Fractions, assign; "
        "print(json.dumps(assign([f'toy/{i}' for i in range(50)], Fractions(0.8, 0.1, 0.1), 1234)))"
    )
    results = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        results.append(json.loads(out.stdout))
    assert results[0] == results[1] == assign(IDS, STANDARD, 1234)


@pytest.mark.parametrize(
    ("n", "fractions", "expected"),
    [
        (42, STANDARD, {"train": 34, "validation": 4, "test": 4}),
        (3, STANDARD, {"train": 1, "validation": 1, "test": 1}),  # at least one each
        (164, Fractions(0.1, 0.1, 0.8), {"train": 17, "validation": 16, "test": 131}),
        (5, Fractions(0, 0.5, 0.5), {"train": 0, "validation": 2, "test": 3}),  # no train share
        (25, Fractions(0.9, 0.1, 0), {"train": 22, "validation": 3, "test": 0}),
        (10, Fractions(1, 0, 0), {"train": 10, "validation": 0, "test": 0}),
    ],
)
def test_split_sizes(n: int, fractions: Fractions, expected: dict[str, int]) -> None:
    assert split_sizes(n, fractions) == expected


def test_too_few_records_is_a_clear_error() -> None:
    with pytest.raises(LLMLabError) as e:
        split_sizes(2, STANDARD)
    assert str(e.value) == "2 records are too few to give each of 3 splits at least one"


def test_fractions_must_add_up_to_one() -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        Fractions(0.8, 0.1, 0.2)
    with pytest.raises(ValueError, match=">= 0"):
        Fractions(1.1, -0.1, 0)


def test_fractions_describe() -> None:
    assert STANDARD.describe() == "80% train / 10% validation / 10% test"
    assert Fractions(0, 0.5, 0.5).describe() == "50% validation / 50% test"
    assert Fractions(0.9, 0.1, 0).describe(compact=True) == "90/10/0"


@pytest.mark.parametrize("seed", [True, 3.0, "1234", None])
def test_seed_must_be_an_integer(seed: object) -> None:
    with pytest.raises(LLMLabError) as e:
        check_seed(seed)
    assert str(e.value) == f"the split seed must be an integer, got {seed!r}"


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        assign(["a", "a", "b"], STANDARD, 1)
