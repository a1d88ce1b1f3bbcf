"""The Protocol Buffers wire format, read and written by hand (enough for a SentencePiece ``.model``).

A protobuf message on disk is a flat run of *fields*. Each field starts with a **tag**, a varint
holding ``(field_number << 3) | wire_type``, followed by a payload whose shape the wire type gives:

====  ==========  =====================================================================
type  name        payload
====  ==========  =====================================================================
0     VARINT      an unsigned integer, 7 bits per byte, low bits first; the high bit of a
                  byte says "more bytes follow" (``300`` -> ``ac 02``). int32/int64/bool/enum.
1     I64         8 little-endian bytes: double, fixed64, sfixed64
2     LEN         a varint length, then that many bytes: string, bytes, a nested message,
                  or a *packed* repeated field (many varints or fixed values back to back)
5     I32         4 little-endian bytes: float, fixed32, sfixed32
====  ==========  =====================================================================

The format carries no names and no types: ``08 96 01`` is "field 1, varint 150", and only the
``.proto`` schema says that field 1 is ``vocab_size``. So this module stops at numbers and raw
bytes; :mod:`llmlab.tokenizers.formats.sentencepiece_model` adds the schema. Two traps:

* negative ``int32`` values are sign-extended to 64 bits, so ``-1`` takes ten bytes on the wire;
* fields may come in any order and may repeat; for a non-repeated field the last one wins.

Errors are :class:`WireError` with the field path the caller gave (``pieces[12].score``) and
the byte offset, so a broken file gets a one-line message that says where it broke.
Reference: https://protobuf.dev/programming-guides/encoding/
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_FIXED_SIZE = {I64: 8, I32: 4}
_WIRE_NAMES = {VARINT: "varint", I64: "64-bit", LEN: "length-delimited", I32: "32-bit"}


class WireError(ValueError):
    """Bytes that are not valid protobuf wire format; ``field`` names where, ``problem`` what."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Field:
    """One field as read from the wire: its number, wire type and raw payload.

    ``value`` is an ``int`` for VARINT and ``bytes`` otherwise (the 4 or 8 fixed bytes, or the
    LEN payload without its length prefix).
    """

    number: int
    wire_type: int
    value: int | bytes
    offset: int  # where the tag starts in the message
    end: int  # one past the payload: ``data[offset:end]`` is the whole field, tag included


def read_varint(data: bytes, pos: int, field: str = "message") -> tuple[int, int]:
    """Decode the varint at ``data[pos:]``; return ``(value, position after it)``."""
    result = shift = 0
    start = pos
    while True:
        if pos >= len(data):
            raise WireError(field, f"truncated varint at byte {start} (the data ends inside it)")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:  # subtle: at most 10 bytes encode 64 bits
            raise WireError(field, f"varint at byte {start} is longer than 10 bytes")


def iter_fields(
    data: bytes, path: str = "", names: Mapping[int, str] | None = None, repeated: Collection[int] = ()
) -> Iterator[Field]:
    """Yield the fields of one message, in file order.

    ``path`` is the message's own path (``""`` for the top level, ``"pieces[3]"`` inside),
    ``names`` maps field numbers to schema names and ``repeated`` lists the repeated ones (so
    errors say ``pieces[12]``); all three only serve the error messages.
    """
    names = names or {}
    counts: dict[int, int] = {}
    pos = 0
    prefix = f"{path}." if path else ""
    while pos < len(data):
        start = pos
        key, pos = read_varint(data, pos, f"{prefix}<tag at byte {start}>")
        number, wire_type = key >> 3, key & 7
        where = prefix + names.get(number, f"#{number}")
        if number in repeated:
            where += f"[{counts.get(number, 0)}]"
            counts[number] = counts.get(number, 0) + 1
        if number == 0:
            raise WireError(f"{prefix}<tag at byte {start}>", "field number 0 is not allowed")
        if wire_type == VARINT:
            value, pos = read_varint(data, pos, where)
            yield Field(number, wire_type, value, start, pos)
        elif wire_type in _FIXED_SIZE:
            size = _FIXED_SIZE[wire_type]
            if pos + size > len(data):
                raise WireError(where, f"truncated {_WIRE_NAMES[wire_type]} value at byte {pos}")
            pos += size
            yield Field(number, wire_type, bytes(data[pos - size : pos]), start, pos)
        elif wire_type == LEN:
            length, pos = read_varint(data, pos, where)
            if pos + length > len(data):
                raise WireError(
                    where, f"length {length} at byte {start} runs past the end ({len(data) - pos} bytes left)"
                )
            pos += length
            yield Field(number, wire_type, bytes(data[pos - length : pos]), start, pos)
        else:  # 3 and 4 are the long-deprecated groups; 6 and 7 do not exist
            raise WireError(where, f"wire type {wire_type} at byte {start} is not supported")


