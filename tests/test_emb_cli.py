"""`llmlab embeddings ...` as a user runs it: GloVe by default, your own vectors with --vectors."""

from __future__ import annotations

import numpy as np
import pytest

from llmlab.cli.main import main
from llmlab.embeddings.vectors import WordVectors


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["embeddings", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def glove(real_assets) -> None:
    real_assets("glove-6b-50d", "word-similarity-sets")


@pytest.fixture
def own_vectors(tmp_path):
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "one", "two", "three", "four"]
    return WordVectors(words, rng.normal(size=(8, 6)).astype(np.float32)).save(tmp_path / "own.safetensors")


def test_similar_and_analogy_on_glove(capsys, glove) -> None:
    code, out, _ = run(capsys, "similar", "king", "queen")
    assert code == 0 and out.strip() == "cos(king, queen) = 0.7839"
    code, out, _ = run(capsys, "similar", "frog", "--topn", "3")
    assert code == 0 and "toad" in out
    code, out, _ = run(capsys, "analogy", "man", "king", "woman", "--topn", "3")
    assert code == 0 and "man : king = woman : ?" in out
    assert out.index("queen") < out.index("throne")  # queen first
    code, out, _ = run(capsys, "analogy", "man", "king", "woman", "--method", "3cosmul", "--topn", "1")
    assert code == 0 and "queen" in out
    code, out, _ = run(capsys, "odd-one-out", "breakfast", "lunch", "dinner", "cereal")
    assert code == 0 and out.strip() == "cereal"


def test_user_errors_are_one_line(capsys, glove) -> None:
    code, _, err = run(capsys, "similar", "kingg")
    assert code == 1
    assert err.strip().startswith(
        "error: 'kingg' is not in the vocabulary (400,000 words); nearest spellings: king"
    )
    code, _, err = run(capsys, "analogy", "man", "kingg", "woman")
    assert code == 1 and "'kingg' (did you mean king" in err and err.count("\n") == 1
    code, _, err = run(capsys, "analogy", "man", "king", "woman", "--method", "add")
    assert code == 1 and "unknown analogy method 'add'" in err
    code, _, err = run(capsys, "plot")
    assert code == 1 and "no words to plot" in err
    code, _, err = run(capsys, "plot", "--category", "planets")
    assert code == 1 and "unknown category 'planets'" in err
    code, _, err = run(capsys, "plot", "king", "queen", "--out", "map.svg")
    assert code == 1 and "--out must end in .png or .html" in err


def test_own_vectors_file(capsys, own_vectors, tmp_path) -> None:
    code, out, _ = run(capsys, "similar", "alpha", "--vectors", str(own_vectors), "--topn", "2")
    expected = WordVectors.load(own_vectors).most_similar("alpha", topn=2)
    assert code == 0 and all(w in out for w, _ in expected)
    code, _, err = run(capsys, "similar", "alpha", "--vectors", str(tmp_path / "nope.safetensors"))
    assert code == 1 and "no such word-vectors file" in err


def test_plot_writes_png_html_and_frames(capsys, own_vectors, tmp_path) -> None:
    code, out, _ = run(
        capsys, "plot", "alpha", "beta", "gamma", "--vectors", str(own_vectors), "--out", "m.png"
    )
    assert code == 0 and (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(capsys, "plot", "--category", "numbers", "--top", "4", "--vectors", str(own_vectors))
    assert code == 0 and "wrote map.html (8 words)" in out
    assert '"one"' in (tmp_path / "map.html").read_text()
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    for k in range(2):
        WordVectors.load(own_vectors).save(snaps / f"s{k}.safetensors")
    code, out, _ = run(capsys, "plot", "--category", "numbers", "--frames", str(snaps), "--out", "frames")
    assert code == 0 and (tmp_path / "frames" / "frames.html").is_file()


def test_evaluate_on_own_vectors(capsys, own_vectors, glove) -> None:
    code, _, err = run(capsys, "evaluate", "--vectors", str(own_vectors), "--no-analogies")
    assert code == 1 and "no word pair with both words in the vocabulary" in err  # 8 made-up words
    code, out, err = run(capsys, "evaluate", "--per-section", "3")
    assert code == 0
    assert "wordsim353.tsv" in out and "capital-common-countries" in out and "Total accuracy" in out


def test_search_over_a_docs_file(capsys, tmp_path, real_assets) -> None:
    real_assets("all-minilm-l6-v2")
    (tmp_path / "docs.txt").write_text(
        "The cat sleeps on the sofa.\nInterest rates rose again.\nI love pizza.\n"
    )
    code, out, _ = run(capsys, "search", "monetary policy and banks", "--docs", "docs.txt", "--top", "3")
    assert code == 0 and out.index("Interest rates") < out.index("cat sleeps")
    code, _, err = run(capsys, "search", "x", "--docs", "missing.txt")
    assert code == 1 and "no such file or folder" in err


def test_context_bank_demo(capsys, real_assets) -> None:
    real_assets("all-minilm-l6-v2")
    code, out, _ = run(capsys, "context")
    assert code == 0 and "0 (embeddings)" in out and "cosine 1.0000" in out
    code, _, err = run(capsys, "context", "--a", "only one sentence")
    assert code == 1 and "give both --a and --b" in err
    code, _, err = run(capsys, "context", "--a", "a river", "--b", "the bank", "--word", "bank")
    assert code == 1 and "'bank' does not occur in 'a river'" in err


def test_help_shows_runnable_examples(capsys) -> None:
    for command in ("similar", "analogy", "odd-one-out", "evaluate", "plot", "search", "context"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "llmlab embeddings " + command in out


def test_runs_are_recorded_in_the_learning_path(capsys, own_vectors) -> None:
    """Each query is a lab run: it lands in the (private) learning-path database with its figures."""
    import json

    from llmlab.path import store

    assert run(capsys, "similar", "alpha", "beta", "--vectors", str(own_vectors))[0] == 0
    assert run(capsys, "analogy", "one", "two", "three", "--vectors", str(own_vectors))[0] == 0
    wv = WordVectors.load(own_vectors)
    with store.opened() as db:
        runs = db.execute("SELECT lab, command, figures FROM runs ORDER BY id").fetchall()
    assert [r["lab"] for r in runs] == ["embeddings-similar", "embeddings-analogy"]
    assert json.loads(runs[0]["figures"]) == {"cos(alpha, beta)": round(wv.similarity("alpha", "beta"), 4)}
    assert runs[1]["command"].startswith(
        "llmlab embeddings analogy one two three --method 3cosadd --vectors "
    )
    assert json.loads(runs[1]["figures"])["one : two = three : ?"] == wv.analogy("one", "two", "three")[0][0]
