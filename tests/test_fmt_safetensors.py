"""Our safetensors reader/writer vs the ``safetensors`` package, both directions, and corrupt files."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
import safetensors.torch as st
import torch
from safetensors import SafetensorError, safe_open

from llmlab.formats.safetensors import (
    DTYPES,
    TensorEntry,
    WeightsFormatError,
    load_file,
    read_header,
    save_file,
)


def every_dtype() -> dict[str, torch.Tensor]:
    """One tensor per dtype (random bits, so every byte matters), plus 0-dim and empty tensors."""
    g = torch.Generator().manual_seed(0)
    tensors = {}
    for i, (name, dtype) in enumerate(DTYPES.items()):
        n = dtype.itemsize * (3 + i) * 2
        raw = torch.randint(0, 256, (n,), dtype=torch.uint8, generator=g)
        tensors[f"w.{name.lower()}"] = (
            raw.view(dtype).reshape(2, -1) if dtype != torch.bool else raw.bool().view(2, -1)
        )
    tensors["scalar"] = torch.tensor(3.5, dtype=torch.float64)
    tensors["scalar.i8"] = torch.tensor(-7, dtype=torch.int8)
    tensors["empty"] = torch.zeros(0, 5)
    tensors["empty.bf16"] = torch.zeros(4, 0, dtype=torch.bfloat16)
    return tensors


def assert_same(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        a, b = ours[name], theirs[name]
        assert (a.dtype, a.shape) == (b.dtype, b.shape), name
        # bitwise: compare the raw bytes (NaN != NaN as floats, and float8/uint64 lack some kernels)
        assert torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8)), name


def test_ours_writes_theirs_reads(tmp_path):
    tensors = every_dtype()
    save_file(tensors, tmp_path / "m.safetensors", metadata={"format": "pt", "note": "ünïcode ok"})
    assert_same(st.load_file(tmp_path / "m.safetensors"), tensors)
    with open(tmp_path / "m.safetensors", "rb") as f:  # their metadata view agrees too
        (n,) = struct.unpack("<Q", f.read(8))
        assert json.loads(f.read(n))["__metadata__"] == {"format": "pt", "note": "ünïcode ok"}
    with safe_open(tmp_path / "m.safetensors", framework="pt") as f:
        assert f.metadata() == {"format": "pt", "note": "ünïcode ok"}


def test_theirs_writes_ours_reads(tmp_path):
    tensors = every_dtype()
    st.save_file(tensors, tmp_path / "m.safetensors", metadata={"format": "pt", "k": "v"})
    assert_same(load_file(tmp_path / "m.safetensors"), tensors)
    entries, metadata = read_header(tmp_path / "m.safetensors")
    assert metadata == {"format": "pt", "k": "v"}
    assert entries["scalar"] == TensorEntry("F64", (), entries["scalar"].offsets)
    assert entries["empty"].shape == (0, 5) and entries["empty"].offsets[0] == entries["empty"].offsets[1]


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}])
def test_file_is_byte_identical_to_the_reference(tmp_path, metadata):
    """Same tensor order, same JSON, same padding. (With 2+ metadata keys the reference's order is
    a hash map's, so only these cases can be compared byte for byte.)"""
    tensors = every_dtype()
    save_file(tensors, tmp_path / "ours.safetensors", metadata=metadata)
    st.save_file(tensors, tmp_path / "theirs.safetensors", metadata=metadata)
    assert (tmp_path / "ours.safetensors").read_bytes() == (tmp_path / "theirs.safetensors").read_bytes()


def test_every_tensor_is_aligned_for_zero_copy_loading(tmp_path):
    save_file(every_dtype(), tmp_path / "m.safetensors")
    entries, _ = read_header(tmp_path / "m.safetensors")
    (n,) = struct.unpack("<Q", (tmp_path / "m.safetensors").read_bytes()[:8])
    for e in entries.values():
        assert (8 + n + e.offsets[0]) % DTYPES[e.dtype].itemsize == 0


def test_views_and_shared_storage_are_written_as_their_own_elements(tmp_path):
    big = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    tensors = {"big": big, "tied": big, "col": big[:, 1], "t": big.t(), "row": big[2]}
    save_file(tensors, tmp_path / "m.safetensors")
    back = load_file(tmp_path / "m.safetensors")
    for name, t in tensors.items():
        assert torch.equal(back[name], t) and back[name].is_contiguous()
    back["tied"][0, 0] = 100.0  # loaded tensors are independent of each other and of the file
    assert back["big"][0, 0] == 0 and load_file(tmp_path / "m.safetensors")["tied"][0, 0] == 0


def test_misaligned_data_from_another_writer_is_copied(tmp_path):
    path = tmp_path / "odd.safetensors"
    header = json.dumps({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                         "b": {"dtype": "F32", "shape": [2], "data_offsets": [1, 9]}}).encode()  # fmt: skip
    path.write_bytes(
        struct.pack("<Q", len(header)) + header + b"\x07" + torch.tensor([1.5, -2.0]).numpy().tobytes()
    )
    back = load_file(path)
    assert back["a"].tolist() == [7] and back["b"].tolist() == [1.5, -2.0]
    assert_same(back, st.load_file(path))


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_file({"a": torch.ones(2)}, path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # fail after the new bytes are written, before the rename
    with pytest.raises(OSError, match="No space left"):
        save_file({"a": torch.zeros(1000)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left behind
    assert load_file(path)["a"].tolist() == [1.0, 1.0]  # and the old file is intact


def test_bad_arguments_to_save(tmp_path):
    with pytest.raises(WeightsFormatError, match=r"__metadata__ must map strings to strings \(got 'n': 3\)"):
        save_file({"a": torch.ones(1)}, tmp_path / "m.safetensors", metadata={"n": 3})  # type: ignore
    with pytest.raises(WeightsFormatError, match="tensor names must be strings other than '__metadata__'"):
        save_file({"__metadata__": torch.ones(1)}, tmp_path / "m.safetensors")
    with pytest.raises(
        WeightsFormatError, match=r"tensor 'z': dtype torch.complex128 has no safetensors name"
    ):
        save_file(
            {"a": torch.ones(1), "z": torch.ones(1, dtype=torch.complex128)}, tmp_path / "m.safetensors"
        )
    with pytest.raises(WeightsFormatError, match=r"tensor 'n': not a dense torch.Tensor \(ndarray\)"):
        save_file({"n": torch.ones(1).numpy()}, tmp_path / "m.safetensors")  # type: ignore[dict-item]
    with pytest.raises(WeightsFormatError, match="no-such-dir.*the folder does not exist"):
        save_file({"a": torch.ones(1)}, tmp_path / "no-such-dir" / "m.safetensors")


# -- corrupt files: each gives its own one-line message, and the reference refuses them too --------


def write_raw(path: Path, header: dict | bytes, data: bytes, length: int | None = None) -> Path:
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob) if length is None else length) + blob + data)
    return path


def f32(name_offsets: dict[str, tuple[list[int], list[int]]]) -> dict:
    return {n: {"dtype": "F32", "shape": s, "data_offsets": o} for n, (s, o) in name_offsets.items()}


CORRUPT = {
    "too short": (lambda p: p.write_bytes(b"\x01\x02"), r"the file is 2 bytes, too short to hold the 8-byte"),
    "bad length": (
        lambda p: write_raw(p, {}, b"", length=1 << 40),
        r"header length 1099511627776 is impossible",
    ),
    "truncated": (
        lambda p: write_raw(p, f32({"w": ([4], [0, 16])}), bytes(10)),
        r"tensor 'w': data_offsets \[0, 16\] fall outside the 10 bytes of data",
    ),
    "not json": (lambda p: write_raw(p, b"{nope", b""), r"header: the header is not valid JSON"),
    "duplicate": (
        lambda p: write_raw(p, b'{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},"a":{}}', b"x"),
        r"header: the header is not valid JSON \(the key 'a' appears twice\)",
    ),
    "overlap": (
        lambda p: write_raw(p, f32({"a": ([2], [0, 8]), "b": ([2], [4, 12])}), bytes(12)),
        r"tensor 'b': data_offsets \[4, 12\] overlap those of tensor 'a'",
    ),
    "gap": (
        lambda p: write_raw(p, f32({"a": ([1], [0, 4]), "b": ([1], [8, 12])}), bytes(12)),
        r"tensor 'b': data_offsets \[8, 12\] leave a gap of 4 bytes",
    ),
    "trailing": (
        lambda p: write_raw(p, f32({"a": ([1], [0, 4])}), bytes(6)),
        r"data: 2 bytes after the last tensor belong to no tensor",
    ),
    "unknown dtype": (
        lambda p: write_raw(p, {"a": {"dtype": "F12", "shape": [1], "data_offsets": [0, 2]}}, bytes(2)),
        r"tensor 'a': unknown dtype 'F12' \(known: BOOL, U8",
    ),
    "shape mismatch": (
        lambda p: write_raw(p, f32({"a": ([2, 3], [0, 20])}), bytes(20)),
        r"tensor 'a': shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] hold 20",
    ),
    "bad shape": (
        lambda p: write_raw(p, f32({"a": ([-1], [0, 4])}), bytes(4)),
        r"tensor 'a': shape \[-1\] is not a list of non-negative integers",
    ),
    "bad metadata": (
        lambda p: write_raw(p, {"__metadata__": {"k": 1}}, b""),
        r"__metadata__ must map strings to strings \(got 'k': 1\)",
    ),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_file_gives_one_clear_line(tmp_path, case):
    make, message = CORRUPT[case]
    path = tmp_path / "bad.safetensors"
    make(path)
    for read in (load_file, read_header):
        with pytest.raises(WeightsFormatError, match=message) as info:
            read(path)
        text = str(info.value)
        assert text.startswith(str(path)) and "\n" not in text
    with pytest.raises((SafetensorError, ValueError, OSError)):  # the reference refuses it as well
        st.load_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsFormatError, match="nothing.safetensors: no such file"):
        load_file(tmp_path / "nothing.safetensors")


def test_real_minilm_file_reads_like_the_reference(real_assets):
    [folder] = real_assets("all-minilm-l6-v2")
    ours = load_file(folder / "model.safetensors")
    assert len(ours) > 100
    assert_same(ours, st.load_file(folder / "model.safetensors"))
    with safe_open(folder / "model.safetensors", framework="pt") as f:
        assert read_header(folder / "model.safetensors")[1] == (f.metadata() or {})
