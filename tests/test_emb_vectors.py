"""WordVectors on small random tables: every query vs gensim's KeyedVectors live, save/load, errors."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors

from llmlab.embeddings.vectors import OOVError, WordVectors, edit_distance
from llmlab.errors import LLMLabError
from llmlab.formats.safetensors import save_file

pytestmark = pytest.mark.filterwarnings(
    "ignore:Call to deprecated:DeprecationWarning"
)  # gensim's own init_sims

WORDS = [f"w{i}" for i in range(300)] + ["king", "kings", "queen", "man", "woman", "kingdom", "ring"]


def keyed_vectors(wv: WordVectors) -> KeyedVectors:
    """The same table as gensim's KeyedVectors (the production twin)."""
    kv = KeyedVectors(wv.dim)
    kv.add_vectors(wv.words, wv.vectors)
    return kv


@pytest.fixture(scope="module")
def pair() -> tuple[WordVectors, KeyedVectors]:
    rng = np.random.default_rng(0)
    wv = WordVectors(WORDS, rng.normal(size=(len(WORDS), 16)).astype(np.float32))
    return wv, keyed_vectors(wv)


def assert_same_ranking(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> None:
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=0, atol=1e-5)


def test_similarity_equals_gensim(pair) -> None:
    wv, kv = pair
    for a, b in [("king", "queen"), ("man", "woman"), ("w1", "w200"), ("ring", "ring")]:
        assert wv.similarity(a, b) == pytest.approx(float(kv.similarity(a, b)), abs=1e-6)


@pytest.mark.parametrize(
    "positive, negative, restrict",
    [
        (["king"], [], None),
        (["king", "woman"], ["man"], None),
        (["w3", "w4", "w5"], ["w6"], 200),
        ("w7", [], 50),
    ],
)
def test_most_similar_equals_gensim(pair, positive, negative, restrict) -> None:
    wv, kv = pair
    ours = wv.most_similar(positive, negative, topn=10, restrict=restrict)
    theirs = kv.most_similar(positive=positive, negative=negative, topn=10, restrict_vocab=restrict)
    assert_same_ranking(ours, theirs)


def test_a_raw_vector_is_a_query_too(pair) -> None:
    wv, kv = pair
    v = wv.vector("king") + 0.5 * wv.vector("w9")
    assert_same_ranking(wv.most_similar([v], topn=5), kv.most_similar(positive=[v], topn=5))


@pytest.mark.parametrize(
    "positive, negative", [(["king", "woman"], ["man"]), (["w10"], []), (["w1", "w2"], ["w3", "w4"])]
)
def test_cosmul_equals_gensim(pair, positive, negative) -> None:
    wv, kv = pair
    ours = wv.most_similar_cosmul(positive, negative, topn=10)
    assert_same_ranking(ours, kv.most_similar_cosmul(positive=positive, negative=negative, topn=10))


def test_analogy_is_b_minus_a_plus_c_in_both_methods(pair) -> None:
    wv, kv = pair
    add = wv.analogy("man", "king", "woman", topn=5)
    assert_same_ranking(add, kv.most_similar(positive=["king", "woman"], negative=["man"], topn=5))
    mul = wv.analogy("man", "king", "woman", method="3cosmul", topn=5)
    assert_same_ranking(mul, kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=5))
    assert not {"man", "king", "woman"} & {w for w, _ in add + mul}  # the query words are left out


def test_odd_one_out_equals_gensim(pair) -> None:
    wv, kv = pair
    rng = np.random.default_rng(1)
    for _ in range(20):
        words = list(rng.choice(WORDS, size=5, replace=False))
        assert wv.odd_one_out(words) == kv.doesnt_match(words)


def test_save_and_load_round_trip(pair, tmp_path) -> None:
    wv, _ = pair
    path = wv.save(tmp_path / "vectors.safetensors", metadata={"step": "1000"})
    back = WordVectors.load(path)
    assert back.words == wv.words and back.metadata == {"step": "1000"}
    np.testing.assert_array_equal(back.vectors, wv.vectors)
    assert_same_ranking(back.most_similar("king"), wv.most_similar("king"))


