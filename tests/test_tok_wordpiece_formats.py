"""vocab.txt and WordPiece tokenizer.json: round trips through HF, and one-line errors for bad files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from tokenizers import BertWordPieceTokenizer, Tokenizer

from llmlab.tokenizers import TokenizerFormatError
from llmlab.tokenizers.formats.hf_wordpiece import (
    load_hf_wordpiece,
    wordpiece_from_hf_json,
    wordpiece_to_hf_json,
)
from llmlab.tokenizers.formats.vocab_txt import read_vocab_txt
from llmlab.tokenizers.wordpiece import SPECIAL_TOKENS, WordPieceTokenizer

VOCAB = [*SPECIAL_TOKENS, "!", ",", ".", "a", "b", "c", "##a", "##b", "##c", "ab", "##bc", "cab", "é", "中"]
TEXT = "Cab, abc! ABBA aé 中中 [MASK] c.b"


def _write(path: Path, lines: list[str] | str) -> Path:
    path.write_text(lines if isinstance(lines, str) else "".join(f"{t}\n" for t in lines), encoding="utf-8")
    return path


def test_vocab_txt_round_trip_and_hf_agree(tmp_path: Path) -> None:
    path = _write(tmp_path / "vocab.txt", VOCAB)
    ours = WordPieceTokenizer.from_vocab_txt(path)
    hf = BertWordPieceTokenizer(str(path), lowercase=True)
    assert ours.encode(TEXT, allowed_special="all") == hf.encode(TEXT, add_special_tokens=False).ids
    ours.save_vocab_txt(tmp_path / "again.txt")
    assert (tmp_path / "again.txt").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    cased = WordPieceTokenizer.from_vocab_txt(path, lowercase=False)
    assert cased.encode("Cab") != ours.encode("Cab")


def test_tokenizer_json_export_loads_in_hf_with_identical_ids_and_offsets(tmp_path: Path) -> None:
    ours = WordPieceTokenizer(VOCAB)
    ours.save_tokenizer_json(tmp_path / "tokenizer.json")
    hf = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    for text in [TEXT, "", "ab bc ca", "x[SEP]y", "ÉCOLE 中文"]:
        want = hf.encode(text)
        got = ours.encode_for_model(text, allowed_special="all")
        assert (got.ids, got.offsets, got.type_ids) == (want.ids, want.offsets, want.type_ids)
        assert ours.decode(got.ids) == hf.decode(want.ids)
    again = load_hf_wordpiece(tmp_path / "tokenizer.json")
    assert again.vocab == ours.vocab and again.special_tokens == ours.special_tokens
    assert again.normalizer == ours.normalizer


@pytest.mark.parametrize(
    "content, message",
    [
        ("[UNK]\n[CLS]\n\n[SEP]\n", "vocab.txt, line 3: empty token (every line must hold one token)"),
        ("[UNK]\na\n[CLS]\n[SEP]\nb\na\n", "vocab.txt, line 6: token 'a' already appears on line 2"),
        ("[PAD]\n[CLS]\n[SEP]\na\n", "vocab.txt: missing the special token [UNK]"),
        ("a\nb\n", "vocab.txt: missing the special tokens [UNK], [CLS], [SEP]"),
    ],
)
def test_malformed_vocab_txt_is_one_line_error(tmp_path: Path, content: str, message: str) -> None:
    path = _write(tmp_path / "vocab.txt", content)
    with pytest.raises(TokenizerFormatError) as err:
        read_vocab_txt(path)
    assert str(err.value) == f"{tmp_path}/{message}"


def test_vocab_txt_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"[UNK]\n\xff\xfe\n")
    with pytest.raises(TokenizerFormatError) as err:
        read_vocab_txt(path)
    assert str(err.value) == f"{path}: not UTF-8 text (byte 6)"


def _good_json() -> dict:
    return wordpiece_to_hf_json(WordPieceTokenizer(VOCAB))


def _broken(edit) -> dict:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(_good_json())
    edit(data)
    return data


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["model"].update(type="BPE"), "field model.type: expected 'WordPiece', found 'BPE' (not supported)"),
        (lambda d: d["model"].pop("vocab"), "field model.vocab: missing"),
        (lambda d: d["model"]["vocab"].update(ab="7"), "field model.vocab['ab']: id must be an integer >= 0, found \"7\""),
        (lambda d: d["model"]["vocab"].update(ab=True), "field model.vocab['ab']: id must be an integer >= 0, found true"),
        (lambda d: d["model"]["vocab"].update(ab=3), "field model.vocab: two tokens share an id"),
        (lambda d: d["model"].update(unk_token="<unk>"), "field model.unk_token: '<unk>' is not in model.vocab"),
        (lambda d: d["model"].update(max_input_chars_per_word=1.5), "field model.max_input_chars_per_word: expected an integer, found 1.5"),
        (lambda d: d.update(normalizer={"type": "NFKC"}), "field normalizer.type: expected 'BertNormalizer', found 'NFKC' (not supported)"),
        (lambda d: d["normalizer"].update(lowercase="yes"), "field normalizer.lowercase: expected true or false, found \"yes\""),
        (lambda d: d.update(pre_tokenizer={"type": "Whitespace"}), "field pre_tokenizer.type: expected 'BertPreTokenizer', found 'Whitespace' (not supported)"),
        (lambda d: d.update(post_processor=None), "field post_processor.type: missing"),
        (lambda d: d["post_processor"]["single"].pop(), "field post_processor.single: only BERT's template is supported"),
        (lambda d: d["post_processor"]["special_tokens"]["[CLS]"].update(ids=[9]), "field post_processor.special_tokens['[CLS]']: ids must be the token's vocab id"),
        (lambda d: d["decoder"].update(prefix="@@"), "field decoder.prefix: must equal model.continuing_subword_prefix"),
        (lambda d: d["added_tokens"][1].update(id=42), "field added_tokens[1].id: '[UNK]' must be in model.vocab with this id"),
        (lambda d: d["added_tokens"][0].update(lstrip=True), "field added_tokens[0].lstrip: only false is supported"),
    ],
)  # fmt: skip
def test_malformed_tokenizer_json_names_the_field(edit, message: str) -> None:
    with pytest.raises(TokenizerFormatError) as err:
        wordpiece_from_hf_json(_broken(edit), "tok.json")
    assert str(err.value) == f"tok.json, {message}"
    assert "\n" not in str(err.value)


def test_bert_processing_post_processor_is_accepted() -> None:
    data = _good_json()
    data["post_processor"] = {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}
    assert wordpiece_from_hf_json(data, "tok.json").encode_for_model("ab").ids == [2, 14, 3]


def test_tokenizer_json_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text('{\n  "model": {,\n}')
    with pytest.raises(TokenizerFormatError) as err:
        load_hf_wordpiece(path)
    assert (
        str(err.value)
        == f"{path}, line 2: not valid JSON (Expecting property name enclosed in double quotes)"
    )
    assert json.loads(json.dumps(_good_json())) == _good_json()
