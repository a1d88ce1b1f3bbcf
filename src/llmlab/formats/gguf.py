"""A small reader for GGUF, the single-file model format of llama.cpp (header, metadata, tensor list).

A GGUF file is, in order (little-endian unless the version field says otherwise):

1. a header: the magic ``b"GGUF"``, ``version`` (uint32, 2 or 3), the number of tensors and of
   metadata entries (uint64 each);
2. the metadata: ``key`` (a string: uint64 length + UTF-8 bytes), a value type (uint32) and
   the value; an array value is its item type (uint32), its length (uint64), then the items;
3. one *tensor info* per tensor: name, number of dimensions (uint32), the dimensions (uint64
   each, fastest-varying first), the ggml data type (uint32) and the data's offset (uint64)
   from the start of the data section;
4. padding up to ``general.alignment`` (default 32), then the tensor data.

The metadata carries the architecture (``llama.block_count``...) and the whole tokenizer
(``tokenizer.ggml.tokens``, ``.merges``, ``.token_type``, ``tokenizer.chat_template``).
This reader decodes 1-3 and locates each tensor's bytes (:meth:`GGUFFile.tensor_range`);
turning those bytes into numbers (dequantisation) belongs to the model loaders.
Every problem raises :class:`GGUFFormatError` naming the file and the field.

Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from llmlab.tokenizers.base import TokenizerFormatError


class GGUFFormatError(TokenizerFormatError):
    """The GGUF file is truncated or malformed (message: file, field, problem)."""


class GGUFValueType(IntEnum):
    """The type tag in front of each metadata value."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# struct codes of the fixed-size value types
_SCALAR = {
    GGUFValueType.UINT8: "B", GGUFValueType.INT8: "b", GGUFValueType.UINT16: "H", GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I", GGUFValueType.INT32: "i", GGUFValueType.FLOAT32: "f", GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q", GGUFValueType.INT64: "q", GGUFValueType.FLOAT64: "d",
}  # fmt: skip

# ggml data type -> (name, elements per block, bytes per block), from ggml's type traits
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 30: ("BF16", 1, 2),
}  # fmt: skip

_DEFAULT_ALIGNMENT = 32


@dataclass(frozen=True)
class GGUFTensorInfo:
    """Where one tensor's bytes are and how to read them."""

    name: str
    shape: tuple[int, ...]  # ggml order: shape[0] varies fastest (a torch shape is this reversed)
    ggml_type: int  # key of GGML_TYPES
    offset: int  # from the start of the data section

    @property
    def type_name(self) -> str:
        return GGML_TYPES.get(self.ggml_type, (f"type {self.ggml_type}",))[0]

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def n_bytes(self) -> int | None:
        """Size of the data, or None for a ggml type this reader does not know."""
        if self.ggml_type not in GGML_TYPES:
            return None
        _, block, size = GGML_TYPES[self.ggml_type]
        return self.n_elements // block * size


@dataclass(frozen=True)
class GGUFFile:
    """The decoded header, metadata and tensor list of one GGUF file."""

    path: Path
    version: int
    byte_order: str  # "<" little-endian or ">" big-endian
    metadata: dict[str, Any]  # key -> int | float | bool | str | list
    types: dict[str, tuple[GGUFValueType, ...]]  # key -> (type,) or (ARRAY, item type)
    tensors: list[GGUFTensorInfo]
    alignment: int
    data_offset: int  # absolute offset of the data section

    def tensor_range(self, info: GGUFTensorInfo) -> tuple[int, int]:
        """Absolute ``(start, end)`` byte offsets of a tensor's data in the file."""
        start = self.data_offset + info.offset
        return start, start + (info.n_bytes or 0)


def read_gguf(path: str | Path) -> GGUFFile:
    """Read the header, metadata and tensor infos of a GGUF file (the tensor data stays on disk)."""
    path = Path(path)
    with path.open("rb") as f:
        if path.stat().st_size == 0:
            raise GGUFFormatError(path, "the file is empty", field="header.magic")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _Reader(buf, path).read()


