"""SentencePiece BPE on small models built in code, live against sentencepiece: merges by
score, leftmost first on ties, unused pieces split back, user-defined pieces frozen."""

from __future__ import annotations

from pathlib import Path

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab.tokenizers.formats.sentencepiece_model import (
    ModelProto,
    ModelType,
    NormalizerSpec,
    PieceType,
    SentencePiece,
    TrainerSpec,
    write_model_proto,
)
from llmlab.tokenizers.sentencepiece import load_sentencepiece
from llmlab.tokenizers.spm_bpe import SpmBpeTokenizer

# BPE scores are the negated merge order: "ab" was learnt first, then "▁ab", ...
MERGES = ["ab", "▁ab", "bc", "ca", "▁c", "abc", "aa", "▁a"]
ALPHABET = ["▁", "a", "b", "c"]


def bpe_model(
    tmp_path: Path, unused: tuple[str, ...] = (), user: tuple[str, ...] = (), **spec: object
) -> Path:
    pieces = [SentencePiece("<unk>", 0, PieceType.UNKNOWN), SentencePiece("<s>", 0, PieceType.CONTROL)]
    pieces += [SentencePiece("</s>", 0, PieceType.CONTROL)] + [
        SentencePiece(u, 0, PieceType.USER_DEFINED) for u in user
    ]
    pieces += [
        SentencePiece(m, -float(i), PieceType.UNUSED if m in unused else PieceType.NORMAL)
        for i, m in enumerate(MERGES)
    ]
    pieces += [SentencePiece(c, -float(len(MERGES) + i)) for i, c in enumerate(ALPHABET)]
    trainer = TrainerSpec(model_type=ModelType.BPE, vocab_size=len(pieces), **spec)  # type: ignore[arg-type]
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "bpe.model"
    path.write_bytes(write_model_proto(ModelProto(pieces, trainer, NormalizerSpec(name="identity"))))
    return path


def test_merges_go_by_score(tmp_path: Path) -> None:
    tok = load_sentencepiece(bpe_model(tmp_path))
    assert isinstance(tok, SpmBpeTokenizer)
    # "▁abc": ab (score 0) first -> ▁ ab c; then ▁ab (-1) -> ▁ab c; "abc" needs "ab"+"c": -5, but ▁ab is taken
    assert tok.encode_pieces("abc") == ["▁ab", "c"]
    # "▁aaa": "aa" (score -6) beats "▁a" (-7), and of the two "aa" pairs the leftmost merges
    assert tok.encode_pieces("aaa") == ["▁", "aa", "a"]


@pytest.mark.parametrize("kwargs", [{}, {"unused": ("abc", "▁ab")}, {"user": ("cab",)}])
def test_equals_sentencepiece_on_random_text(tmp_path: Path, kwargs: dict) -> None:
    path = bpe_model(tmp_path, **kwargs)
    sp, tok = spm.SentencePieceProcessor(model_file=str(path)), load_sentencepiece(path)

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet="abc xΩ", max_size=14))
    def check(text: str) -> None:
        assert tok.encode_ordinary(text) == sp.encode(text)
        assert tok.encode_pieces(text) == sp.encode(text, out_type=str)
        assert tok.decode(sp.encode(text)) == sp.decode(sp.encode(text))

    check()


def test_unused_pieces_are_split_back(tmp_path: Path) -> None:
    path = bpe_model(tmp_path, unused=("▁ab",))
    sp, tok = spm.SentencePieceProcessor(model_file=str(path)), load_sentencepiece(path)
    assert tok.encode_pieces("ab") == sp.encode("ab", out_type=str) == ["▁", "ab"]
