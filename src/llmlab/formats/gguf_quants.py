"""Dequantisation of GGUF tensor data: the block formats of ggml (llama.cpp), written out in numpy.

Unlike :mod:`llmlab.formats.gguf`, which only finds each tensor's bytes, this file turns those bytes
back into float32 weights. A quantised tensor is cut into *blocks* of 32 weights (the ``Qn_0`` and
``Qn_1`` types) or 256 weights (the ``K`` types, a "super-block" of 8 or 16 sub-blocks). Each block
stores small integer codes ``q`` plus one or two fp16 numbers, and a weight is rebuilt as

    w = d * q            (symmetric types: Q4_0, Q5_0, Q8_0, Q3_K, Q6_K; q is centred on 0)
    w = d * q + m        (types with a minimum: Q4_1, Q5_1; Q2_K, Q4_K, Q5_K store -m as dmin * mn)

The K types also quantise the per-sub-block scales themselves (4 or 6 bits each) against one fp16
super-scale ``d``, which is where they save their bits. Each function below handles one type for
``N`` blocks at once: it takes the blocks as an ``(N, bytes_per_block)`` uint8 array and returns
``(N, weights_per_block)`` float32, with the layout and the formula in its docstring. All the
arithmetic is float32 in the same order as ggml's reference C code (``dequantize_row_*`` in
``ggml-quants.c``) and gguf-py, so the results are bit-identical to both.

Reference: https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-quants.c
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from llmlab.formats.gguf import GGML_TYPES, GGUFFile, GGUFFormatError, GGUFTensorInfo, read_gguf


def _f16(b: np.ndarray) -> np.ndarray:
    """``(N, 2)`` bytes -> ``(N, 1)`` float32: the little-endian fp16 number of every block."""
    return b.view("<f2").astype(np.float32)


def _split_bits(x: np.ndarray, width: int) -> np.ndarray:
    """``(..., k)`` uint8 -> ``(..., 8 // width, k)``: field ``i`` holds bits ``[i*width, (i+1)*width)``.

    ``width=4`` gives the low nibbles then the high nibbles; ``width=1`` gives bit 0 of every byte,
    then bit 1, and so on.
    """
    shifts = np.arange(0, 8, width, dtype=np.uint8)[:, None]  # (8 // width, 1)
    return (x[..., None, :] >> shifts) & np.uint8((1 << width) - 1)


# -- plain floats: one weight per "block" ---------------------------------------------------------


def dequant_f32(blocks: np.ndarray) -> np.ndarray:
    """F32: 4 bytes, an IEEE float32 (little-endian). ``w = x``."""
    return blocks.view("<f4")


def dequant_f16(blocks: np.ndarray) -> np.ndarray:
    """F16: 2 bytes, an IEEE half float. ``w = float32(x)`` (exact: every fp16 is a float32)."""
    return _f16(blocks)


def dequant_bf16(blocks: np.ndarray) -> np.ndarray:
    """BF16: 2 bytes, the top half of a float32. ``w = bits << 16`` read as a float32 (exact)."""
    return (blocks.view("<u2").astype(np.uint32) << 16).view(np.float32)


# -- 32-weight blocks -----------------------------------------------------------------------------


def dequant_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0, 18 bytes: ``d`` (fp16), 16 bytes of 4-bit codes. ``w = d * (q - 8)``.

    Byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble.
    """
    d = _f16(blocks[:, 0:2])  # (N, 1)
    q = _split_bits(blocks[:, 2:18], 4).reshape(-1, 32)  # (N, 32): low nibbles, then high
    return d * (q.astype(np.float32) - 8)


def dequant_q4_1(blocks: np.ndarray) -> np.ndarray:
    """Q4_1, 20 bytes: ``d``, ``m`` (fp16), 16 bytes of 4-bit codes as in Q4_0. ``w = d * q + m``."""
    d, m = _f16(blocks[:, 0:2]), _f16(blocks[:, 2:4])  # (N, 1) each
    q = _split_bits(blocks[:, 4:20], 4).reshape(-1, 32)  # (N, 32)
    return d * q.astype(np.float32) + m


def _five_bit_codes(qh: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """``qh`` (N, 4): bit ``j`` of the little-endian uint32 is bit 4 of weight ``j``; ``qs`` as in Q4_0."""
    high = np.unpackbits(qh, axis=1, bitorder="little")  # (N, 32): byte k bit i -> weight 8k + i
    low = _split_bits(qs, 4).reshape(-1, 32)  # (N, 32)
    return (low | (high << 4)).astype(np.float32)  # (N, 32) in 0..31


def dequant_q5_0(blocks: np.ndarray) -> np.ndarray:
    """Q5_0, 22 bytes: ``d`` (fp16), ``qh`` (4 bytes: the 5th bits), 16 bytes of low nibbles.

    ``w = d * (q - 16)`` with ``q = low | (high << 4)`` in 0..31.
    """
    d = _f16(blocks[:, 0:2])  # (N, 1)
    return d * (_five_bit_codes(blocks[:, 2:6], blocks[:, 6:22]) - 16)


def dequant_q5_1(blocks: np.ndarray) -> np.ndarray:
    """Q5_1, 24 bytes: ``d``, ``m`` (fp16), ``qh`` (4 bytes), 16 bytes of low nibbles. ``w = d * q + m``."""
    d, m = _f16(blocks[:, 0:2]), _f16(blocks[:, 2:4])  # (N, 1) each
    return d * _five_bit_codes(blocks[:, 4:8], blocks[:, 8:24]) + m


def dequant_q8_0(blocks: np.ndarray) -> np.ndarray:
    """Q8_0, 34 bytes: ``d`` (fp16), then 32 signed bytes ``q``. ``w = q * d``."""
    d = _f16(blocks[:, 0:2])  # (N, 1)
    return blocks[:, 2:34].view(np.int8).astype(np.float32) * d


# -- 256-weight super-blocks (K-quants) -------------------------------------------------------------


def dequant_q2_k(blocks: np.ndarray) -> np.ndarray:
    """Q2_K, 84 bytes: ``scales`` (16 bytes), ``qs`` (64 bytes of 2-bit codes), ``d``, ``dmin`` (fp16).

    16 sub-blocks of 16 weights; byte ``s`` of ``scales`` holds sub-block ``s``'s scale (low nibble)
    and min (high nibble). The codes come in two halves of 128 weights: weight ``32*i + l`` of a half
    is bits ``2i..2i+1`` of byte ``l`` of that half's 32 bytes.
    ``w = (d * sc) * q - (dmin * mn)``.
    """
    n = blocks.shape[0]
    scales, qs = blocks[:, 0:16], blocks[:, 16:80]
    d, dmin = _f16(blocks[:, 80:82]), _f16(blocks[:, 82:84])  # (N, 1) each
    dl = (d * (scales & 0x0F).astype(np.float32))[:, :, None]  # (N, 16, 1)
    ml = (dmin * (scales >> 4).astype(np.float32))[:, :, None]  # (N, 16, 1)
    q = _split_bits(qs.reshape(n, 2, 32), 2).reshape(n, 16, 16)  # (N, half * 4 + shift ..., 16)
    return (dl * q.astype(np.float32) - ml).reshape(n, 256)


def dequant_q3_k(blocks: np.ndarray) -> np.ndarray:
    """Q3_K, 110 bytes: ``hmask`` (32), ``qs`` (64 bytes of 2-bit codes), ``scales`` (12), ``d`` (fp16).

    16 sub-blocks of 16 weights with 6-bit signed scales: the low 4 bits of scale ``j`` are nibble
    ``j // 8`` of byte ``j % 8``, the high 2 bits are bits ``2*(j // 4)..`` of byte ``8 + j % 4``; the
    scale is that 6-bit number minus 32. Low code bits are laid out as in Q2_K; the third bit of
    weight ``e`` is bit ``e // 32`` of ``hmask[e % 32]``. ``w = (d * (sc - 32)) * (q2 - (4 if the hmask
    bit is 0 else 0))``, so a code is in -4..3.
    """
    n = blocks.shape[0]
    hmask, qs, scales = blocks[:, 0:32], blocks[:, 32:96], blocks[:, 96:108]
    d = _f16(blocks[:, 108:110])  # (N, 1)
    low = _split_bits(scales[:, 0:8], 4).reshape(n, 16)  # (N, 16)
    high = _split_bits(scales[:, 8:12], 2).reshape(n, 16)  # (N, 16)
    sc = (low | (high << 4)).astype(np.float32) - 32  # (N, 16) in -32..31
    dl = (d * sc)[:, :, None]  # (N, 16, 1)
    q2 = _split_bits(qs.reshape(n, 2, 32), 2).reshape(n, 256)  # (N, 256) in 0..3
    hbit = _split_bits(hmask, 1).reshape(n, 256)  # (N, 256): bit i of byte l -> weight 32 i + l
    # subtle: the stored bit is 1 when the code is *not* shifted down; 0 means subtract 4
    q = q2.astype(np.float32) - 4 * (1 - hbit.astype(np.float32))  # (N, 256) in -4..3
    return (dl * q.reshape(n, 16, 16)).reshape(n, 256)


def _k_scales(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8 six-bit scales and 8 six-bit mins of Q4_K / Q5_K, packed in 12 bytes ``(N, 12)``.

    Bytes 0-3 hold scales 0-3 in their low 6 bits, bytes 4-7 mins 0-3; scales and mins 4-7 take their
    low 4 bits from the nibbles of bytes 8-11 and their top 2 bits from the spare top bits of bytes
    0-3 (scales) and 4-7 (mins). (``get_scale_min_k4`` in ggml.)
    """
    a, b, c = scales[:, 0:4], scales[:, 4:8], scales[:, 8:12]  # (N, 4) each
    sc = np.concatenate([a & 63, (c & 0x0F) | ((a >> 6) << 4)], axis=1)  # (N, 8)
    mn = np.concatenate([b & 63, (c >> 4) | ((b >> 6) << 4)], axis=1)  # (N, 8)
    return sc.astype(np.float32), mn.astype(np.float32)


def dequant_q4_k(blocks: np.ndarray) -> np.ndarray:
    """Q4_K, 144 bytes: ``d``, ``dmin`` (fp16), ``scales`` (12), ``qs`` (128 bytes of 4-bit codes).

    8 sub-blocks of 32 weights with 6-bit scales ``sc`` and mins ``mn`` (see :func:`_k_scales`).
    The codes come in 4 chunks of 32 bytes: chunk ``c`` holds sub-block ``2c`` in its low nibbles and
    sub-block ``2c + 1`` in its high nibbles. ``w = (d * sc) * q - (dmin * mn)``.
    """
    n = blocks.shape[0]
    d, dmin = _f16(blocks[:, 0:2]), _f16(blocks[:, 2:4])  # (N, 1) each
    sc, mn = _k_scales(blocks[:, 4:16])  # (N, 8) each
    q = _split_bits(blocks[:, 16:144].reshape(n, 4, 32), 4).reshape(n, 8, 32)  # (N, 8, 32)
    return ((d * sc)[:, :, None] * q.astype(np.float32) - (dmin * mn)[:, :, None]).reshape(n, 256)


def dequant_q5_k(blocks: np.ndarray) -> np.ndarray:
    """Q5_K, 176 bytes: ``d``, ``dmin`` (fp16), ``scales`` (12), ``qh`` (32), ``qs`` (128).

    As Q4_K, plus a fifth bit: bit ``s`` of ``qh[l]`` is bit 4 of weight ``l`` of sub-block ``s``.
    ``w = (d * sc) * q - (dmin * mn)`` with ``q`` in 0..31.
    """
    n = blocks.shape[0]
    d, dmin = _f16(blocks[:, 0:2]), _f16(blocks[:, 2:4])  # (N, 1) each
    sc, mn = _k_scales(blocks[:, 4:16])  # (N, 8) each
    high = _split_bits(blocks[:, 16:48], 1)  # (N, 8, 32): sub-block s = bit s
    low = _split_bits(blocks[:, 48:176].reshape(n, 4, 32), 4).reshape(n, 8, 32)  # (N, 8, 32)
    q = (low | (high << 4)).astype(np.float32)  # (N, 8, 32)
    return ((d * sc)[:, :, None] * q - (dmin * mn)[:, :, None]).reshape(n, 256)


def dequant_q6_k(blocks: np.ndarray) -> np.ndarray:
    """Q6_K, 210 bytes: ``ql`` (128, low 4 bits), ``qh`` (64, high 2 bits), ``scales`` (16 int8), ``d``.

    Two halves of 128 weights, each from 64 bytes of ``ql`` and 32 of ``qh``. In a half, weight
    ``32*k + l`` (k = 0..3) takes nibble ``k // 2`` of ``ql[l + 32 * (k % 2)]`` and bits ``2k..2k+1``
    of ``qh[l]``. 16 sub-blocks of 16 weights, each with a signed 8-bit scale.
    ``w = (d * sc) * (q - 32)`` with ``q`` in 0..63.
    """
    n = blocks.shape[0]
    ql, qh = blocks[:, 0:128], blocks[:, 128:192]
    sc = blocks[:, 192:208].view(np.int8).astype(np.float32)  # (N, 16)
    d = _f16(blocks[:, 208:210])  # (N, 1)
    low = _split_bits(ql.reshape(n, 2, 64), 4).reshape(n, 2, 4, 32)  # (N, half, k = 2*nibble + l//32, l)
    high = _split_bits(qh.reshape(n, 2, 32), 2)  # (N, half, k, l)
    q = (low | (high << 4)).astype(np.float32) - 32  # (N, 2, 4, 32) in -32..31
    return ((d * sc)[:, :, None] * q.reshape(n, 16, 16)).reshape(n, 256)


# ggml type id -> the function for its blocks (the ids and sizes are in gguf.GGML_TYPES)
DEQUANTIZERS: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    0: dequant_f32, 1: dequant_f16, 30: dequant_bf16,
    2: dequant_q4_0, 3: dequant_q4_1, 6: dequant_q5_0, 7: dequant_q5_1, 8: dequant_q8_0,
    10: dequant_q2_k, 11: dequant_q3_k, 12: dequant_q4_k, 13: dequant_q5_k, 14: dequant_q6_k,
}  # fmt: skip

_CHUNK_WEIGHTS = 1 << 18  # work on ~256K weights at a time: the temporaries stay a few MB


def dequantize(
    data: np.ndarray | bytes, ggml_type: int, n_elements: int, *, name: str = "tensor data"
) -> np.ndarray:
    """The ``n_elements`` float32 weights (flat, in storage order) encoded in ``data``.

    ``name`` only labels error messages (the loaders pass the file and tensor name).
    """
    type_name, block, size = GGML_TYPES.get(ggml_type, (f"type {ggml_type}", 1, 1))
    if ggml_type not in DEQUANTIZERS:
        supported = ", ".join(GGML_TYPES[t][0] for t in DEQUANTIZERS)
        raise GGUFFormatError(name, f"ggml type {type_name} cannot be dequantised (supported: {supported})")
    if n_elements % block:
        raise GGUFFormatError(
            name, f"{n_elements} weights are not a whole number of {type_name} blocks of {block}"
        )
    if isinstance(data, np.ndarray):
        raw = data.view(np.uint8).reshape(-1)
    else:
        raw = np.frombuffer(data, np.uint8)
    n_blocks = n_elements // block
    if raw.size != n_blocks * size:
        raise GGUFFormatError(name, f"{raw.size} bytes of {type_name} data, expected {n_blocks * size}")
    blocks = raw.reshape(n_blocks, size)  # (n_blocks, bytes per block)
    out = np.empty((n_blocks, block), np.float32)  # (n_blocks, weights per block)
    step = max(1, _CHUNK_WEIGHTS // block)
    fn = DEQUANTIZERS[ggml_type]
    for i in range(0, n_blocks, step):  # a loop over chunks; each chunk is one vectorised call
        out[i : i + step] = fn(blocks[i : i + step])
    return out.reshape(-1)


def _load(gguf: GGUFFile, info: GGUFTensorInfo, mm: np.ndarray) -> torch.Tensor:
    label = f"{gguf.path}, tensor {info.name!r}"
    if gguf.byte_order != "<":
        raise GGUFFormatError(label, "big-endian GGUF tensor data is not supported")
    start, end = gguf.tensor_range(info)
    flat = dequantize(mm[start:end], info.ggml_type, info.n_elements, name=label)
    # subtle: ggml lists dimensions fastest-varying first; torch lists them slowest first
    return torch.from_numpy(flat).reshape(tuple(reversed(info.shape)))


def load_gguf_tensor(gguf: GGUFFile, name: str) -> torch.Tensor:
    """One tensor of a GGUF file as float32, in torch shape order (the ggml shape reversed)."""
    by_name = {t.name: t for t in gguf.tensors}
    if name not in by_name:
        raise GGUFFormatError(gguf.path, f"no tensor named {name!r} (the file has {len(by_name)} tensors)")
    mm = np.memmap(gguf.path, dtype=np.uint8, mode="r")
    return _load(gguf, by_name[name], mm)


def load_gguf_tensors(
    gguf: GGUFFile | str | Path, progress: Callable[[int, int, str], None] | None = None
) -> dict[str, torch.Tensor]:
    """Every tensor of a GGUF file, dequantised to float32, keyed by its GGUF name.

    ``progress(i, n, name)`` is called before each tensor, if given.
    """
    if not isinstance(gguf, GGUFFile):
        gguf = read_gguf(gguf)
    mm = np.memmap(gguf.path, dtype=np.uint8, mode="r")  # the file is mapped once, not read
    tensors = {}
    for i, info in enumerate(gguf.tensors):
        if progress is not None:
            progress(i, len(gguf.tensors), info.name)
        tensors[info.name] = _load(gguf, info, mm)
    return tensors
