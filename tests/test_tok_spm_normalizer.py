"""SentencePiece normalisation: the darts-clone character map and the whitespace flags,
against sentencepiece's own ``Normalize`` on models we build with every flag combination."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab.tokenizers.formats.darts import DoubleArray
from llmlab.tokenizers.formats.sentencepiece_model import (
    ModelProto,
    NormalizerSpec,
    PieceType,
    SentencePiece,
    TrainerSpec,
    load_model_proto,
    write_model_proto,
)
from llmlab.tokenizers.spm_normalizer import SpmNormalizer

TEXTS = [
    "",
    " ",
    "  Hello   world  ",
    "\tleading tab",
    "a\u3000b",
    "ﬁne ①",
    "x\x01 y",
    "▁▁a▁ ",
    "e\u0301",
    "Ｈｉ",
]


def charsmap(folder: Path) -> bytes:
    return load_model_proto(folder / "botchan_en_bpe_1000.model").normalizer_spec.precompiled_charsmap


def tiny_model(tmp_path: Path, spec: NormalizerSpec, **trainer: object) -> Path:
    """A little Unigram model whose only interesting part is its normaliser."""
    pieces = [SentencePiece("<unk>", 0, PieceType.UNKNOWN), SentencePiece("▁", -1), SentencePiece("a", -2)]
    pieces += [SentencePiece(p, 0, PieceType.USER_DEFINED) for p in trainer.pop("user_defined", [])]  # type: ignore[attr-defined]
    path = tmp_path / "n.model"
    path.write_bytes(write_model_proto(ModelProto(pieces, TrainerSpec(**trainer), spec)))  # type: ignore[arg-type]
    return path


def test_the_trie_and_its_rules(real_assets) -> None:
    [folder] = real_assets("sentencepiece-models")
    norm = SpmNormalizer(NormalizerSpec(name="nmt_nfkc", precompiled_charsmap=charsmap(folder)))
    [(length, value)] = list(norm.trie.prefixes("ﬁne".encode()))
    assert length == 3 and norm._replacement(value) == "fi"  # "ﬁ" is 3 bytes of UTF-8
    assert list(norm.trie.prefixes(b"abc")) == []
    rules = norm.rules()
    assert rules["ﬁ"] == "fi" and rules["①"] == "1" and rules["Ａ"] == "A" and rules["e\u0301"] == "é"
    assert norm.normalize("  Ｈello   ﬁne ") == "▁Hello▁fine"
    assert norm.normalize_with_offsets("ﬁ x") == ("▁fi▁x", [0, 0, 0, 1, 2, 3])


@pytest.mark.parametrize(
    ("dummy", "squeeze", "escape", "suffix"), list(itertools.product([True, False], repeat=4))
)
def test_every_whitespace_flag_combination_equals_sentencepiece(
    real_assets, tmp_path: Path, dummy: bool, squeeze: bool, escape: bool, suffix: bool
) -> None:
    [folder] = real_assets("sentencepiece-models")
    for blob, name in [(b"", "identity"), (charsmap(folder), "nmt_nfkc")]:
        spec = NormalizerSpec(name, blob, dummy, squeeze, escape)
        sp = spm.SentencePieceProcessor(
            model_file=str(tiny_model(tmp_path, spec, treat_whitespace_as_suffix=suffix))
        )
        ours = SpmNormalizer(spec, treat_whitespace_as_suffix=suffix)
        for text in TEXTS:
            normalized, offsets = sp.Normalize(text, with_offsets=True)
            assert ours.normalize_with_offsets(text) == (normalized, list(offsets)), (name, text)


def test_whitespace_corner_cases_equal_sentencepiece(real_assets, tmp_path: Path) -> None:
    [folder] = real_assets("sentencepiece-models")
    spec = NormalizerSpec("nmt_nfkc", charsmap(folder))
    sp = spm.SentencePieceProcessor(model_file=str(tiny_model(tmp_path, spec, user_defined=["ﬁ①"])))
    ours = SpmNormalizer(spec, user_defined=["ﬁ①"])

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from(" \t\u3000▁aé\u0301ﬁ①Ａ\x01\u200b"), max_size=12))
    def check(text: str) -> None:
        normalized, offsets = sp.Normalize(text, with_offsets=True)
        assert ours.normalize_with_offsets(text) == (normalized, list(offsets))

    check()


def test_user_defined_pieces_are_not_normalised(real_assets, tmp_path: Path) -> None:
    [folder] = real_assets("sentencepiece-models")
    spec = NormalizerSpec("nmt_nfkc", charsmap(folder))
    sp = spm.SentencePieceProcessor(model_file=str(tiny_model(tmp_path, spec, user_defined=["ﬁ"])))
    ours = SpmNormalizer(spec, user_defined=["ﬁ"])
    assert ours.normalize("ﬁ ﬂ") == sp.Normalize("ﬁ ﬂ") == "▁ﬁ▁fl"


def test_lone_surrogates_become_replacement_characters() -> None:
    """Not Unicode, so sentencepiece cannot be asked; we do what it does with the three
    invalid UTF-8 bytes a surrogate would take: one U+FFFD for each."""
    ours = SpmNormalizer(NormalizerSpec("identity"))
    assert ours.normalize_with_offsets("a\ud800b") == ("▁a\ufffd\ufffd\ufffdb", [0, 0, 1, 1, 1, 2, 3])


def test_double_array_reads_the_unit_bits() -> None:
    assert DoubleArray.offset(5 << 10) == 5
    assert DoubleArray.offset((5 << 10) | 0x200) == 5 << 8  # the extension bit: offset x 256
