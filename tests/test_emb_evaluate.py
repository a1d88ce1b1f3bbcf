"""Analogy accuracy and word-pair correlations vs gensim's own evaluation, live, on the same vectors."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors
from scipy import stats

from llmlab.embeddings.evaluate import evaluate_analogies, evaluate_pairs, rank, spearman
from llmlab.embeddings.pretrained import load_glove
from llmlab.embeddings.vectors import WordVectors
from llmlab.errors import LLMLabError

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")


def keyed_vectors(wv: WordVectors) -> KeyedVectors:
    kv = KeyedVectors(wv.dim)
    kv.index_to_key, kv.key_to_index, kv.vectors = list(wv.words), dict(wv.key_to_index), wv.vectors.copy()
    return kv


@pytest.fixture(scope="module")
def glove(real_home_path) -> tuple[WordVectors, KeyedVectors]:
    wv = load_glove(real_home_path("glove-6b-50d"))
    return wv, keyed_vectors(wv)


@pytest.fixture(scope="module")
def sets(real_home_path):
    return real_home_path("word-similarity-sets")


def same_analogies(ours, theirs_score, theirs_sections) -> None:
    got = [(s.name, s.correct, s.total) for s in [*ours.sections, ours.total]]
    want = [
        (s["section"], len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in theirs_sections
    ]
    assert got == want
    assert ours.total.accuracy == pytest.approx(theirs_score, abs=1e-12)


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
def test_word_pairs_equal_gensim(glove, sets, name) -> None:
    wv, kv = glove
    ours = evaluate_pairs(wv, sets / name)
    pearson, spear, oov_ratio = kv.evaluate_word_pairs(sets / name)
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert ours.spearman == pytest.approx(spear.statistic, abs=1e-6)
    assert ours.oov_ratio == pytest.approx(oov_ratio, abs=1e-9)


def test_analogies_sample_of_every_section_equals_gensim(glove, sets, tmp_path) -> None:
    """The first 25 questions of each of the 14 sections (the full set is the slow test below)."""
    wv, kv = glove
    lines, kept = [], 0
    for line in (sets / "questions-words.txt").read_text().splitlines():
        kept = 0 if line.startswith(": ") else kept + 1
        if kept <= 25:
            lines.append(line)
    sample = tmp_path / "sample.txt"
    sample.write_text("\n".join(lines) + "\n")
    ours = evaluate_analogies(wv, sets / "questions-words.txt", per_section=25)
    assert ours.questions == 14 * 25
    same_analogies(ours, *kv.evaluate_word_analogies(sample))


@pytest.mark.slow
def test_full_analogy_set_equals_gensim(glove, sets) -> None:
    wv, kv = glove
    ours = evaluate_analogies(wv, sets / "questions-words.txt")
    same_analogies(ours, *kv.evaluate_word_analogies(sets / "questions-words.txt"))
    assert (ours.total.correct, ours.total.total, ours.oov) == (9036, 19486, 58)  # also in docs/embeddings.md


def test_mixed_case_vocabulary_follows_gensims_rules(tmp_path) -> None:
    """Upper-casing, "most frequent casing wins", skipping a query word in another casing, restrict."""
    rng = np.random.default_rng(0)
    words = ["King", "king", "Queen", "man", "MAN", "woman", "Paris", "france", "Rome", "italy", "Berlin",
             "germany", "apple", "pear", "grape", "plum"] + [f"x{i}" for i in range(40)]  # fmt: skip
    wv = WordVectors(words, rng.normal(size=(len(words), 8)).astype(np.float32))
    # make "king" nearly the answer of man : King = woman : ?, so the casing rule decides
    wv.vectors[1] = wv.vectors[0] - wv.vectors[3] + wv.vectors[5] + 0.01
    kv = keyed_vectors(wv)
    questions = tmp_path / "q.txt"
    questions.write_text(
        ": royals\nman king woman queen\nMAN KING WOMAN QUEEN\nman king woman missing\n"
        ": capitals\nparis france rome italy\nrome italy berlin germany\nparis france berlin germany\n"
        ": fruit\napple pear grape plum\nplum grape pear apple\nbad line\n"
    )
    for case_insensitive in (True, False):
        for restrict in (56, 20):
            ours = evaluate_analogies(wv, questions, restrict=restrict, case_insensitive=case_insensitive)
            theirs = kv.evaluate_word_analogies(
                questions, restrict_vocab=restrict, case_insensitive=case_insensitive
            )
            same_analogies(ours, *theirs)


def test_rank_and_spearman_equal_scipy_with_ties() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=50).astype(float)  # many ties
    y = x + rng.normal(size=50)
    np.testing.assert_array_equal(rank(x), stats.rankdata(x))
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_files_without_usable_lines_are_clear_errors(tmp_path) -> None:
    wv = WordVectors(["a", "b"], np.eye(2, dtype=np.float32))
    (tmp_path / "pairs.txt").write_text("# only a comment\nzz\tyy\t1.0\n")
    with pytest.raises(LLMLabError, match="no word pair with both words in the vocabulary"):
        evaluate_pairs(wv, tmp_path / "pairs.txt")
    (tmp_path / "q.txt").write_text("a b a b\n")
    with pytest.raises(LLMLabError, match="a question before the first ': section' line"):
        evaluate_analogies(wv, tmp_path / "q.txt")
    with pytest.raises(LLMLabError, match="no such file"):
        evaluate_pairs(wv, tmp_path / "missing.tsv")


def test_default_files_come_from_the_asset(real_assets) -> None:
    real_assets("glove-6b-50d", "word-similarity-sets")
    result = evaluate_pairs(load_glove())  # wordsim353.tsv
    assert result.pairs == 353 and result.oov == 0