class _Reader:
    """A cursor over the file's bytes that names the field it is reading when it fails."""

    def __init__(self, buf: mmap.mmap, path: Path):
        self.buf, self.path, self.pos, self.order = buf, path, 0, "<"

    def fail(self, field: str, problem: str) -> GGUFFormatError:
        return GGUFFormatError(self.path, problem, field=field)

    def read(self) -> GGUFFile:
        magic = bytes(self.buf[:4])
        if magic != b"GGUF":
            raise self.fail("header.magic", f"not a GGUF file (starts with {magic!r}, expected b'GGUF')")
        self.pos = 4
        version = self.scalar("I", "header.version")
        if version & 0xFFFF == 0:  # the bytes only make sense the other way round
            self.order, self.pos = ">", 4
            version = self.scalar("I", "header.version")
        if version not in (2, 3):
            raise self.fail("header.version", f"version {version} is not supported (2 and 3 are)")
        n_tensors = self.scalar("Q", "header.tensor_count")
        n_kv = self.scalar("Q", "header.kv_count")
        metadata: dict[str, Any] = {}
        types: dict[str, tuple[GGUFValueType, ...]] = {}
        for i in range(n_kv):
            key = self.string(f"metadata[{i}].key")
            if key in metadata:
                raise self.fail(key, "the key appears twice")
            vtype = self.value_type(key)
            if vtype == GGUFValueType.ARRAY:
                item_type = self.value_type(key)
                types[key] = (vtype, item_type)
                metadata[key] = self.array(item_type, key)
            else:
                types[key] = (vtype,)
                metadata[key] = self.value(vtype, key)
        tensors = [self.tensor_info(i) for i in range(n_tensors)]
        alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise self.fail("general.alignment", f"{alignment!r} is not a power of two")
        data_offset = -(-self.pos // alignment) * alignment
        gguf = GGUFFile(self.path, version, self.order, metadata, types, tensors, alignment, data_offset)
        for i, t in enumerate(tensors):
            end = gguf.tensor_range(t)[1]
            if end > len(self.buf):
                raise self.fail(
                    f"tensor_infos[{i}] ({t.name}).data",
                    f"the data ends at byte {end}, past the end of the file ({len(self.buf)} bytes)",
                )
        return gguf

    def take(self, n: int, field: str) -> bytes:
        if self.pos + n > len(self.buf):
            raise self.fail(
                field,
                f"the file ends inside this field (needs {n} bytes at offset {self.pos}, has {len(self.buf) - self.pos})",
            )
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def scalar(self, code: str, field: str) -> Any:
        size = struct.calcsize(code)
        return struct.unpack(self.order + code, self.take(size, field))[0]

    def string(self, field: str) -> str:
        n = self.scalar("Q", field)
        try:
            return self.take(n, field).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(field, "the string is not valid UTF-8") from None

    def value_type(self, field: str) -> GGUFValueType:
        code = self.scalar("I", field)
        try:
            return GGUFValueType(code)
        except ValueError:
            raise self.fail(field, f"unknown value type {code}") from None

    def value(self, vtype: GGUFValueType, field: str) -> Any:
        if vtype == GGUFValueType.STRING:
            return self.string(field)
        if vtype == GGUFValueType.ARRAY:
            return self.array(self.value_type(field), field)
        return self.scalar(_SCALAR[vtype], field)

    def array(self, item_type: GGUFValueType, field: str) -> list[Any]:
        n = self.scalar("Q", field)
        if item_type in _SCALAR:  # fixed-size items: one unpack for the whole array
            code = _SCALAR[item_type]
            data = self.take(n * struct.calcsize(code), field)
            return list(struct.unpack(f"{self.order}{n}{code}", data))
        if n > len(self.buf) - self.pos:  # every item takes at least one byte
            raise self.fail(field, f"an array of {n} items cannot fit in the rest of the file")
        return [self.value(item_type, f"{field}[{j}]") for j in range(n)]

    def tensor_info(self, i: int) -> GGUFTensorInfo:
        field = f"tensor_infos[{i}]"
        name = self.string(field + ".name")
        n_dims = self.scalar("I", f"{field} ({name}).n_dims")
        if n_dims > 4:
            raise self.fail(f"{field} ({name}).n_dims", f"{n_dims} dimensions (ggml allows at most 4)")
        shape = tuple(self.scalar("Q", f"{field} ({name}).shape") for _ in range(n_dims))
        ggml_type = self.scalar("I", f"{field} ({name}).type")
        offset = self.scalar("Q", f"{field} ({name}).offset")
        return GGUFTensorInfo(name, shape, ggml_type, offset)