def test_words_with_any_characters_survive_saving(tmp_path) -> None:
    words = ["naïve", "日本", 'quo"te', "new\nline", "</script>"]
    wv = WordVectors(words, np.eye(5, dtype=np.float32))
    assert WordVectors.load(wv.save(tmp_path / "v.safetensors")).words == words


def test_loading_another_safetensors_file_is_refused(tmp_path) -> None:
    import torch

    save_file({"weight": torch.zeros(2, 2)}, tmp_path / "model.safetensors")
    with pytest.raises(LLMLabError, match="not a word-vectors file"):
        WordVectors.load(tmp_path / "model.safetensors")
    with pytest.raises(LLMLabError, match="no such word-vectors file"):
        WordVectors.load(tmp_path / "missing.safetensors")


def test_oov_error_names_the_nearest_spellings(pair) -> None:
    wv, _ = pair
    with pytest.raises(OOVError) as e:
        wv.vector("kingg")
    assert str(e.value) == (
        "'kingg' is not in the vocabulary (307 words); nearest spellings: king, kings, ring"
    )
    assert isinstance(e.value, KeyError)  # so `except KeyError` works as with a dict


def test_analogy_with_missing_words_says_which(pair) -> None:
    wv, _ = pair
    with pytest.raises(OOVError, match=r"'kingg' \(did you mean king, kings, ring\?\), 'womn' .* are not in"):
        wv.analogy("kingg", "man", "womn")
    with pytest.raises(OOVError, match=r"^the analogy cannot be computed: 'qqq' is not in the vocabulary"):
        wv.analogy("man", "qqq", "woman")
    with pytest.raises(LLMLabError, match="unknown analogy method '3cosdiv'"):
        wv.analogy("man", "king", "woman", method="3cosdiv")


def test_bad_tables_are_refused() -> None:
    with pytest.raises(LLMLabError, match="2 words but 3 vectors"):
        WordVectors(["a", "b"], np.zeros((3, 4)))
    with pytest.raises(LLMLabError, match="'a' appears twice"):
        WordVectors(["a", "b", "a"], np.zeros((3, 4)))
    with pytest.raises(LLMLabError, match=r"\(V, D\) matrix"):
        WordVectors(["a"], np.zeros(4))
    wv = WordVectors(["a", "b"], np.ones((2, 4)))
    with pytest.raises(LLMLabError, match="at least two words"):
        wv.odd_one_out(["a"])
    with pytest.raises(LLMLabError, match="at least one word"):
        wv.most_similar([])


def test_a_zero_vector_gives_cosine_zero_not_nan() -> None:
    wv = WordVectors(["zero", "one"], np.array([[0, 0], [1, 0]], dtype=np.float32))
    assert wv.similarity("zero", "one") == 0.0


def test_edit_distance_against_a_plain_recursion() -> None:
    from functools import cache

    def reference(a: str, b: str) -> int:
        @cache
        def d(i: int, j: int) -> int:
            if i == 0 or j == 0:
                return i + j
            return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

        return d(len(a), len(b))

    rng = np.random.default_rng(2)
    for _ in range(200):
        a = "".join(rng.choice(list("abc"), size=rng.integers(0, 7)))
        b = "".join(rng.choice(list("abc"), size=rng.integers(0, 7)))
        assert edit_distance(a, b) == reference(a, b)
        assert edit_distance(a, b, limit=1) == min(reference(a, b), 2)


def test_lookup_restricts_and_keeps_the_most_frequent_casing() -> None:
    wv = WordVectors(["the", "Paris", "paris", "rare"], np.eye(4, dtype=np.float32))
    assert wv.lookup(case_insensitive=True) == {"THE": 0, "PARIS": 1, "RARE": 3}
    assert wv.lookup(restrict=2) == {"the": 0, "Paris": 1}
    assert wv.lookup(restrict=2) is wv.lookup(restrict=2)  # built once per setting
