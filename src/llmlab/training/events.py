"""Training logs: a JSONL metrics file, and TensorBoard event files written from scratch.

**JSONL** (``metrics.jsonl``): one JSON object per line, ``{"step": 12, "loss": 3.1, ...}``;
greppable, appendable, and read back by :func:`read_jsonl`. On resume, :meth:`JsonlLog.truncate`
drops the lines written after the checkpoint, so the file reads as if the run had never stopped.

**TensorBoard** reads ``events.out.tfevents.*`` files: a TFRecord stream of ``Event`` protobufs.
Each record is framed as::

    uint64  length                    little-endian
    uint32  masked_crc32c(length)     the 8 length bytes' checksum
    bytes   data[length]              one serialized Event
    uint32  masked_crc32c(data)

CRC32C is the Castagnoli CRC (polynomial 0x1EDC6F41, reflected 0x82F63B78; RFC 3720 B.4):
``crc32c(b"123456789") == 0xE3069283``. "Masked" rotates it right by 15 bits and adds
0xA282EAD8, so a CRC of data that itself holds CRCs does not look valid by accident. The Event
fields we use (tensorflow/core/util/event.proto, summary.proto)::

    Event      { double wall_time = 1; int64 step = 2; string file_version = 3;
                 Summary summary = 5; SessionLog session_log = 7; }
    Summary    { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
    SessionLog { enum status = 1;  (START = 1) }

The first record is ``Event(file_version="brain.Event:2")``. A resumed run opens a new file that
starts with ``SessionLog(START)`` at the resume step: TensorBoard then purges the points of older
files at or after that step (the crashed run's tail), and so does our :func:`read_scalars`.
Reference: tensorflow/core/lib/io/record_writer.cc, tensorboard/backend/event_processing.
"""

from __future__ import annotations

import json
import math
import os
import socket
import struct
import time
from pathlib import Path
from typing import Any, BinaryIO

from llmlab.errors import LLMLabError
from llmlab.tokenizers.formats.protobuf import LEN, Writer, iter_fields, to_double, to_float, to_int32

FILE_VERSION = "brain.Event:2"
SESSION_START = 1


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):  # shift out one bit at a time; xor the (reflected) polynomial on a 1
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C of ``data``, table-driven, a byte at a time (pass an earlier result as ``crc`` to extend it)."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: ``rotr15(crc32c(data)) + 0xA282EAD8`` (mod 2**32)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def write_record(f: BinaryIO, data: bytes) -> None:
    """Append one TFRecord frame holding ``data``."""
    length = struct.pack("<Q", len(data))
    f.write(length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data)))


def read_records(path: str | Path) -> list[bytes]:
    """The payloads of a TFRecord file, every checksum verified; a torn last record is dropped.

    subtle: a writer killed mid-record leaves a partial frame at the end; TensorBoard skips it
    and so do we. A bad checksum *before* the end is corruption and raises.
    """
    data, out, pos = Path(path).read_bytes(), [], 0
    while pos < len(data):
        if pos + 12 > len(data):
            break  # torn header
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        if crc != masked_crc32c(header):
            raise LLMLabError(f"{path}: bad length checksum in the record at byte {pos}")
        end = pos + 12 + length + 4
        if end > len(data):
            break  # torn payload
        payload = data[pos + 12 : pos + 12 + length]
        if struct.unpack("<I", data[end - 4 : end])[0] != masked_crc32c(payload):
            raise LLMLabError(f"{path}: bad data checksum in the record at byte {pos}")
        out.append(payload)
        pos = end
    return out


def encode_event(
    step: int,
    wall_time: float,
    *,
    scalars: dict[str, float] | None = None,
    file_version: str | None = None,
    session_start: bool = False,
) -> bytes:
    """One serialized ``Event``: scalars as a Summary, or the file-version header, or a START marker."""
    w = Writer()
    w.double(1, wall_time)
    w.varint(2, step)
    if file_version is not None:
        w.string(3, file_version)
    if scalars:
        summary = Writer()
        for tag, value in scalars.items():
            v = Writer()
            v.string(1, tag)
            v.float32(2, value)
            summary.bytes_(1, v.getvalue())
        w.bytes_(5, summary.getvalue())
    if session_start:
        log = Writer()
        log.varint(1, SESSION_START)
        w.bytes_(7, log.getvalue())
    return w.getvalue()


