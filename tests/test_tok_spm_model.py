"""Reading and writing ``.model`` files: the shipped models, round trips, and broken files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sentencepiece as spm

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.formats.sentencepiece_model import (
    ModelProto,
    ModelType,
    NormalizerSpec,
    PieceType,
    SentencePiece,
    TrainerSpec,
    load_model_proto,
    read_model_proto,
    write_model_proto,
)
from llmlab.tokenizers.sentencepiece import load_sentencepiece, save_sentencepiece
from llmlab.tokenizers.spm_bpe import SpmBpeTokenizer
from llmlab.tokenizers.unigram import UnigramTokenizer

MODELS = ["botchan_en_bpe_1000.model", "botchan_en_unigram_1000.model", "kyoto_ja_unigram_8000.model"]
TEXTS = ["Hello world.", "  I am a cat ①ﬁ", "吾輩は猫である。名前はまだ無い。", "unknown Ω and 😀", ""]


@pytest.mark.parametrize("name", MODELS)
def test_shipped_models_parse_and_write_back_byte_for_byte(real_assets, name: str) -> None:
    [folder] = real_assets("sentencepiece-models")
    data = (folder / name).read_bytes()
    model = read_model_proto(data, folder / name)
    assert write_model_proto(model) == data
    assert model.pieces[0] == SentencePiece("<unk>", 0.0, PieceType.UNKNOWN)
    assert model.trainer_spec.model_type == (ModelType.BPE if "bpe" in name else ModelType.UNIGRAM)
    assert (
        model.normalizer_spec.add_dummy_prefix and len(model.normalizer_spec.precompiled_charsmap) > 200_000
    )


def test_what_the_models_say(real_assets) -> None:
    [folder] = real_assets("sentencepiece-models")
    bpe = load_model_proto(folder / "botchan_en_bpe_1000.model")
    assert (bpe.trainer_spec.vocab_size, bpe.normalizer_spec.name, bpe.trainer_spec.pad_id) == (
        1000,
        "nmt_nfkc",
        -1,
    )
    assert [(p.piece, p.score) for p in bpe.pieces[3:6]] == [("▁t", -0.0), ("he", -1.0), ("▁a", -2.0)]
    assert isinstance(load_sentencepiece(folder / "botchan_en_bpe_1000.model"), SpmBpeTokenizer)
    assert isinstance(load_sentencepiece(folder / "kyoto_ja_unigram_8000.model"), UnigramTokenizer)


@pytest.mark.parametrize("name", MODELS)
def test_edited_model_written_by_us_loads_in_sentencepiece(real_assets, tmp_path: Path, name: str) -> None:
    """Change something that matters (a score), write with our writer, and sentencepiece agrees."""
    [folder] = real_assets("sentencepiece-models")
    tok = load_sentencepiece(folder / name)
    original = spm.SentencePieceProcessor(model_file=str(folder / name))
    tok.model.trainer_spec.extra = ()  # drop what we do not model: sentencepiece must not need it
    path = save_sentencepiece(tok, tmp_path / "copy.model")
    copy = spm.SentencePieceProcessor(model_file=str(path))
    for text in TEXTS:
        assert copy.encode(text) == original.encode(text) == tok.encode_ordinary(text)
    tok.model.pieces[tok.token_to_id("▁") or 4].score = 5.0  # make "▁" irresistible for Unigram
    edited = spm.SentencePieceProcessor(model_file=str(save_sentencepiece(tok, tmp_path / "edited.model")))
    reloaded = load_sentencepiece(tmp_path / "edited.model")
    for text in TEXTS:
        assert reloaded.encode_ordinary(text) == edited.encode(text)


def test_a_model_built_in_code_loads_in_sentencepiece(tmp_path: Path) -> None:
    pieces = [SentencePiece("<unk>", 0, PieceType.UNKNOWN), SentencePiece("<s>", 0, PieceType.CONTROL)]
    pieces += [SentencePiece("</s>", 0, PieceType.CONTROL), SentencePiece("<sep>", 0, PieceType.USER_DEFINED)]
    pieces += [SentencePiece(p, -float(i)) for i, p in enumerate(["▁", "a", "b", "c", "▁ab", "bc", "▁a"])]
    model = ModelProto(pieces, TrainerSpec(vocab_size=len(pieces)), NormalizerSpec(name="identity"))
    path = tmp_path / "tiny.model"
    path.write_bytes(write_model_proto(model))
    sp = spm.SentencePieceProcessor(model_file=str(path))
    tok = load_sentencepiece(path)
    for text in ["abc", " a b c ", "ab<sep>c", "cab", "xyz", "a\u0301"]:
        assert tok.encode_ordinary(text) == sp.encode(text), text
        assert tok.encode_pieces(text) == sp.encode(text, out_type=str), text


def _corrupt(data: bytes, piece_index: int, new_field: bytes) -> bytes:
    """``data`` with the ``piece_index``-th piece replaced by a piece made of ``new_field``."""
    from llmlab.tokenizers.formats import protobuf as pb

    field = [f for f in pb.iter_fields(data) if f.number == 1][piece_index]
    w = pb.Writer()
    w.bytes_(1, new_field)
    return data[: field.offset] + w.getvalue() + data[field.end :]


BROKEN = [
    (lambda d: d[:1000], ", field pieces[81]: length 13 at byte 997 runs past the end (1 bytes left)"),
    (
        lambda d: d[:-3],
        ", field normalizer_spec: length 237498 at byte 15650 runs past the end (237495 bytes left)",
    ),
    (
        lambda d: _corrupt(d, 12, b"\n\x01a\x18\x09"),
        ", field pieces[12].type: 9 is not a valid PieceType (expected one of 1 (NORMAL), 2 (UNKNOWN), "
        "3 (CONTROL), 4 (USER_DEFINED), 5 (UNUSED), 6 (BYTE))",
    ),
    (
        lambda d: _corrupt(d, 12, b"\n\x01a\x10\x05"),
        ", field pieces[12].score: expected wire type 5 (float), found 0",
    ),
    (lambda d: _corrupt(d, 7, b"\n\x02\xff\xfe"), ", field pieces[7].piece: is not valid UTF-8 text"),
    (
        lambda d: b"hello world, this is text\n",
        ": not a SentencePiece model (it starts with field #13, which a ModelProto does not have)",
    ),
    (lambda d: b"", ": no pieces: this is not a SentencePiece model"),
    (
        lambda d: _corrupt(d, 0, b"\n\x05<unk>\x18\x01"),
        ", field pieces: expected exactly one UNKNOWN piece, found 0",
    ),
    (lambda d: _corrupt(d, 9, b"\n\x00"), ", field pieces[9].piece: a piece must not be empty"),
    (lambda d: _corrupt(d, 9, b"\n\x03<s>\x18\x03"), ", field pieces[9].piece: piece '<s>' is defined twice"),
]


@pytest.mark.parametrize(("damage", "message"), BROKEN)
def test_broken_files_give_one_line_errors(real_assets, tmp_path: Path, damage, message: str) -> None:
    """Truncated files, a garbage field, a file that is not protobuf: the message names the
    file and the field."""
    [folder] = real_assets("sentencepiece-models")
    path = tmp_path / "broken.model"
    path.write_bytes(damage((folder / "botchan_en_unigram_1000.model").read_bytes()))
    with pytest.raises(TokenizerFormatError, match=f"^{re.escape(str(path) + message)}$"):
        load_sentencepiece(path)


def test_missing_file_and_unsupported_model_type(tmp_path: Path) -> None:
    with pytest.raises(
        TokenizerFormatError, match=r"nope\.model: cannot read the file \(No such file or directory\)$"
    ):
        load_sentencepiece(tmp_path / "nope.model")
    model = ModelProto([SentencePiece("<unk>", 0, PieceType.UNKNOWN)], TrainerSpec(model_type=ModelType.WORD))
    (tmp_path / "word.model").write_bytes(write_model_proto(model))
    with pytest.raises(
        TokenizerFormatError, match=r"field trainer_spec\.model_type: model_type WORD is not supported"
    ):
        load_sentencepiece(tmp_path / "word.model")


def test_byte_fallback_needs_the_byte_pieces(tmp_path: Path) -> None:
    model = ModelProto(
        [SentencePiece("<unk>", 0, PieceType.UNKNOWN), SentencePiece("a", -1)],
        TrainerSpec(byte_fallback=True),
    )
    (tmp_path / "b.model").write_bytes(write_model_proto(model))
    with pytest.raises(
        TokenizerFormatError,
        match=r"b\.model, field pieces: byte_fallback is set but piece <0x00> is missing$",
    ):
        load_sentencepiece(tmp_path / "b.model")
