"""Our GGUF reader against the ``gguf`` package (llama.cpp's own Python reader and writer), live.

The SmolLM2 file must give the same keys, value types, values and tensor infos; files written
by ``gguf.GGUFWriter`` with every value type, in both byte orders, too. Every truncation of
a file, and garbage, must give a one-line :class:`TokenizerFormatError` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFEndian, GGUFReader, GGUFWriter

from llmlab.formats.gguf import GGUFFormatError, read_gguf
from llmlab.tokenizers import TokenizerFormatError
from llmlab.tokenizers.pretrained import PRETRAINED, bpe_from_gguf

Need = Callable[..., list[Path]]


def flat(value: Any) -> Any:
    """gguf's ``contents()`` flattens nested arrays; so do we, to compare."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [x for v in value for x in flat(v)]
    return value


def assert_same_as_gguf(path: Path) -> None:
    ours, theirs = read_gguf(path), GGUFReader(path)
    fields = {k: f for k, f in theirs.fields.items() if not k.startswith("GGUF.")}
    assert list(ours.metadata) == list(fields)
    for key, field in fields.items():
        assert flat(ours.metadata[key]) == field.contents(), key
        assert list(ours.types[key]) == field.types[: len(ours.types[key])], key
    assert ours.version == theirs.fields["GGUF.version"].contents()
    assert len(ours.tensors) == len(theirs.tensors)
    for mine, t in zip(ours.tensors, theirs.tensors, strict=True):
        assert (mine.name, list(mine.shape), mine.ggml_type) == (t.name, t.shape.tolist(), int(t.tensor_type))
        assert ours.tensor_range(mine) == (t.data_offset, t.data_offset + t.n_bytes)


@cache
def smollm2(folder: Path) -> Path:
    return folder / PRETRAINED["smollm2"].file


def test_smollm2_reads_like_gguf(real_assets: Need) -> None:
    [folder] = real_assets("smollm2-135m-instruct")
    assert_same_as_gguf(smollm2(folder))
    meta = read_gguf(smollm2(folder)).metadata
    assert meta["tokenizer.ggml.pre"] == "smollm" and len(meta["tokenizer.ggml.merges"]) == 48900


def write_gguf(path: Path, endian: GGUFEndian = GGUFEndian.LITTLE, **extra: Any) -> Path:
    w = GGUFWriter(path, arch="llama", endianess=endian)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -5)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_float32("t.f32", 1.5)
    w.add_uint64("t.u64", 2**63)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 3.25)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo")
    w.add_array("t.ints", [1, 2, 3])
    w.add_array("t.strs", ["a", "bc", ""])
    w.add_array("t.floats", [0.5, 1.5])
    w.add_array("t.nested", [[1, 2], [3]])
    for key, value in extra.items():
        w.add_string(key.replace("_", "."), value)
    w.add_tensor("w1", np.arange(6, dtype=np.float32).reshape(2, 3))
    w.add_tensor("w2", np.ones((4,), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.mark.parametrize("endian", [GGUFEndian.LITTLE, GGUFEndian.BIG])
def test_every_value_type_in_both_byte_orders(tmp_path: Path, endian: GGUFEndian) -> None:
    path = write_gguf(tmp_path / "all.gguf", endian)
    assert_same_as_gguf(path)
    gguf = read_gguf(path)
    assert gguf.byte_order == ("<" if endian == GGUFEndian.LITTLE else ">")
    assert gguf.metadata["t.nested"] == [[1, 2], [3]] and gguf.tensors[0].type_name == "F32"


def test_every_truncation_is_a_one_line_error(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "full.gguf")
    last = GGUFReader(path).tensors[-1]
    full = path.read_bytes()[: last.data_offset + last.n_bytes]  # (the file pads on past the last tensor)
    cut_path = tmp_path / "cut.gguf"
    messages = {}
    for cut in range(len(full)):
        cut_path.write_bytes(full[:cut])
        with pytest.raises(GGUFFormatError) as e:
            read_gguf(cut_path)
        assert isinstance(e.value, TokenizerFormatError)
        assert str(e.value).startswith(f"{cut_path}, field ") and "\n" not in str(e.value)
        messages[cut] = str(e.value).removeprefix(f"{cut_path}, field ")
    assert messages[0] == "header.magic: the file is empty"
    assert messages[3] == "header.magic: not a GGUF file (starts with b'GGU', expected b'GGUF')"
    assert messages[6] == "header.version: the file ends inside this field (needs 4 bytes at offset 4, has 2)"
    at = full.index(b"bc") + 1  # inside the second string of t.strs
    assert (
        messages[at]
        == f"t.strs[1]: the file ends inside this field (needs 2 bytes at offset {at - 1}, has 1)"
    )
    assert (
        messages[len(full) - 1]
        == f"tensor_infos[1] (w2).data: the data ends at byte {len(full)}, past the end of the file ({len(full) - 1} bytes)"
    )


def test_garbage_and_unsupported_files(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"PK\x03\x04 this is a zip file")
    with pytest.raises(
        GGUFFormatError,
        match=r"x\.gguf, field header\.magic: not a GGUF file \(starts with b'PK\\x03\\x04', expected b'GGUF'\)$",
    ):
        read_gguf(path)
    good = write_gguf(tmp_path / "good.gguf").read_bytes()
    path.write_bytes(good[:4] + (1).to_bytes(4, "little") + good[8:])
    with pytest.raises(
        GGUFFormatError, match=r"field header\.version: version 1 is not supported \(2 and 3 are\)$"
    ):
        read_gguf(path)
    at = good.index(b"t.u8") + 4  # the value type after the first key
    path.write_bytes(good[:at] + (99).to_bytes(4, "little") + good[at + 4 :])
    with pytest.raises(GGUFFormatError, match=r"field t\.u8: unknown value type 99$"):
        read_gguf(path)
    at = good.index(b"t.strs") + 6 + 4  # the item type, then the count of t.strs
    path.write_bytes(good[: at + 4] + (2**60).to_bytes(8, "little") + good[at + 12 :])
    with pytest.raises(
        GGUFFormatError,
        match=r"field t\.strs: an array of 1152921504606846976 items cannot fit in the rest of the file$",
    ):
        read_gguf(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"tokenizer_ggml_model": "llama"},
            "field tokenizer.ggml.model: tokenizer model 'llama' is not byte-level BPE ('gpt2')",
        ),
        ({}, "field tokenizer.ggml.model: the key is missing"),
        (
            {"tokenizer_ggml_model": "gpt2", "tokenizer_ggml_pre": "qwen2"},
            "field tokenizer.ggml.pre: pre-tokenizer 'qwen2' is not supported (known: gpt2, smollm)",
        ),
        ({"tokenizer_ggml_model": "gpt2"}, "field tokenizer.ggml.tokens: the key is missing"),
    ],
)
def test_gguf_tokenizer_errors(tmp_path: Path, extra: dict, message: str) -> None:
    path = write_gguf(tmp_path / "tok.gguf", **extra)
    with pytest.raises(TokenizerFormatError) as e:
        bpe_from_gguf(path)
    assert str(e.value) == f"{path}, {message}"
