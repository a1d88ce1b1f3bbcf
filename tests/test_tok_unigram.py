"""Unigram segmentation on small models built in code: Viterbi against brute force, unknown
characters, byte fallback, user-defined pieces, special tokens, all checked live against
sentencepiece loading the same model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import SpecialTokenError
from llmlab.tokenizers.formats.sentencepiece_model import (
    ModelProto,
    NormalizerSpec,
    PieceType,
    SentencePiece,
    TrainerSpec,
    write_model_proto,
)
from llmlab.tokenizers.sentencepiece import load_sentencepiece
from llmlab.tokenizers.unigram import UnigramTokenizer

SCORES = {
    "▁": -2.0,
    "a": -3.0,
    "b": -3.5,
    "c": -4.0,
    "ab": -4.5,
    "bc": -5.0,
    "▁ab": -6.0,
    "abc": -7.5,
    "▁a": -3.2,
}


def make_model(
    tmp_path: Path, scores: dict[str, float], byte_fallback: bool = False, user: tuple = ()
) -> Path:
    pieces = [SentencePiece("<unk>", 0, PieceType.UNKNOWN), SentencePiece("<s>", 0, PieceType.CONTROL)]
    pieces += [SentencePiece("</s>", 0, PieceType.CONTROL)]
    pieces += [SentencePiece(u, 0, PieceType.USER_DEFINED) for u in user]
    if byte_fallback:
        pieces += [SentencePiece(f"<0x{b:02X}>", 0, PieceType.BYTE) for b in range(256)]
    pieces += [SentencePiece(p, s) for p, s in scores.items()]
    spec = TrainerSpec(vocab_size=len(pieces), byte_fallback=byte_fallback)
    path = tmp_path / "u.model"
    path.write_bytes(write_model_proto(ModelProto(pieces, spec, NormalizerSpec(name="identity"))))
    return path


def segmentations(text: str, vocab: set[str]) -> list[list[str]]:
    """Every way to cut ``text`` into pieces of ``vocab`` (brute force, for small texts)."""
    if not text:
        return [[]]
    return [
        [text[:i], *rest]
        for i in range(1, len(text) + 1)
        if text[:i] in vocab
        for rest in segmentations(text[i:], vocab)
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abc ", min_size=1, max_size=9))
def test_viterbi_finds_the_best_segmentation(text: str) -> None:
    model = ModelProto(
        [SentencePiece("<unk>", 0, PieceType.UNKNOWN)] + [SentencePiece(p, s) for p, s in SCORES.items()]
    )
    tok = UnigramTokenizer(model)
    normalized = tok.normalizer.normalize(text)
    best = (
        max(sum(SCORES[p] for p in seg) for seg in segmentations(normalized, set(SCORES)))
        if normalized
        else 0
    )
    pieces = tok.encode_pieces(text)
    assert "".join(pieces) == normalized
    assert math.isclose(sum(SCORES[p] for p in pieces), best, abs_tol=1e-5)


def test_viterbi_worked_example(tmp_path: Path) -> None:
    tok = load_sentencepiece(make_model(tmp_path, SCORES))
    # "▁abc": ▁ab+c = -10.0, ▁a+bc = -8.2, ▁+abc = -9.5, ▁+a+b+c = -12.5: the best is ▁a + bc
    assert tok.encode_pieces("abc") == ["▁a", "bc"]
    sp = spm.SentencePieceProcessor(model_file=str(make_model(tmp_path, SCORES)))
    assert tok.encode_ordinary("abc abcab") == sp.encode("abc abcab")


def test_unknown_characters_merge_into_one_unk(tmp_path: Path) -> None:
    path = make_model(tmp_path, SCORES)
    sp, tok = spm.SentencePieceProcessor(model_file=str(path)), load_sentencepiece(path)
    text = "abΩЖc xyz"
    ab, c, space = tok.token_to_id("▁ab"), tok.token_to_id("c"), tok.token_to_id("▁")
    assert tok.encode_ordinary(text) == sp.encode(text) == [ab, 0, c, space, 0]
    assert tok.encode_pieces(text) == sp.encode(text, out_type=str) == ["▁ab", "ΩЖ", "c", "▁", "xyz"]
    assert tok.decode(sp.encode(text)) == sp.decode(sp.encode(text)) == "ab ⁇ c  ⁇ "
    assert tok.encode_with_offsets(text) == [(ab, 0, 2), (0, 2, 4), (c, 4, 5), (space, 5, 6), (0, 6, 9)]


def test_byte_fallback_spells_unknown_characters_in_bytes(tmp_path: Path) -> None:
    path = make_model(tmp_path, SCORES, byte_fallback=True)
    sp, tok = spm.SentencePieceProcessor(model_file=str(path)), load_sentencepiece(path)
    for text in ["aΩb", "😀", "ab c Ж", "\x00"]:
        assert tok.encode_ordinary(text) == sp.encode(text)
        assert tok.decode(sp.encode(text)) == sp.decode(sp.encode(text)) == text
    pieces = tok.encode_pieces("aΩ")
    assert pieces == ["▁a", "<0xCE>", "<0xA9>"]
    assert [s for _, *s in tok.encode_with_offsets("aΩ")] == [
        [0, 1],
        [1, 1],
        [1, 2],
    ]  # the last byte holds the span
    # invalid UTF-8 decodes to one U+FFFD per bad byte, as in sentencepiece
    bad = [tok.token_to_id("<0xE2>"), tok.token_to_id("<0x96>"), tok.token_to_id("a")]
    assert tok.decode(bad) == sp.decode(bad) == "\ufffd\ufffda"


def test_user_defined_pieces_always_win(tmp_path: Path) -> None:
    path = make_model(tmp_path, SCORES, user=("<sep>", "ca"))
    sp, tok = spm.SentencePieceProcessor(model_file=str(path)), load_sentencepiece(path)
    for text in ["a<sep>b", "abca", "<sep><sep>", "x <sep> y", "cabcab"]:
        assert tok.encode_ordinary(text) == sp.encode(text), text
        assert tok.encode_pieces(text) == sp.encode(text, out_type=str), text


def test_control_pieces_are_special_tokens(tmp_path: Path) -> None:
    path = make_model(tmp_path, SCORES)
    sp, tok = spm.SentencePieceProcessor(model_file=str(path)), load_sentencepiece(path)
    assert tok.special_tokens == {"<s>": 1, "</s>": 2}
    with pytest.raises(SpecialTokenError, match="contains the special token '<s>' at character 2"):
        tok.encode("ab<s>")
    assert tok.encode("ab<s>", disallowed_special=()) == sp.encode(
        "ab<s>"
    )  # plain text, as sentencepiece does
    ab, c, space = tok.token_to_id("▁ab"), tok.token_to_id("c"), tok.token_to_id("▁")
    assert tok.encode("ab<s>c", allowed_special="all") == [ab, 1, space, c]  # each side normalised alone
    assert tok.decode([1, tok.token_to_id("▁ab"), 2]) == sp.decode([1, tok.token_to_id("▁ab"), 2]) == "ab"


def test_decode_rejects_ids_out_of_range(tmp_path: Path) -> None:
    tok = load_sentencepiece(make_model(tmp_path, SCORES))
    with pytest.raises(LLMLabError, match=r"^id 99 is not in the vocabulary of unigram \(ids 0\.\.11\)$"):
        tok.decode([99])
