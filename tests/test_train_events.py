"""TensorBoard event files (TFRecord + Event protobuf) and the JSONL log, written and read back.

The reader is ours (``tensorboard`` is a test dependency only); the framing is checked against the
spec (the CRC32C check value from RFC 3720 / the iSCSI spec, hand-built record bytes) and, live,
against TensorBoard's own loader and accumulator, resume markers included.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from llmlab.errors import LLMLabError
from llmlab.training.events import (
    FILE_VERSION,
    JsonlLog,
    TensorBoardWriter,
    crc32c,
    decode_event,
    encode_event,
    masked_crc32c,
    read_jsonl,
    read_records,
    read_scalars,
)


def test_crc32c_check_values() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C "check" value of the spec
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c(b"\xff" * 32) == 0x62A8AB43  # RFC 3720 B.4: 32 bytes of ones
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283  # continuing a CRC


def test_masked_crc_is_rotate_plus_constant() -> None:
    crc = crc32c(b"abc")
    assert masked_crc32c(b"abc") == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) % 2**32


def test_event_file_layout_byte_by_byte(tmp_path: Path) -> None:
    writer = TensorBoardWriter(tmp_path)
    writer.scalars(7, {"train/loss": 2.5})
    writer.close()
    data = writer.path.read_bytes()
    assert "events.out.tfevents." in writer.path.name
    (length,) = struct.unpack("<Q", data[:8])
    assert struct.unpack("<I", data[8:12])[0] == masked_crc32c(data[:8])
    first = data[12 : 12 + length]
    assert struct.unpack("<I", data[12 + length : 16 + length])[0] == masked_crc32c(first)
    # Event{wall_time (1, double), step (2) = 0, file_version (3) = "brain.Event:2"}
    assert first[0] == 0x09 and first[9:11] == b"\x10\x00"
    assert first[11:] == b"\x1a\x0d" + FILE_VERSION.encode()
    second = decode_event(read_records(writer.path)[1])
    assert second["step"] == 7 and second["scalars"] == {"train/loss": 2.5}
    # Summary.Value{tag (1), simple_value (2, float32)} nested in Event.summary (5)
    assert b"\x0a\x0atrain/loss\x15" + struct.pack("<f", 2.5) in read_records(writer.path)[1]


def test_scalars_round_trip(tmp_path: Path) -> None:
    writer = TensorBoardWriter(tmp_path)
    for step in range(1, 6):
        writer.scalars(step, {"train/loss": 1.0 / step, "train/lr": 0.1})
    writer.close()
    scalars = read_scalars(tmp_path)
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4, 5]
    assert scalars["train/loss"][2][1] == pytest.approx(1 / 3, rel=1e-7)  # stored as float32


def test_resume_marker_purges_the_crashed_tail(tmp_path: Path) -> None:
    first = TensorBoardWriter(tmp_path, purge_step=1)
    for step in range(1, 9):  # the crashed run got to step 8; its last checkpoint was step 5
        first.scalars(step, {"loss": float(step)})
    first.close()
    second = TensorBoardWriter(tmp_path, purge_step=6)
    for step in range(6, 11):
        second.scalars(step, {"loss": step + 0.5})
    second.close()
    assert decode_event(read_records(second.path)[1])["session_start"]
    points = read_scalars(tmp_path)["loss"]
    assert points == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0)] + [(s, s + 0.5) for s in range(6, 11)]


def test_torn_last_record_is_skipped_and_corruption_is_an_error(tmp_path: Path) -> None:
    writer = TensorBoardWriter(tmp_path)
    writer.scalars(1, {"a": 1.0})
    writer.close()
    data = writer.path.read_bytes()
    last = data[16 + struct.unpack("<Q", data[:8])[0] :]  # the second record, framing included
    writer.path.write_bytes(data + last[:-3])  # a crash in the middle of writing a third record
    assert len(read_records(writer.path)) == 2
    corrupt = bytearray(data)
    corrupt[-6] ^= 0xFF  # flip a byte inside the second record's payload
    writer.path.write_bytes(bytes(corrupt))
    with pytest.raises(LLMLabError, match=r"bad data checksum in the record at byte \d+"):
        read_records(writer.path)


def test_encode_decode_event() -> None:
    event = decode_event(encode_event(12, 1.5, scalars={"x": -0.25, "y": 3.0}))
    assert event == {"wall_time": 1.5, "step": 12, "scalars": {"x": -0.25, "y": 3.0}, "session_start": False}


def test_jsonl_log_truncate_and_nonfinite(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "m.jsonl")
    for step in range(1, 6):
        log.write({"step": step, "loss": float(step)})
    log.write({"step": 6, "loss": float("nan")})
    log.close()
    assert read_jsonl(tmp_path / "m.jsonl")[-1] == {"step": 6, "loss": "nan"}  # still valid JSON
    JsonlLog.truncate(tmp_path / "m.jsonl", after_step=3)
    assert [r["step"] for r in read_jsonl(tmp_path / "m.jsonl")] == [1, 2, 3]
    with open(tmp_path / "m.jsonl", "a") as f:
        f.write('{"step": 4, "lo')  # torn by a crash
    assert len(read_jsonl(tmp_path / "m.jsonl")) == 3


def test_tensorboard_reads_our_files(tmp_path: Path) -> None:
    """Live check with TensorBoard's own loader (a test dependency; skipped where it is missing)."""
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    loader = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    first = TensorBoardWriter(tmp_path, purge_step=1)
    for step in range(1, 9):
        first.scalars(step, {"train/loss": float(step)})
    first.close()
    second = TensorBoardWriter(tmp_path, purge_step=6)  # a resume from step 5
    for step in range(6, 11):
        second.scalars(step, {"train/loss": step + 0.5})
    second.close()
    events = list(loader.LegacyEventFileLoader(str(first.path)).Load())  # no simple_value -> tensor migration
    assert events[0].file_version == FILE_VERSION and events[1].session_log.status == 1  # START
    assert events[2].step == 1 and events[2].summary.value[0].simple_value == 1.0
    acc = accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    theirs = [(e.step, e.value) for e in acc.Scalars("train/loss")]
    assert theirs == read_scalars(tmp_path)["train/loss"]  # TensorBoard purged the same tail we did
    assert [s for s, _ in theirs] == list(range(1, 11))
