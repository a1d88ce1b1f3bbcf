"""Safetensors: a tensor file that is only a JSON table of contents and raw bytes (no code, no pickle).

A ``.safetensors`` file is, in order:

1. ``N``, the length of the header in bytes (uint64, little-endian);
2. the header: ``N`` bytes of UTF-8 JSON (padded with spaces), one entry per tensor,
   ``"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [start, end]}``, and an optional
   ``"__metadata__": {str: str}`` (HF puts ``{"format": "pt"}`` there);
3. the data: each tensor's bytes, row-major and little-endian, at ``[start, end)`` counted from the
   end of the header. The ranges tile the data exactly: no gaps, no overlaps, nothing left over.

So loading is: read ``N``, parse the JSON, check it, and point a tensor at each byte range of a
memory-mapped file (no copy, nothing runs). Unlike ``torch.save`` (a pickle, which can execute code
when loaded; see :mod:`llmlab.formats.checkpoints`), nothing in the file can do anything but be data.
The writer orders tensors by dtype, widest first, then by name, as the reference does: with the
header padded to 8 bytes, every tensor then starts at a multiple of its element size.

Spec and reference implementation: https://github.com/huggingface/safetensors
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import torch

from llmlab.errors import LLMLabError

# format name -> torch dtype, in the order of the reference's Dtype enum (narrowest first)
DTYPES: dict[str, torch.dtype] = {
    "BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "F8_E5M2": torch.float8_e5m2,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E4M3FNUZ": torch.float8_e4m3fnuz,
    "F8_E5M2FNUZ": torch.float8_e5m2fnuz,
    "I16": torch.int16, "U16": torch.uint16, "F16": torch.float16, "BF16": torch.bfloat16,
    "I32": torch.int32, "U32": torch.uint32, "F32": torch.float32, "C64": torch.complex64,
    "F64": torch.float64, "I64": torch.int64, "U64": torch.uint64,
}  # fmt: skip
_NAMES = {dtype: name for name, dtype in DTYPES.items()}
_RANK = {name: i for i, name in enumerate(DTYPES)}
MAX_HEADER_BYTES = 100_000_000  # the reference refuses larger headers too


class WeightsFormatError(LLMLabError):
    """A weights file is malformed or cannot be read safely (message: file, tensor or field, problem)."""

    def __init__(self, path: str | Path, problem: str, field: str | None = None):
        where = str(path) if field is None else f"{path}, {field}"
        super().__init__(f"{where}: {problem}")


class TensorEntry(NamedTuple):
    """One header entry: element type, torch shape, and byte range in the data section."""

    dtype: str  # a key of DTYPES
    shape: tuple[int, ...]
    offsets: tuple[int, int]  # [start, end) from the end of the header


def read_header(path: str | Path) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """The checked tensor table (in data order) and the ``__metadata__`` of a safetensors file."""
    entries, metadata, _ = _read_header(Path(path))
    return entries, metadata


def load_file(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, viewing a private memory map of it (no copy on CPU)."""
    path = Path(path)
    entries, _, data_start = _read_header(path)
    with path.open("rb") as f:
        # subtle: ACCESS_COPY makes the pages private and writable, so the tensors may be modified
        # in place without touching the file (and torch gets the writable buffer it expects)
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    tensors = {}
    for name, (dtype_name, shape, (start, end)) in entries.items():
        dtype = DTYPES[dtype_name]
        itemsize = dtype.itemsize
        at = data_start + start
        if end == start:  # torch.frombuffer refuses a zero count
            t = torch.empty(shape, dtype=dtype)
        elif at % itemsize:  # subtle: misaligned data (another writer's order): copy the bytes first
            t = torch.frombuffer(mm, dtype=torch.uint8, count=end - start, offset=at).clone().view(dtype)
        else:
            t = torch.frombuffer(mm, dtype=dtype, count=(end - start) // itemsize, offset=at)
        tensors[name] = t.reshape(shape).to(device)  # each tensor keeps the map alive while it lives
    return tensors


def save_file(
    tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None
) -> None:
    """Write ``tensors`` to ``path`` atomically (a temp file in the same folder, then ``os.replace``).

    Views and tensors sharing storage are each written as their own contiguous copy of their elements.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise WeightsFormatError(path, "the folder does not exist")
    _check_metadata(path, metadata)
    order = []
    for name, t in tensors.items():
        field = f"tensor {name!r}"
        if not isinstance(name, str) or name == "__metadata__":
            raise WeightsFormatError(path, "tensor names must be strings other than '__metadata__'", field)
        if not isinstance(t, torch.Tensor) or t.layout != torch.strided:
            raise WeightsFormatError(path, f"not a dense torch.Tensor ({type(t).__name__})", field)
        if t.dtype not in _NAMES:
            raise WeightsFormatError(path, f"dtype {t.dtype} has no safetensors name", field)
        order.append((-_RANK[_NAMES[t.dtype]], name))
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata is not None else {}
    position = 0
    for _, name in sorted(order):  # widest dtype first, then by name: every tensor stays aligned
        t = tensors[name]
        nbytes = t.numel() * t.dtype.itemsize
        header[name] = {
            "dtype": _NAMES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [position, position + nbytes],
        }
        position += nbytes
    blob = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # pad so the data starts 8-byte aligned
    # subtle: a fresh name opened with "x" (not mkstemp) so the file gets the usual permissions
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with tmp.open("xb") as f:
            f.write(struct.pack("<Q", len(blob)))
            f.write(blob)
            for name in header:
                if name != "__metadata__":
                    # (numel,) bytes of a contiguous CPU copy; 0-dim tensors become one element
                    data = tensors[name].detach().cpu().contiguous().reshape(-1).view(torch.uint8)
                    f.write(data.numpy())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_metadata(path: Path, metadata: Any) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise WeightsFormatError(
            path, f"__metadata__ must be an object of strings, not {type(metadata).__name__}"
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise WeightsFormatError(
                path, f"__metadata__ must map strings to strings (got {key!r}: {value!r})"
            )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice")
        seen[key] = value
    return seen


def _read_header(path: Path) -> tuple[dict[str, TensorEntry], dict[str, str], int]:
    """Parse and check the header; returns the entries in data order, the metadata, the data start."""
    if not path.is_file():
        raise WeightsFormatError(path, "no such file")
    size = path.stat().st_size
    with path.open("rb") as f:
        if size < 8:
            raise WeightsFormatError(
                path, f"the file is {size} bytes, too short to hold the 8-byte header length"
            )
        (n,) = struct.unpack("<Q", f.read(8))
        if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
            raise WeightsFormatError(
                path, f"header length {n} is impossible for a file of {size} bytes (not a safetensors file?)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise WeightsFormatError(path, f"the header is not valid JSON ({e})", "header") from None
    if not isinstance(header, dict):
        raise WeightsFormatError(path, "the header is not a JSON object", "header")
    metadata = header.pop("__metadata__", None) or {}
    _check_metadata(path, metadata)
    data_size = size - 8 - n
    entries = {name: _entry(path, name, info, data_size) for name, info in header.items()}
    entries = dict(sorted(entries.items(), key=lambda kv: kv[1].offsets))
    position, previous = 0, None
    for name, entry in entries.items():
        start, end = entry.offsets
        if start < position:
            problem = f"data_offsets [{start}, {end}] overlap those of tensor {previous!r}"
            raise WeightsFormatError(path, problem, f"tensor {name!r}")
        if start > position:
            problem = f"data_offsets [{start}, {end}] leave a gap of {start - position} bytes before them"
            raise WeightsFormatError(path, problem, f"tensor {name!r}")
        position, previous = end, name
    if position != data_size:
        problem = f"{data_size - position} bytes after the last tensor belong to no tensor"
        raise WeightsFormatError(path, problem, "data")
    return entries, metadata, 8 + n


def _entry(path: Path, name: str, info: Any, data_size: int) -> TensorEntry:
    """Check one header entry on its own: dtype known, shape valid, byte range the right size."""
    field = f"tensor {name!r}"
    if not isinstance(info, dict):
        raise WeightsFormatError(path, "the entry is not a JSON object", field)
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")

    def is_int(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x >= 0

    if dtype not in DTYPES:
        raise WeightsFormatError(path, f"unknown dtype {dtype!r} (known: {', '.join(DTYPES)})", field)
    if not isinstance(shape, list) or not all(is_int(d) for d in shape):
        raise WeightsFormatError(path, f"shape {shape!r} is not a list of non-negative integers", field)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_int(o) for o in offsets)):
        raise WeightsFormatError(path, f"data_offsets {offsets!r} is not [start, end]", field)
    start, end = offsets
    if start > end or end > data_size:
        problem = f"data_offsets [{start}, {end}] fall outside the {data_size} bytes of data"
        raise WeightsFormatError(path, problem, field)
    expected = math.prod(shape) * DTYPES[dtype].itemsize
    if end - start != expected:
        held = f"data_offsets [{start}, {end}] hold {end - start}"
        problem = f"shape {shape} of {dtype} needs {expected} bytes but {held}"
        raise WeightsFormatError(path, problem, field)
    return TensorEntry(dtype, tuple(shape), (start, end))
