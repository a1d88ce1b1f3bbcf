"""Unigram training: the lattice maths against brute force, the trainer against
sentencepiece's trainer on Botchan, saved models in sentencepiece, and round-trip properties."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab.errors import LLMLabError
from llmlab.tokenizers.sentencepiece import load_sentencepiece, save_sentencepiece
from llmlab.tokenizers.train_unigram import digamma, train_unigram
from llmlab.tokenizers.unigram_lattice import Lattices
from test_tok_spm_parity import botchan_lines, varied_strings


def all_paths(n: int, edges: list[tuple[int, int, float]]) -> list[list[int]]:
    """Every path from node 0 to node n, as edge indices (brute force)."""
    if n == 0:
        return [[]]
    return [[*p, k] for k, (s, e, _) in enumerate(edges) if e == n for p in all_paths(s, edges)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-8, -0.5), min_size=10, max_size=10), st.integers(1, 4))
def test_forward_backward_and_viterbi_equal_brute_force(scores: list[float], n: int) -> None:
    """Two lattices side by side (lengths ``n`` and 3), every edge of length 1..2."""
    spans = [(s, e) for s in range(n) for e in range(s + 1, min(s + 2, n) + 1)]
    spans2 = [(s, e) for s in range(3) for e in range(s + 1, min(s + 2, 3) + 1)]
    edges = [(s, e, scores[k % 10]) for k, (s, e) in enumerate(spans)]
    edges2 = [(s, e, scores[(k + 3) % 10]) for k, (s, e) in enumerate(spans2)]
    off = n + 1
    all_edges = edges + [(s + off, e + off, w) for s, e, w in edges2]
    start, end, weight = (np.array(column) for column in zip(*all_edges, strict=True))
    lat = Lattices(np.array([0, off]), np.array([n, off + 3]), start, end, np.arange(len(all_edges)), weight)
    expected, log_z = lat.expected_counts(np.array([1.0, 2.0]), len(all_edges))
    for which, (es, base, weight) in enumerate([(edges, 0, 1.0), (edges2, len(edges), 2.0)]):
        paths = all_paths(3 if which else n, es)
        totals = [sum(es[k][2] for k in p) for p in paths]
        z = math.log(sum(math.exp(t) for t in totals))
        assert math.isclose(log_z[which], z, rel_tol=1e-9)
        for k in range(len(es)):
            marginal = sum(math.exp(t - z) for p, t in zip(paths, totals, strict=True) if k in p)
            assert math.isclose(expected[base + k], weight * marginal, rel_tol=1e-7, abs_tol=1e-12)
    lattice, edge, best = lat.viterbi()
    for which, (es, base) in enumerate([(edges, 0), (edges2, len(edges))]):
        path = [int(e) - base for lt, e in zip(lattice, edge, strict=True) if lt == which]
        assert math.isclose(
            sum(es[k][2] for k in path),
            max(sum(es[k][2] for k in p) for p in all_paths(3 if which else n, es)),
        )
        assert math.isclose(best[which], sum(es[k][2] for k in path))


def test_digamma_is_the_derivative_of_log_gamma() -> None:
    x = np.array([0.5, 0.9, 1.0, 3.3, 7.0, 42.0, 1e5])
    numeric = [(math.lgamma(v * (1 + 1e-7)) - math.lgamma(v * (1 - 1e-7))) / (2e-7 * v) for v in x]
    np.testing.assert_allclose(digamma(x), numeric, rtol=1e-6, atol=1e-7)
    assert math.isclose(
        float(digamma(np.array([1.0]))[0]), -0.5772156649015329, rel_tol=1e-9
    )  # -Euler's gamma


def test_close_to_sentencepiece_trainer_on_botchan(real_assets, tmp_path: Path) -> None:
    """Both trainers, the same text (90% of Botchan) and settings: unigram, 1,000 pieces,
    character_coverage 1.0, nmt_nfkc normalisation (sentencepiece compiles it from the rule
    name; we reuse the compiled map from the model it wrote, so both normalise alike).
    Measured (sentencepiece 0.2.3): 875 shared pieces; 27.4 vs 26.9 tokens per held-out line."""
    [botchan] = real_assets("botchan")
    lines = botchan_lines(botchan)
    train, held_out = lines[: len(lines) * 9 // 10], lines[len(lines) * 9 // 10 :]
    (tmp_path / "train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(tmp_path / "train.txt"), model_prefix=str(tmp_path / "spm"), vocab_size=1000, model_type="unigram",
        character_coverage=1.0, normalization_rule_name="nmt_nfkc", num_threads=2, minloglevel=2,
    )  # fmt: skip
    theirs = load_sentencepiece(tmp_path / "spm.model")
    nmt_nfkc = theirs.model.normalizer_spec
    ours = train_unigram(
        tmp_path / "train.txt", 1000, normalizer=nmt_nfkc, character_coverage=1.0, show_progress=False
    )
    assert ours.vocab_size == 1000
    assert len(set(ours.pieces) & set(theirs.pieces)) >= 800
    per_line = [sum(len(t.encode_ordinary(x)) for x in held_out) / len(held_out) for t in (ours, theirs)]
    assert per_line[0] <= 1.10 * per_line[1]


def test_saved_model_loads_in_sentencepiece_with_our_ids(real_assets, tmp_path: Path) -> None:
    [botchan] = real_assets("botchan")
    lines = botchan_lines(botchan)
    settings_ = {
        "byte_fallback": True,
        "user_defined_symbols": ["<sep>"],
        "control_symbols": ["<cls>"],
        "pad_id": 3,
    }
    tok = train_unigram(lines[:2000], 900, show_progress=False, **settings_)
    assert tok.pieces[:6] == ["<unk>", "<s>", "</s>", "<pad>", "<cls>", "<sep>"] and tok.pieces[6] == "<0x00>"
    sp = spm.SentencePieceProcessor(model_file=str(save_sentencepiece(tok, tmp_path / "ours.model")))
    for text in varied_strings(1500, 3, lines) + ["a<sep>b", "<cls> x"]:
        ids = sp.encode(text)
        assert tok.encode_ordinary(text) == ids, text
        assert tok.decode(ids) == sp.decode(ids), text


def test_training_is_deterministic_and_streams_files(real_assets, tmp_path: Path) -> None:
    [botchan] = real_assets("botchan")
    lines = botchan_lines(botchan)[:800]
    (tmp_path / "a.txt").write_text("\n".join(lines[:400]), encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(lines[400:]), encoding="utf-8")
    first = train_unigram([tmp_path / "a.txt", tmp_path / "b.txt"], 400, show_progress=False)
    second = train_unigram(iter(lines), 400, show_progress=False)
    assert first.pieces == second.pieces and first.scores == second.scores
    third = train_unigram(files=[tmp_path / "a.txt", tmp_path / "b.txt"], vocab_size=400, special_tokens=["<|end|>"],
                          name="mini", show_progress=False)  # fmt: skip
    assert (third.name, third.special_tokens) == ("mini", {"<s>": 1, "</s>": 2, "<|end|>": 3})
    assert set(third.pieces[4:]) < set(first.pieces[3:])  # one special piece more, one learnt piece less
    tiny = train_unigram(["abc abd abe"] * 10, 500, show_progress=False)  # too little text for 500 pieces
    assert tiny.vocab_size < 500 == first.vocab_size + 100
    with pytest.raises(LLMLabError, match=r"^nope\.txt: no such file to train on$"):
        train_unigram(files=["nope.txt"])


@pytest.fixture(scope="module")
def byte_model() -> object:
    text = "The quick brown fox jumps over the lazy dog. Botchan was a hot-headed young man.\n" * 20
    return train_unigram(
        text.splitlines(), 300, byte_fallback=True, hard_vocab_limit=False, show_progress=False
    )


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=()), max_size=30))
def test_byte_fallback_round_trip_on_any_text(byte_model, text: str) -> None:
    """Nothing is lost: decode(encode(x)) is the normalised text, "▁" read as a space, minus
    the leading spaces that decoding always drops. Surrogates included: no exception."""
    tok = byte_model
    ids = tok.encode_ordinary(text)
    assert tok.unk_id not in ids
    assert tok.decode(ids) == tok.normalizer.normalize(text).replace("▁", " ").lstrip(" ")
    assert [i for i, _, _ in tok.encode_with_offsets(text)] == ids
    assert len(tok.encode_pieces(text)) == len(ids)
    assert list(tok.encode_iterable([text[: len(text) // 2], text[len(text) // 2 :]])) == ids


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"vocab_size": 30, "character_coverage": 1.0},
            LLMLabError,
            "vocab_size 30 is smaller than the 43 required "
            "characters plus 3 special pieces; raise vocab_size or lower character_coverage",
        ),  # fmt: skip
        ({"vocab_size": 5000, "hard_vocab_limit": True}, LLMLabError, "the corpus only supports"),
        (
            {"vocab_size": 100, "split_by_whitespace": False},
            ValueError,
            "supports only the default whitespace",
        ),
        ({"vocab_size": 100, "no_such_setting": 1}, TypeError, "no_such_setting"),
        ({"vocab_size": 100, "pad_id": 0}, ValueError, "special piece <pad> has id 0, which is taken"),
    ],
)
def test_bad_settings_give_clear_errors(kwargs: dict, error: type, message: str) -> None:
    text = ["The quick brown fox jumps over the lazy dog; 1234567890 ABC."] * 5
    assert len(set("▁" + text[0].replace(" ", "▁"))) == 43  # the alphabet, with full coverage
    with pytest.raises(error, match=re.escape(message)):
        train_unigram(text, show_progress=False, **kwargs)
    with pytest.raises(LLMLabError, match="^the training corpus has no text$"):
        train_unigram(["", ""], 100, show_progress=False)


def test_progress_bar_does_not_change_the_result(capsys) -> None:
    corpus = ["abc abd abe"] * 10
    shown = train_unigram(corpus, 20, hard_vocab_limit=False, show_progress=True)
    hidden = train_unigram(corpus, 20, hard_vocab_limit=False, show_progress=False)
    assert (shown.pieces, shown.scores) == (hidden.pieces, hidden.scores)
    capsys.readouterr()
