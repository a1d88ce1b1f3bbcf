"""Properties of the BERT tokenizer on any text (hypothesis), including HF parity on random text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import BertWordPieceTokenizer

from llmlab.tokenizers import SpecialTokenError
from llmlab.tokenizers.bert_normalizer import BertNormalizer
from llmlab.tokenizers.bert_pretokenizer import split_words
from llmlab.tokenizers.wordpiece import SPECIAL_TOKENS, WordPieceTokenizer

# Every code point, lone surrogates included, plus special-token text and BERT's trouble spots.
ANY_TEXT = st.lists(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from(["é", "e\u0301", "İ", "Σ", "中", "\x00", "\ufffd", "\u3000", "!", "#", " ", "\n"]),
        st.sampled_from(SPECIAL_TOKENS),
    ),
    max_size=40,
).map("".join)
# Text HF can take whose characters have the same category in Unicode 3.2 and today (see
# test_tok_wordpiece.py for why newer characters may differ between Unicode versions).
STABLE_TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cn")).filter(
        lambda ch: unicodedata.ucd_3_2_0.category(ch) == unicodedata.category(ch)
    ),
    max_size=60,
)
PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def bert(real_assets) -> tuple[WordPieceTokenizer, BertWordPieceTokenizer]:
    [folder] = real_assets("bert-vocab")
    return WordPieceTokenizer.from_vocab_txt(folder / "vocab.txt"), BertWordPieceTokenizer(
        str(folder / "vocab.txt"), lowercase=True
    )


@PROPERTY
@given(text=ANY_TEXT)
def test_encode_never_raises_except_for_disallowed_special_tokens(bert, text: str) -> None:
    ours, _ = bert
    ids = ours.encode(text, disallowed_special=())
    assert all(0 <= i < ours.vocab_size for i in ids)
    try:
        ours.encode(text)
    except SpecialTokenError:
        assert any(s in text for s in SPECIAL_TOKENS)
    ours.decode(ids)
    ours.encode_for_model(text, text, max_length=16, padding=True, allowed_special="all")


@PROPERTY
@given(text=ANY_TEXT)
def test_offsets_lie_in_the_text_and_move_forward(bert, text: str) -> None:
    ours, _ = bert
    tokens = ours.encode_with_offsets(text, allowed_special="all")
    assert [i for i, _, _ in tokens] == ours.encode(text, allowed_special="all")
    for _, start, end in tokens:
        assert 0 <= start < end <= len(text)
    assert [s for _, s, _ in tokens] == sorted(s for _, s, _ in tokens)
    assert [e for _, _, e in tokens] == sorted(e for _, _, e in tokens)


@PROPERTY
@given(words=st.lists(st.from_regex(r"[a-zA-Z]{1,100}", fullmatch=True), max_size=12),
       gaps=st.lists(st.sampled_from([" ", "  ", "\t", "\n", " \u3000 "]), min_size=12, max_size=12))  # fmt: skip
def test_decode_inverts_encode_on_letters(bert, words: list[str], gaps: list[str]) -> None:
    ours, _ = bert
    text = "".join(w + g for w, g in zip(words, gaps, strict=False))
    normalised = " ".join(split_words(BertNormalizer().normalize(text)))  # "Hello\tWORLD" -> "hello world"
    assert ours.decode(ours.encode(text)) == normalised


@PROPERTY
@given(text=ANY_TEXT)
def test_fast_and_offset_tracking_normalisation_agree(text: str) -> None:
    for normalizer in (
        BertNormalizer(),
        BertNormalizer(lowercase=False),
        BertNormalizer(False, False, True, False),
    ):
        normalized, sources = normalizer.normalize_with_sources(text)
        assert normalized == normalizer.normalize(text)
        assert len(sources) == len(normalized) and sources == sorted(sources)


@PROPERTY
@given(text=STABLE_TEXT, pair=STABLE_TEXT)
def test_random_text_matches_hf(bert, text: str, pair: str) -> None:
    ours, hf = bert
    want = hf.encode(text, pair)
    got = ours.encode_for_model(text, pair, allowed_special="all")
    assert (got.ids, got.type_ids, got.offsets) == (want.ids, want.type_ids, want.offsets)
    assert ours.decode(got.ids) == hf.decode(want.ids)


@PROPERTY
@given(chunks=st.lists(ANY_TEXT, max_size=5))
def test_encode_iterable_equals_encode(bert, chunks: list[str]) -> None:
    ours, _ = bert
    assert list(ours.encode_iterable(chunks, disallowed_special=())) == ours.encode(
        "".join(chunks), disallowed_special=()
    )
