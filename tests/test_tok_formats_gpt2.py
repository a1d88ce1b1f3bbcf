"""GPT-2's encoder.json + vocab.bpe: written from the ranks, read back by tiktoken and HF, bad input named.

tiktoken's ``data_gym_to_mergeable_bpe_ranks`` is the loader OpenAI wrote for these two
files; Hugging Face reads the same pair as ``vocab.json`` + ``merges.txt``. Both must accept
what we write and agree with us.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import tiktoken.load
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from llmlab.tokenizers import TokenizerFormatError
from llmlab.tokenizers.formats.gpt2_files import load_gpt2_files, save_gpt2_files
from llmlab.tokenizers.pretrained import load_pretrained
from test_tok_bpe_tiktoken import varied_strings

Need = Callable[..., list[Path]]


@pytest.fixture
def gpt2_files(real_assets: Need, tmp_path: Path) -> tuple[Path, Path]:
    real_assets("gpt2-ranks")
    return save_gpt2_files(load_pretrained("gpt2"), tmp_path / "gpt2")


def test_written_files_are_gpt2s_format(
    gpt2_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder_json, vocab_bpe = gpt2_files
    assert vocab_bpe.read_text().startswith("#version: 0.2\nĠ t\nĠ a\nh e\n")  # GPT-2's first merges
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(str(vocab_bpe), str(encoder_json))
    assert ranks == load_pretrained("gpt2").ranks


def test_round_trip_and_hf_reads_them(gpt2_files: tuple[Path, Path]) -> None:
    encoder_json, vocab_bpe = gpt2_files
    ours = load_gpt2_files(encoder_json, vocab_bpe)
    gpt2 = load_pretrained("gpt2")
    assert ours.ranks == gpt2.ranks and ours.special_tokens == {"<|endoftext|>": 50256}
    hf = Tokenizer(models.BPE.from_file(str(encoder_json), str(vocab_bpe)))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    for text in varied_strings(1000, seed=4):
        assert ours.encode(text, disallowed_special=()) == hf.encode(text).ids, repr(text)


def files(tmp_path: Path, encoder: str, merges: str) -> tuple[Path, Path]:
    (tmp_path / "encoder.json").write_text(encoder, encoding="utf-8")
    (tmp_path / "vocab.bpe").write_text(merges, encoding="utf-8")
    return tmp_path / "encoder.json", tmp_path / "vocab.bpe"


BYTES = {chr(c): i for i, c in enumerate(range(ord("a"), ord("e")))}  # a..d -> 0..3: a tiny "byte" vocabulary


@pytest.mark.parametrize(
    ("encoder", "merges", "where", "message"),
    [
        ('{"a": 0,\n "b": }', "", "encoder.json, line 2", "not valid JSON: Expecting value (column 7)"),
        ('["a"]', "", "encoder.json", "expected a JSON object of token -> id, found a list"),
        ('{"a": 0, "b": "1"}', "", "encoder.json, field 'b'", "the id '1' is not a non-negative integer"),
        ('{"a": 0, "b": 0}', "", "encoder.json, field 'b'", "id 0 is also the id of 'a'"),
        (json.dumps({**BYTES, "ab": 4}), "#version: 0.2\na b c\n", "vocab.bpe, line 2", "expected two tokens separated by one space, found 'a b c'"),
        (json.dumps({**BYTES, "ab": 4}), "#version: 0.2\na  b\n", "vocab.bpe, line 2", "expected two tokens separated by one space, found 'a  b'"),
        (json.dumps({**BYTES, "ab": 4}), "a \u4e00\n", "vocab.bpe, line 1", "character '\u4e00' is not in the byte-level alphabet"),
        (json.dumps({**BYTES, "ab": 4}), "#version: 0.2\nc d\n", "vocab.bpe, line 2", "the merge makes 'cd', which is not in encoder.json"),
        (json.dumps({**BYTES, "ab": 4}), "#version: 0.2\nab c\n", "vocab.bpe, line 2", "'ab' is neither a byte nor made by an earlier merge"),
        (json.dumps({**BYTES, "ab": 5, "cd": 4}), "#version: 0.2\nab\na b\nc d\n", "vocab.bpe, line 2", "expected two tokens separated by one space, found 'ab'"),
        (json.dumps({**BYTES, "ab": 5, "cd": 4}), "#version: 0.2\na b\nc d\n", "vocab.bpe, line 3",
         "the merge makes id 4, not above the previous merge's id 5; ids must rise in merge order"),
    ],
)  # fmt: skip
def test_malformed_gpt2_files(tmp_path: Path, encoder: str, merges: str, where: str, message: str) -> None:
    encoder_json, vocab_bpe = files(tmp_path, encoder, merges)
    with pytest.raises(TokenizerFormatError) as e:
        load_gpt2_files(encoder_json, vocab_bpe)
    assert str(e.value) == f"{tmp_path}/{where}: {message}"


def test_non_utf8_files(tmp_path: Path) -> None:
    encoder_json, vocab_bpe = files(tmp_path, json.dumps(BYTES), "")
    vocab_bpe.write_bytes(b"\xff\xfe a b\n")
    with pytest.raises(TokenizerFormatError, match=r"vocab\.bpe: not valid UTF-8$"):
        load_gpt2_files(encoder_json, vocab_bpe)
