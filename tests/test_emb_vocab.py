"""Vocabulary, subsampling and the negative table of word2vec, against gensim's build_vocab (live)."""

from __future__ import annotations

import numpy as np
import pytest

from llmlab.embeddings import vocab as V
from llmlab.errors import LLMLabError

gensim_w2v = pytest.importorskip("gensim.models.word2vec")


def _gensim_vocab(sentences: list[list[str]], min_count: int, sample: float, ns_exponent: float = 0.75):
    model = gensim_w2v.Word2Vec(min_count=min_count, sample=sample, ns_exponent=ns_exponent, workers=1)
    model.build_vocab(sentences)
    return model


def _zipf_sentences(n_words: int = 20_000, n_types: int = 800, seed: int = 0) -> list[list[str]]:
    """Random text with a Zipf-like word distribution, many tied counts, sentences of 1..40 words."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, n_types + 1)
    tokens = [f"w{i}" for i in rng.choice(n_types, size=n_words, p=p / p.sum())]
    out, i = [], 0
    while i < len(tokens):
        n = int(rng.integers(1, 41))
        out.append(tokens[i : i + n])
        i += n
    return out


def test_words_and_sentences():
    assert V.words("Don't stop, 1984! Café-au-lait") == ["don't", "stop", "café", "au", "lait"]
    text = "First para, two lines\nstill first.\n\n  \nSecond 'quoted' para.\n"
    assert V.sentences(text) == [
        ["first", "para", "two", "lines", "still", "first"],
        ["second", "quoted", "para"],
    ]
    long = " ".join(["w"] * (V.MAX_SENTENCE_WORDS + 5))
    assert [len(s) for s in V.sentences(long)] == [V.MAX_SENTENCE_WORDS, 5]  # cut like gensim's limit


@pytest.mark.parametrize("min_count", [1, 5])
def test_vocabulary_equals_gensim(min_count):
    sentences = _zipf_sentences()
    ours = V.Vocabulary.build(sentences, min_count=min_count)
    theirs = _gensim_vocab(sentences, min_count, 1e-3)
    assert ours.words == theirs.wv.index_to_key  # same words in the same order, ties included
    np.testing.assert_array_equal(ours.counts, theirs.wv.expandos["count"])


@pytest.mark.parametrize("sample", [1e-3, 1e-2, 0.0])
def test_subsampling_equals_gensim(sample):
    sentences = _zipf_sentences(seed=1)
    ours = V.Vocabulary.build(sentences, min_count=2)
    theirs = _gensim_vocab(sentences, 2, sample)
    np.testing.assert_array_equal(ours.sample_ints(sample), theirs.wv.expandos["sample_int"])
    keep = ours.keep_probabilities(sample)
    assert keep.max() == 1.0 and (keep > 0).all()
    if sample:
        assert keep[0] < 1.0  # the most frequent word is thinned out


@pytest.mark.parametrize("exponent", [0.75, 1.0, 0.0])
def test_negative_table_equals_gensim(exponent):
    sentences = _zipf_sentences(seed=2)
    ours = V.Vocabulary.build(sentences, min_count=3)
    theirs = _gensim_vocab(sentences, 3, 1e-3, ns_exponent=exponent)
    np.testing.assert_array_equal(ours.negative_table(exponent), theirs.cum_table)


def test_real_corpus_vocabulary_equals_gensim(real_assets):
    [folder] = real_assets("botchan")
    sentences = V.sentences((folder / "botchan.txt").read_text(encoding="utf-8"))
    ours = V.Vocabulary.build(sentences, min_count=5)
    theirs = _gensim_vocab(sentences, 5, 1e-3)
    assert ours.words == theirs.wv.index_to_key
    np.testing.assert_array_equal(ours.sample_ints(1e-3), theirs.wv.expandos["sample_int"])
    np.testing.assert_array_equal(ours.negative_table(), theirs.cum_table)


def test_encode_drops_rare_words():
    vocab = V.Vocabulary.build([["a", "b", "a", "rare"], ["b", "a"]], min_count=2)
    ids, sentence = vocab.encode([["a", "rare", "b"], ["b"]])
    assert [vocab.words[i] for i in ids] == ["a", "b", "b"]
    assert sentence.tolist() == [0, 0, 1]


def test_corpus_files_and_folders(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("One two.\n\nThree.", encoding="utf-8")
    (tmp_path / "docs" / "b.txt").write_text("Four", encoding="utf-8")
    assert V.load_sentences(str(tmp_path / "docs")) == [["one", "two"], ["three"], ["four"]]
    assert V.load_sentences(f"{tmp_path / 'docs' / 'b.txt'},{tmp_path / 'docs' / 'b.txt'}") == [["four"]] * 2


def test_bad_input_messages(tmp_path):
    with pytest.raises(LLMLabError, match="the corpus is empty"):
        V.Vocabulary.build([[], []])
    empty = tmp_path / "empty.txt"
    empty.write_text("  1984 !!\n", encoding="utf-8")
    with pytest.raises(LLMLabError, match="the corpus is empty"):
        V.Vocabulary.build(V.load_sentences(str(empty)))
    with pytest.raises(LLMLabError, match="no word occurs 5 times"):
        V.Vocabulary.build([["a", "b", "a"]], min_count=5)
    vocab = V.Vocabulary.build([["a", "b", "c", "a"]], min_count=1)
    with pytest.raises(
        LLMLabError, match="a vocabulary of 3 words is too small for window 5 and 5 negatives"
    ):
        vocab.check_size(window=5, negative=5)
    with pytest.raises(LLMLabError, match="neither a file, a folder nor a corpus asset"):
        V.load_sentences("no-such-corpus")
    (tmp_path / "none").mkdir()
    with pytest.raises(LLMLabError, match="holds no .txt files"):
        V.load_sentences(str(tmp_path / "none"))
