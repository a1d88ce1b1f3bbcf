"""The hand-written protobuf wire format: round trips, known encodings, and broken input."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab.tokenizers.formats import protobuf as pb


def test_known_encodings_from_the_protobuf_docs() -> None:
    assert pb.encode_varint(1) == b"\x01"
    assert pb.encode_varint(150) == b"\x96\x01"
    assert pb.encode_varint(300) == b"\xac\x02"
    assert pb.encode_varint(-1) == b"\xff" * 9 + b"\x01"  # int32 -1: sign-extended to ten bytes
    w = pb.Writer()
    w.varint(1, 150)
    w.string(2, "testing")
    assert w.getvalue() == b"\x08\x96\x01\x12\x07testing"


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(value: int) -> None:
    data = pb.encode_varint(value)
    assert pb.read_varint(data, 0) == (value, len(data))


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_int32_round_trip_through_the_sign_extension(value: int) -> None:
    assert pb.to_int32(pb.read_varint(pb.encode_varint(value), 0)[0]) == value


@settings(max_examples=50)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("varint"), st.integers(1, 2**29 - 1), st.integers(0, 2**64 - 1)),
            st.tuples(st.just("float"), st.integers(1, 2**29 - 1), st.floats(width=32, allow_nan=False)),
            st.tuples(st.just("double"), st.integers(1, 2**29 - 1), st.floats(allow_nan=False)),
            st.tuples(st.just("bytes"), st.integers(1, 2**29 - 1), st.binary(max_size=300)),
        ),
        max_size=20,
    )
)
def test_writer_and_reader_agree(fields: list[tuple[str, int, object]]) -> None:
    w = pb.Writer()
    for kind, number, value in fields:
        {"varint": w.varint, "float": w.float32, "double": w.double, "bytes": w.bytes_}[kind](number, value)
    read = list(pb.iter_fields(w.getvalue()))
    assert [f.number for f in read] == [n for _, n, _ in fields]
    for f, (kind, _, value) in zip(read, fields, strict=True):
        decoded = {"varint": lambda v: v, "float": pb.to_float, "double": pb.to_double, "bytes": lambda v: v}[
            kind
        ]
        assert decoded(f.value) == value


def test_packed_repeated_fields() -> None:
    w = pb.Writer()
    w.packed_varints(4, [3, 270, 86942])
    [f] = pb.iter_fields(w.getvalue())
    assert w.getvalue() == bytes.fromhex("2206038e029ea705")  # the example in the protobuf docs
    assert pb.unpack_varints(f.value) == [3, 270, 86942]
    assert pb.unpack_fixed(struct.pack("<3f", 1.0, 2.5, -4.0), "f") == [1.0, 2.5, -4.0]
    assert pb.zigzag_decode(3) == -2


def test_whole_field_bytes_are_recoverable() -> None:
    data = b"\x08\x96\x01\x12\x07testing"
    fields = list(pb.iter_fields(data))
    assert [data[f.offset : f.end] for f in fields] == [b"\x08\x96\x01", b"\x12\x07testing"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x08\x96", "score: truncated varint at byte 1 (the data ends inside it)"),
        (b"\x12\x07test", "#2: length 7 at byte 0 runs past the end (4 bytes left)"),
        (b"\x0b", "score: wire type 3 at byte 0 is not supported"),
        (b"\x15\x00\x00", "#2: truncated 32-bit value at byte 1"),
        (b"\x00", "<tag at byte 0>: field number 0 is not allowed"),
        (b"\x08" + b"\xff" * 11, "score: varint at byte 1 is longer than 10 bytes"),
    ],
)
def test_broken_input_names_the_field_and_the_byte(data: bytes, message: str) -> None:
    with pytest.raises(pb.WireError, match=f"^{re.escape(message)}$"):
        list(pb.iter_fields(data, names={1: "score"}))


def test_nested_paths_in_messages() -> None:
    with pytest.raises(pb.WireError) as info:
        list(pb.iter_fields(b"\x08\x96", "pieces[12]", {1: "piece"}))
    assert info.value.field == "pieces[12].piece"


def test_reads_a_real_descriptor_the_sentencepiece_package_ships() -> None:
    """The sentencepiece package carries its schema as a serialized FileDescriptorProto; reading
    it with our reader recovers the field numbers our ``.model`` parser relies on."""
    import sentencepiece

    source = (Path(sentencepiece.__file__).parent / "sentencepiece_model_pb2.py").read_text()
    blob = eval(re.search(r"AddSerializedFile\((b'.*?')\)", source, re.S).group(1))  # a bytes literal
    numbers: dict[str, dict[str, int]] = {}
    for f in pb.iter_fields(blob):
        if f.number == 4:  # message_type
            name, fields = "", {}
            for g in pb.iter_fields(f.value):
                if g.number == 1:
                    name = g.value.decode()
                elif g.number == 2:  # a FieldDescriptorProto: name = 1, number = 3
                    d = {h.number: h.value for h in pb.iter_fields(g.value)}
                    fields[d[1].decode()] = d[3]
            numbers[name] = fields
    assert numbers["ModelProto"] == {
        "pieces": 1,
        "trainer_spec": 2,
        "normalizer_spec": 3,
        "denormalizer_spec": 5,
    }
    assert numbers["TrainerSpec"]["byte_fallback"] == 35
    assert numbers["TrainerSpec"]["unk_surface"] == 44
    assert numbers["NormalizerSpec"]["precompiled_charsmap"] == 2
