"""The public API on synthetic assets: load, splits, counts, labels, corpus text, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import install_asset
from llmlab import data
from llmlab.data import SPLITS, DatasetInfo, Document, LabelledText
from llmlab.errors import LLMLabError


@pytest.fixture
def movies(isolated: Path) -> Path:
    """40 sentences, ids 1..40, odd ids negative and even ids positive."""
    lines = [f"{i}\t{(-1) ** i * 1.5}\tsentence number {i}" for i in range(1, 41)]
    return install_asset(
        isolated, "movie-reviews", {"movieReviewSnippets_GroundTruth.txt": "\r\n".join(lines)}
    )


@pytest.fixture
def shakespeare(isolated: Path) -> Path:
    works = {f"work{i:02d}_gut.txt": f"\n\nWORK {i}\nLine.\n\n" for i in range(12)}
    return install_asset(isolated, "shakespeare", works)


def ids(records: list) -> list[str]:
    return [r.id for r in records]


def test_list_datasets_describes_every_dataset() -> None:
    infos = data.list_datasets()
    assert [i.name for i in infos] == [
        "shakespeare", "botchan", "wiki100", "tinystories", "movie-reviews", "rotten-tomatoes", "imdb",
        "jeopardy", "conversations", "humaneval",
    ]  # fmt: skip
    assert all(isinstance(i, DatasetInfo) for i in infos)
    assert {i.name for i in infos if i.online_only} == {"tinystories", "imdb"}
    assert data.get_info("movie-reviews").schema is LabelledText
    assert data.get_info("movie-reviews").split_rule() == "80% train / 10% validation / 10% test"
    assert data.get_info("imdb").fractions is None
    assert (
        data.get_info("imdb").split_rule() == "train file: 90% train / 10% validation; test file: 100% test"
    )


def test_same_seed_same_splits_other_seed_other_splits(movies: Path) -> None:
    first, again, other = (
        data.load("movie-reviews"),
        data.load("movie-reviews"),
        data.load("movie-reviews", 99),
    )
    for split in SPLITS:
        assert ids(first.split(split)) == ids(again.split(split))
    assert ids(first.split("test")) != ids(other.split("test"))


def test_splits_are_disjoint_and_cover_all(movies: Path) -> None:
    ds = data.load("movie-reviews")
    parts = [set(ids(ds.split(s))) for s in SPLITS]
    assert sum(len(p) for p in parts) == len(set().union(*parts)) == 40
    assert set().union(*parts) == set(ids(ds.split("all")))
    assert ds.counts() == {"train": 32, "validation": 4, "test": 4, "all": 40}


def test_label_counts(movies: Path) -> None:
    ds = data.load("movie-reviews")
    assert ds.label_counts() == {"neg": 20, "pos": 20}
    assert sum(ds.label_counts("test").values()) == 4


def test_corpus_text_joins_documents_of_a_split(shakespeare: Path) -> None:
    ds = data.load("shakespeare")
    docs = ds.split("validation")
    assert ds.text("validation") == "\n\n".join(d.text.strip("\n") for d in docs)
    assert ds.text("validation", sep="<|endoftext|>").count("<|endoftext|>") == len(docs) - 1
    assert ds.text("validation").startswith("WORK ")
    assert all(isinstance(d, Document) for d in docs)


def test_text_and_labels_only_where_they_make_sense(movies: Path, shakespeare: Path) -> None:
    with pytest.raises(LLMLabError) as e:
        data.load("movie-reviews").text("train")
    assert str(e.value) == "dataset 'movie-reviews' is not a corpus: text() needs documents"
    with pytest.raises(LLMLabError) as e:
        data.load("shakespeare").label_counts()
    assert str(e.value) == "dataset 'shakespeare' has no labels: it is a corpus dataset"


def test_unknown_dataset_names_close_matches() -> None:
    with pytest.raises(LLMLabError) as e:
        data.load("movie-review")
    assert (
        str(e.value) == "unknown dataset 'movie-review': did you mean movie-reviews? see `llmlab data list`"
    )
    with pytest.raises(LLMLabError) as e:
        data.load("zzz")
    assert str(e.value) == "unknown dataset 'zzz': see `llmlab data list`"


def test_unknown_split(movies: Path) -> None:
    with pytest.raises(LLMLabError) as e:
        data.load("movie-reviews").split("tran")
    assert str(e.value) == (
        "unknown split 'tran' for dataset 'movie-reviews': choose one of train, validation, test, all"
    )


def test_bad_seed_fails_before_touching_assets() -> None:
    with pytest.raises(LLMLabError) as e:
        data.load("movie-reviews", seed="7")  # type: ignore[arg-type]
    assert str(e.value) == "the split seed must be an integer, got '7'"


def test_missing_asset_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLAB_OFFLINE", "1")
    with pytest.raises(LLMLabError) as e:
        data.load("jeopardy")
    assert str(e.value) == (
        "asset 'jeopardy' is not pulled yet; fetch it with: llmlab assets pull jeopardy "
        "(LLMLAB_OFFLINE is set, so llmlab did not try)"
    )


def test_too_few_documents_names_the_dataset(isolated: Path) -> None:
    install_asset(isolated, "wiki100", {"wiki100/A.txt": "a", "wiki100/B.txt": "b"})
    with pytest.raises(LLMLabError) as e:
        data.load("wiki100").split("train")
    assert (
        str(e.value) == "dataset 'wiki100' (all): 2 records are too few to give each of 3 splits at least one"
    )


def test_a_split_reads_only_the_file_it_needs(isolated: Path) -> None:
    valid = "<|endoftext|>\n".join(f"Story {i}.\n" for i in range(4))
    folder = install_asset(isolated, "tinystories", {"TinyStoriesV2-GPT4-valid.txt": valid})
    ds = data.load("tinystories")
    assert len(ds.split("test")) == 2  # the 2.2 GB train file is never opened for this
    with pytest.raises(LLMLabError) as e:
        ds.split("train")
    path = folder / "TinyStoriesV2-GPT4-train.txt"
    assert str(e.value) == f"cannot read {path}: the file is missing from the asset folder"


@pytest.mark.parametrize(
    ("name", "present", "missing"),
    [
        ("imdb", "plain_text/test-00000-of-00001.parquet", "plain_text/train-00000-of-00001.parquet"),
        ("humaneval", "other.txt", "HumanEval.jsonl.gz"),
        ("rotten-tomatoes", "other.txt", "rotten_tomatoes_corpus_full.csv.bz2"),
        ("jeopardy", "other.txt", "jeopardy_10k.json"),
    ],
)
def test_a_missing_file_is_named(isolated: Path, name: str, present: str, missing: str) -> None:
    folder = install_asset(isolated, name, {present: "x"})
    with pytest.raises(LLMLabError) as e:
        data.load(name).split("train")
    assert str(e.value) == f"cannot read {folder / missing}: the file is missing from the asset folder"
