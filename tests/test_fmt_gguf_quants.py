"""Our numpy dequantisers vs gguf-py's (``gguf.quants.dequantize``), live, bit for bit.

Both compute in float32 with the same operation order as ggml's C code, so the comparison is exact:
``assert_close`` with rtol=0, atol=0, and then the raw float32 bit patterns (which also tells -0.0
from 0.0 and compares NaN payloads).
"""

from __future__ import annotations

import time
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as Q

from llmlab.formats.gguf import GGML_TYPES, GGUFFormatError, read_gguf
from llmlab.formats.gguf_quants import DEQUANTIZERS, dequantize, load_gguf_tensor, load_gguf_tensors

N_BLOCKS = 3000
# byte offsets of the fp16 scale fields inside one block of each quantised type
FP16_FIELDS = {
    Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0],
    Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208],
}  # fmt: skip
QUANTIZABLE = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]  # gguf-py can write these


def assert_bit_equal(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal float32 bit patterns: stricter than assert_close(rtol=0, atol=0), which it falls back to
    only to report where the values differ."""
    assert ours.dtype == np.float32 and theirs.dtype == np.float32
    assert ours.shape == theirs.shape
    if not np.array_equal(ours.view(np.uint32), theirs.view(np.uint32)):
        torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=0, atol=0, equal_nan=True)
        raise AssertionError("equal values, different bits (-0.0 vs 0.0, or NaN payloads)")


def random_blocks(qtype: Q, n_blocks: int, seed: int = 0) -> np.ndarray:
    """Random bytes for every code, with finite fp16 scales of mixed sign and magnitude."""
    rng = np.random.default_rng(seed)
    _, block, size = GGML_TYPES[int(qtype)]
    if block == 1:  # plain floats: finite random values
        values = rng.standard_normal(n_blocks).astype(np.float32) * 100
        return gguf.quants.quantize(values, qtype).view(np.uint8).reshape(n_blocks, size)
    raw = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
    for at in FP16_FIELDS[qtype]:
        scale = (rng.standard_normal(n_blocks) * 10.0 ** rng.integers(-6, 3, n_blocks)).astype(np.float16)
        raw[:, at : at + 2] = scale.view(np.uint8).reshape(n_blocks, 2)
    return raw


def test_every_supported_type_is_tested():
    assert set(DEQUANTIZERS) == {int(t) for t in [*QUANTIZABLE, *FP16_FIELDS]}


@pytest.mark.parametrize("qtype", list(FP16_FIELDS) + [Q.F32, Q.F16, Q.BF16], ids=lambda t: t.name)
def test_random_blocks_match_gguf_py(qtype):
    blocks = random_blocks(qtype, N_BLOCKS)
    theirs = gguf.quants.dequantize(blocks.copy(), qtype).reshape(-1)
    ours = dequantize(blocks, int(qtype), theirs.size)
    assert ours.shape == (N_BLOCKS * GGML_TYPES[int(qtype)][1],)
    assert_bit_equal(ours, theirs)


@pytest.mark.parametrize("qtype", QUANTIZABLE, ids=lambda t: t.name)
def test_blocks_quantised_by_gguf_py_match(qtype):
    weights = torch.Generator().manual_seed(1)
    w = torch.randn(N_BLOCKS // 8, 8 * 32, generator=weights).numpy()  # rows of whole blocks
    data = gguf.quants.quantize(w, qtype)
    theirs = gguf.quants.dequantize(data, qtype).reshape(-1)
    ours = dequantize(data.tobytes(), int(qtype), w.size)  # bytes in, as read from a file
    assert_bit_equal(ours, theirs)
    assert np.abs(ours - w.reshape(-1)).max() < 0.5  # and it is a quantisation of w, not noise


@pytest.mark.parametrize("qtype", [Q.F16, Q.BF16, Q.F32], ids=lambda t: t.name)
def test_float_types_keep_every_bit_pattern(qtype):
    """inf, NaN payloads, subnormals, -0.0: plain float conversion must not touch them."""
    size = GGML_TYPES[int(qtype)][2]
    raw = np.random.default_rng(2).integers(0, 256, (4096, size), dtype=np.uint8)
    assert_bit_equal(dequantize(raw, int(qtype), 4096), gguf.quants.dequantize(raw.copy(), qtype).reshape(-1))


def test_q4_0_by_hand():
    """One block: d = 0.5, byte j = (low 3, high 12) -> weights 0..15 are 0.5 * (3 - 8), 16..31 0.5 * 4."""
    block = np.float16(0.5).tobytes() + bytes([0xC3] * 16)
    w = dequantize(block, int(Q.Q4_0), 32)
    assert w[:16].tolist() == [-2.5] * 16 and w[16:].tolist() == [2.0] * 16


def test_q3_k_inverted_high_bit_by_hand():
    """Q3_K subtracts 4 where the hmask bit is 0: all-zero hmask and codes give -4 * d * (sc - 32)."""
    block = np.zeros(110, np.uint8)
    block[96:104] = 0x11  # low 4 bits of every scale = 1, high bits 0 -> scale 1 - 32 = -31
    block[108:110] = np.frombuffer(np.float16(0.25).tobytes(), np.uint8)
    w = dequantize(block, int(Q.Q3_K), 256)
    assert w.tolist() == [0.25 * -31 * -4] * 256
    block[0:32] = 0xFF  # every hmask bit set: codes 0 stay 0
    assert dequantize(block, int(Q.Q3_K), 256).tolist() == [0.0] * 256


def test_chunking_does_not_change_the_result(monkeypatch):
    import llmlab.formats.gguf_quants as gq

    blocks = random_blocks(Q.Q6_K, 50)
    whole = dequantize(blocks, int(Q.Q6_K), 50 * 256)
    monkeypatch.setattr(gq, "_CHUNK_WEIGHTS", 3 * 256)  # chunks of 3 blocks, the last one short
    assert np.array_equal(dequantize(blocks, int(Q.Q6_K), 50 * 256), whole)


def test_errors_name_the_type_and_the_problem():
    with pytest.raises(
        GGUFFormatError, match=r"^blk.0: ggml type Q8_K cannot be dequantised \(supported: F32"
    ):
        dequantize(b"", 15, 256, name="blk.0")
    with pytest.raises(GGUFFormatError, match="ggml type type 99 cannot be dequantised"):
        dequantize(b"", 99, 1)
    with pytest.raises(GGUFFormatError, match="33 weights are not a whole number of Q4_0 blocks of 32"):
        dequantize(bytes(18), int(Q.Q4_0), 33)
    with pytest.raises(GGUFFormatError, match="17 bytes of Q4_0 data, expected 18"):
        dequantize(bytes(17), int(Q.Q4_0), 32)


def write_gguf(path: Path, tensors: dict[str, tuple[Q, np.ndarray]]) -> None:
    """A GGUF file written by gguf-py; each array is raw block bytes shaped (rows, bytes per row)."""
    writer = gguf.GGUFWriter(path, "llama")
    for name, (qtype, data) in tensors.items():
        writer.add_tensor(name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_gguf_file_loads_like_gguf_py(tmp_path):
    tensors = {}
    for i, qtype in enumerate([Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.Q5_1, Q.BF16, Q.F16]):
        _, block, size = GGML_TYPES[int(qtype)]
        rows, cols = 3 + i, 2 * 256  # torch shape (rows, cols); ggml stores (cols, rows)
        tensors[f"t{i}.{qtype.name}"] = (
            qtype,
            random_blocks(qtype, rows * cols // block, seed=i).reshape(rows, -1),
        )
    tensors["vec"] = (Q.F32, np.arange(7, dtype=np.float32))
    path = tmp_path / "tiny.gguf"
    write_gguf(path, tensors)
    ours = load_gguf_tensors(path)
    reader = gguf.GGUFReader(path)
    assert list(ours) == [t.name for t in reader.tensors]
    for t in reader.tensors:
        theirs = gguf.quants.dequantize(t.data, t.tensor_type)
        assert ours[t.name].shape == theirs.shape == tuple(reversed(t.shape.tolist()))
        assert ours[t.name].dtype == torch.float32
        assert_bit_equal(ours[t.name].numpy(), theirs)
    one = load_gguf_tensor(read_gguf(path), "t4.Q6_K")
    assert torch.equal(one, ours["t4.Q6_K"]) and one.shape == (7, 512)


def test_unsupported_tensor_in_a_file_names_file_tensor_and_type(tmp_path):
    path = tmp_path / "q8k.gguf"
    write_gguf(path, {"blk.3.ffn_up.weight": (Q.Q8_K, np.zeros((1, 292), np.uint8))})
    with pytest.raises(
        GGUFFormatError, match=r"q8k.gguf, tensor 'blk.3.ffn_up.weight': ggml type Q8_K cannot"
    ):
        load_gguf_tensors(path)
    with pytest.raises(GGUFFormatError, match=r"q8k.gguf: no tensor named 'nope' \(the file has 1 tensors\)"):
        load_gguf_tensor(read_gguf(path), "nope")


def test_progress_is_called_per_tensor(tmp_path):
    path = tmp_path / "p.gguf"
    write_gguf(path, {n: (Q.F32, np.ones(4, np.float32)) for n in ["a", "b"]})
    seen = []
    load_gguf_tensors(path, progress=lambda i, n, name: seen.append((i, n, name)))
    assert seen == [(0, 2, "a"), (1, 2, "b")]


def test_smollm2_gguf_dequantises_exactly_like_gguf_py(real_assets):
    [folder] = real_assets("smollm2-135m-instruct")
    path = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
    start = time.perf_counter()
    ours = load_gguf_tensors(read_gguf(path))
    seconds = time.perf_counter() - start
    reader = gguf.GGUFReader(path)
    assert len(ours) == len(reader.tensors) == 272
    assert {t.tensor_type.name for t in reader.tensors} == {"F32", "Q4_1", "Q8_0"}
    for t in reader.tensors:
        theirs = gguf.quants.dequantize(t.data, t.tensor_type)
        assert ours[t.name].shape == theirs.shape, t.name
        assert_bit_equal(ours[t.name].numpy(), theirs)
    n = sum(t.numel() for t in ours.values())
    print(f"dequantised {n / 1e6:.1f}M weights in {seconds:.2f} s")
    assert seconds < 10  # about 1 s on a 2-core machine; a per-block Python loop would take minutes