# -- turning raw payloads into Python values -------------------------------------------------
def to_int32(value: int) -> int:
    """A varint read as ``int32``/``int64`` (two's complement over 64 bits)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def to_float(raw: bytes) -> float:
    """A 32-bit payload read as an IEEE float (exactly representable as a Python float)."""
    return struct.unpack("<f", raw)[0]


def to_double(raw: bytes) -> float:
    """A 64-bit payload read as an IEEE double."""
    return struct.unpack("<d", raw)[0]


def zigzag_decode(value: int) -> int:
    """``sint32``/``sint64``: 0, -1, 1, -2 ... are stored as 0, 1, 2, 3 ..."""
    return (value >> 1) ^ -(value & 1)


def unpack_varints(payload: bytes, field: str = "packed") -> list[int]:
    """The values of a packed repeated varint field (``[packed = true]``)."""
    values, pos = [], 0
    while pos < len(payload):
        value, pos = read_varint(payload, pos, field)
        values.append(value)
    return values


def unpack_fixed(payload: bytes, fmt: str, field: str = "packed") -> list:
    """The values of a packed repeated fixed field; ``fmt`` is a struct code such as ``"f"``."""
    size = struct.calcsize(fmt)
    if len(payload) % size:
        raise WireError(field, f"packed payload of {len(payload)} bytes is not a multiple of {size}")
    return list(struct.unpack(f"<{len(payload) // size}{fmt}", payload))


# -- writing -------------------------------------------------------------------------------
def encode_varint(value: int) -> bytes:
    """The varint bytes of a non-negative integer (negatives: pass ``value + 2**64``)."""
    if value < 0:
        value += 1 << 64  # int32/int64 negatives are sign-extended to 10 bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class Writer:
    """Append fields to a message; :meth:`getvalue` returns the bytes."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def tag(self, number: int, wire_type: int) -> None:
        self._buf += encode_varint(number << 3 | wire_type)

    def varint(self, number: int, value: int) -> None:
        """int32, int64, uint64, bool and enum fields."""
        self.tag(number, VARINT)
        self._buf += encode_varint(int(value))

    def float32(self, number: int, value: float) -> None:
        self.tag(number, I32)
        self._buf += struct.pack("<f", value)

    def double(self, number: int, value: float) -> None:
        self.tag(number, I64)
        self._buf += struct.pack("<d", value)

    def bytes_(self, number: int, value: bytes) -> None:
        """bytes fields and nested messages (pass the nested message's bytes)."""
        self.tag(number, LEN)
        self._buf += encode_varint(len(value))
        self._buf += value

    def string(self, number: int, value: str) -> None:
        self.bytes_(number, value.encode("utf-8"))

    def packed_varints(self, number: int, values: Iterable[int]) -> None:
        self.bytes_(number, b"".join(encode_varint(v) for v in values))

    def raw(self, data: bytes) -> None:
        """Already-encoded fields (kept unknown fields are written back this way)."""
        self._buf += data

    def getvalue(self) -> bytes:
        return bytes(self._buf)