def decode_event(data: bytes) -> dict[str, Any]:
    """The fields of :func:`encode_event` back: ``wall_time, step, file_version, scalars, session_start``."""
    event: dict[str, Any] = {"wall_time": 0.0, "step": 0, "scalars": {}, "session_start": False}
    for f in iter_fields(data, "Event", {1: "wall_time", 2: "step", 3: "file_version", 5: "summary"}):
        if f.number == 1:
            event["wall_time"] = to_double(f.value)  # type: ignore[arg-type]
        elif f.number == 2:
            event["step"] = to_int32(f.value)  # type: ignore[arg-type]
        elif f.number == 3:
            event["file_version"] = f.value.decode()  # type: ignore[union-attr]
        elif f.number == 5 and f.wire_type == LEN:
            for value in iter_fields(f.value, "Event.summary"):  # type: ignore[arg-type]
                fields = iter_fields(value.value, "Event.summary.value")  # type: ignore[arg-type]
                parts: dict[int, Any] = {v.number: v.value for v in fields}
                if 1 in parts and 2 in parts:  # tag and simple_value
                    event["scalars"][parts[1].decode()] = to_float(parts[2])
        elif f.number == 7 and f.wire_type == LEN:
            status = {s.number: s.value for s in iter_fields(f.value)}.get(1)  # type: ignore[arg-type]
            event["session_start"] = status == SESSION_START
    return event


class TensorBoardWriter:
    """Scalars to a new ``events.out.tfevents.<time>.<host>.<pid>`` file in ``folder``.

    ``purge_step`` (on resume) writes a SessionLog START at that step, so readers drop older
    points at or after it. Every record is flushed at once: a crash loses at most the one in flight.
    """

    def __init__(self, folder: str | Path, purge_step: int | None = None) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{now:.6f}.{socket.gethostname()}.{os.getpid()}"
        self.path = folder / name
        self._f = self.path.open("xb")
        step = purge_step if purge_step is not None else 0
        self._write(encode_event(step, now, file_version=FILE_VERSION))
        if purge_step is not None:
            self._write(encode_event(purge_step, now, session_start=True))

    def scalars(self, step: int, values: dict[str, float], wall_time: float | None = None) -> None:
        """Log ``{tag: value}`` at ``step`` (TensorBoard groups tags by their ``a/`` prefix)."""
        values = {k: float(v) for k, v in values.items() if v is not None}
        if values:
            self._write(encode_event(step, wall_time or time.time(), scalars=values))

    def _write(self, event: bytes) -> None:
        write_record(self._f, event)
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def read_scalars(folder: str | Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` from every event file in ``folder``, in file-name (time) order.

    A START marker at step ``s`` drops the points read so far with step >= s, as TensorBoard does.
    """
    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(folder).glob("events.out.tfevents.*")):
        for record in read_records(path):
            event = decode_event(record)
            if event["session_start"]:
                s = event["step"]
                out = {tag: [(k, v) for k, v in points if k < s] for tag, points in out.items()}
            for tag, value in event["scalars"].items():
                out.setdefault(tag, []).append((event["step"], value))
    return out


class JsonlLog:
    """Append-only ``metrics.jsonl``: one record per line, flushed as it is written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(jsonl_line(record))
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    @staticmethod
    def truncate(path: str | Path, after_step: int) -> None:
        """Rewrite ``path`` without the records whose ``step`` is greater than ``after_step`` (atomically)."""
        path = Path(path)
        if not path.exists():
            return
        keep = [r for r in read_jsonl(path) if r.get("step", 0) <= after_step]
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
        os.replace(tmp, path)


def jsonl_line(record: dict[str, Any]) -> str:
    """``record`` as one JSON line; NaN and inf, which are not JSON, become the strings 'nan', 'inf'."""
    clean = {k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    return json.dumps(clean) + "\n"


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record to ``path``, opening and closing it (for writers that log now and then)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(jsonl_line(record))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSONL file; a torn last line (a crash mid-write) is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
