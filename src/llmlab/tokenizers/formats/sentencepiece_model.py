"""A SentencePiece ``.model`` file: the ``ModelProto`` message, parsed and written by us.

A ``.model`` is one protobuf message (schema: sentencepiece's ``sentencepiece_model.proto``)
holding everything the tokenizer needs, so that a model file alone reproduces its tokenization:

* ``pieces`` (field 1): the vocabulary in id order, each a ``piece`` string, a float ``score``
  (a log probability for Unigram, the negated merge order for BPE) and a ``type``;
* ``trainer_spec`` (2): how it was trained, including the settings that change *encoding*
  (model type, byte fallback, special ids, digit splitting, whitespace-as-suffix);
* ``normalizer_spec`` (3): the precompiled character map and the whitespace flags
  (see :mod:`llmlab.tokenizers.spm_normalizer`); ``denormalizer_spec`` (5) for decoding.

This module adds the *schema* to the bare wire format of :mod:`.protobuf`: a table per message
maps field numbers to names and types. Fields the table does not name are kept as raw bytes
and written back in field-number order, so ``write_model_proto(read_model_proto(b)) == b`` for
the files sentencepiece writes, and a newer file's extra settings survive a round trip.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from enum import IntEnum
from pathlib import Path

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.formats import protobuf as pb


class PieceType(IntEnum):
    NORMAL = 1  # an ordinary piece, produced by segmentation
    UNKNOWN = 2  # <unk>: exactly one per model
    CONTROL = 3  # <s>, </s>, <pad>, ...: never produced from text, decode to ""
    USER_DEFINED = 4  # always one token when it appears in the text, never normalised
    UNUSED = 5  # in the vocabulary but never produced
    BYTE = 6  # <0x00> ... <0xFF>: byte fallback for unknown characters


class ModelType(IntEnum):
    UNIGRAM = 1
    BPE = 2
    WORD = 3
    CHAR = 4


@dataclass
class SentencePiece:
    piece: str
    score: float = 0.0
    type: PieceType = PieceType.NORMAL
    present: frozenset[str] = field(default=frozenset(), repr=False, compare=False)  # fields seen on disk
    extra: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)  # unmodelled fields, raw


@dataclass
class TrainerSpec:
    """The training settings; the ones marked (enc) change how text is encoded."""

    model_type: ModelType = ModelType.UNIGRAM  # (enc) UNIGRAM or BPE
    vocab_size: int = 8000
    character_coverage: float = 0.9995  # rarer characters than this share of text become <unk>
    input_sentence_size: int = 0  # 0 = use every sentence
    seed_sentencepiece_size: int = 1_000_000  # Unigram: candidate pieces before pruning
    shrinking_factor: float = 0.75  # Unigram: keep this share of pieces per pruning round
    num_sub_iterations: int = 2  # Unigram: EM iterations between prunings
    max_sentence_length: int = 4192  # longer lines (in bytes) are skipped in training
    max_sentencepiece_length: int = 16  # in characters
    split_by_unicode_script: bool = True  # a piece never mixes scripts (Han+kana count as one)
    split_by_whitespace: bool = True  # ▁ only at the start of a piece
    split_by_number: bool = True
    treat_whitespace_as_suffix: bool = False  # (enc) ▁ ends words ("hello▁") instead of starting them
    split_digits: bool = False  # every digit its own piece
    allow_whitespace_only_pieces: bool = False
    control_symbols: list[str] = field(default_factory=list)
    user_defined_symbols: list[str] = field(default_factory=list)
    hard_vocab_limit: bool = True
    byte_fallback: bool = False  # (enc) unknown characters become <0xXX> byte pieces
    required_chars: str = ""
    unk_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    pad_id: int = -1  # -1: no padding piece
    unk_surface: str = " \u2047 "  # (enc) what decode writes for <unk>
    unk_piece: str = "<unk>"
    bos_piece: str = "<s>"
    eos_piece: str = "</s>"
    pad_piece: str = "<pad>"
    present: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    extra: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)  # unmodelled fields, raw


@dataclass
class NormalizerSpec:
    name: str = ""  # "nmt_nfkc", "nfkc", "identity", ...
    precompiled_charsmap: bytes = field(default=b"", repr=False)  # darts trie + replacement strings
    add_dummy_prefix: bool = True  # "world" -> "▁world", like the word in "hello world"
    remove_extra_whitespaces: bool = True  # strip, and squeeze runs of spaces to one
    escape_whitespaces: bool = True  # " " -> "▁" (U+2581)
    normalization_rule_tsv: str = ""
    present: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    extra: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)


@dataclass
class ModelProto:
    pieces: list[SentencePiece] = field(default_factory=list)
    trainer_spec: TrainerSpec = field(default_factory=TrainerSpec)
    normalizer_spec: NormalizerSpec = field(default_factory=NormalizerSpec)
    denormalizer_spec: NormalizerSpec | None = None
    present: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    extra: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)  # e.g. self_test_data (4)


# -- the schema: (field number, attribute, kind); kinds say how the value sits on the wire -----
_SCHEMA: dict[type, tuple[tuple[int, str, str], ...]] = {
    SentencePiece: ((1, "piece", "string"), (2, "score", "float"), (3, "type", "enum")),
    TrainerSpec: (
        (3, "model_type", "enum"),
        (4, "vocab_size", "int32"),
        (10, "character_coverage", "float"),
        (11, "input_sentence_size", "uint64"),
        (14, "seed_sentencepiece_size", "int32"),
        (15, "shrinking_factor", "float"),
        (17, "num_sub_iterations", "int32"),
        (18, "max_sentence_length", "int32"),
        (20, "max_sentencepiece_length", "int32"),
        (21, "split_by_unicode_script", "bool"),
        (22, "split_by_whitespace", "bool"),
        (23, "split_by_number", "bool"),
        (24, "treat_whitespace_as_suffix", "bool"),
        (25, "split_digits", "bool"),
        (26, "allow_whitespace_only_pieces", "bool"),
        (30, "control_symbols", "string*"),
        (31, "user_defined_symbols", "string*"),
        (33, "hard_vocab_limit", "bool"),
        (35, "byte_fallback", "bool"),
        (36, "required_chars", "string"),
        (40, "unk_id", "int32"),
        (41, "bos_id", "int32"),
        (42, "eos_id", "int32"),
        (43, "pad_id", "int32"),
        (44, "unk_surface", "string"),
        (45, "unk_piece", "string"),
        (46, "bos_piece", "string"),
        (47, "eos_piece", "string"),
        (48, "pad_piece", "string"),
    ),  # fmt: skip
    NormalizerSpec: (
        (1, "name", "string"),
        (2, "precompiled_charsmap", "bytes"),
        (3, "add_dummy_prefix", "bool"),
        (4, "remove_extra_whitespaces", "bool"),
        (5, "escape_whitespaces", "bool"),
        (6, "normalization_rule_tsv", "string"),
    ),  # fmt: skip
    ModelProto: (
        (1, "pieces", "SentencePiece*"),
        (2, "trainer_spec", "TrainerSpec"),
        (3, "normalizer_spec", "NormalizerSpec"),
        (5, "denormalizer_spec", "NormalizerSpec"),
    ),  # fmt: skip
}
_MESSAGES = {"SentencePiece": SentencePiece, "TrainerSpec": TrainerSpec, "NormalizerSpec": NormalizerSpec}
_ENUMS = {"type": PieceType, "model_type": ModelType}
_WIRE = {"string": pb.LEN, "bytes": pb.LEN, "float": pb.I32, "bool": pb.VARINT, "int32": pb.VARINT}
_WIRE |= {"uint64": pb.VARINT, "enum": pb.VARINT}


def _decode(kind: str, name: str, raw: int | bytes, where: str) -> object:
    """One wire value as the Python value of its schema kind."""
    if kind == "string":
        try:
            return raw.decode("utf-8")  # type: ignore[union-attr]
        except UnicodeDecodeError:
            raise pb.WireError(where, "is not valid UTF-8 text") from None
    if kind == "bytes":
        return raw
    if kind == "float":
        return pb.to_float(raw)  # type: ignore[arg-type]
    if kind == "bool":
        return raw != 0
    if kind == "uint64":
        return raw
    value = pb.to_int32(raw)  # type: ignore[arg-type]
    if not -(2**31) <= value < 2**31:
        raise pb.WireError(where, f"{value} does not fit in an int32")
    if kind == "enum":
        enum = _ENUMS[name]
        if value not in enum._value2member_map_:
            allowed = ", ".join(f"{m.value} ({m.name})" for m in enum)
            raise pb.WireError(where, f"{value} is not a valid {enum.__name__} (expected one of {allowed})")
        return enum(value)
    return value


def _parse(cls: type, data: bytes, path: str) -> object:
    """A message of type ``cls`` from its bytes; unknown fields are kept in ``extra``."""
    schema = {number: (name, kind) for number, name, kind in _SCHEMA[cls]}
    names = {number: name for number, (name, _) in schema.items()}
    repeated = {number for number, (_, kind) in schema.items() if kind.endswith("*")}
    values: dict[str, object] = {}
    counts: dict[str, int] = {}
    extra: list[tuple[int, bytes]] = []
    for f in pb.iter_fields(data, path, names, repeated):
        if f.number not in schema:
            if cls is ModelProto and not (1 <= f.number <= 5 or f.number >= 200):
                raise pb.WireError(
                    f"<tag at byte {f.offset}>", f"field #{f.number} is not part of a ModelProto"
                )
            extra.append((f.number, data[f.offset : f.end]))
            continue
        name, kind = schema[f.number]
        repeated = kind.endswith("*")
        base = kind.rstrip("*")
        where = f"{path}.{name}" if path else name
        if repeated:
            where += f"[{counts.get(name, 0)}]"
            counts[name] = counts.get(name, 0) + 1
        expected = pb.LEN if base in _MESSAGES else _WIRE[base]
        if f.wire_type != expected:
            raise pb.WireError(where, f"expected wire type {expected} ({base}), found {f.wire_type}")
        if base in _MESSAGES:
            value = _parse(_MESSAGES[base], f.value, where)  # type: ignore[arg-type]
        else:
            value = _decode(base, name, f.value, where)
        if repeated:
            values.setdefault(name, []).append(value)  # type: ignore[union-attr]
        else:
            values[name] = value  # subtle: a repeated non-repeated field: the last one wins
    return cls(**values, present=frozenset(values), extra=tuple(extra))


def _defaults(cls: type) -> dict[str, object]:
    """Each field's default value (what a reader assumes when the field is absent)."""
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def _write(message: object) -> bytes:
    """The bytes of a message: set fields in field-number order, kept raw fields merged in."""
    cls = type(message)
    defaults = _defaults(cls)
    chunks: list[tuple[int, bytes]] = list(message.extra)  # type: ignore[attr-defined]
    for number, name, kind in _SCHEMA[cls]:
        value = getattr(message, name)
        base = kind.rstrip("*")
        items = value if kind.endswith("*") else [value]
        if not kind.endswith("*") and name not in message.present and value == defaults.get(name):  # type: ignore[attr-defined]
            continue
        for item in items:
            if item is None:
                continue
            w = pb.Writer()
            if base in _MESSAGES:
                w.bytes_(number, _write(item))
            elif base == "string":
                w.string(number, item)
            elif base == "bytes":
                w.bytes_(number, item)
            elif base == "float":
                w.float32(number, item)
            else:
                w.varint(number, int(item))
            chunks.append((number, w.getvalue()))
    chunks.sort(key=lambda c: c[0])  # stable: repeated fields keep their order
    return b"".join(raw for _, raw in chunks)


def read_model_proto(data: bytes, path: str | Path = "<bytes>") -> ModelProto:
    """Parse ``.model`` bytes; any problem is a one-line :class:`TokenizerFormatError`."""
    try:
        first = pb.read_varint(data, 0)[0] >> 3 if data else 1
    except pb.WireError:
        first = 0
    if not 1 <= first <= 5:  # a text file, an image, ...: say so rather than "bad varint at byte 3"
        raise TokenizerFormatError(
            path,
            f"not a SentencePiece model (it starts with field #{first}, which a ModelProto does not have)",
        )
    try:
        model = _parse(ModelProto, data, "")
    except pb.WireError as e:
        raise TokenizerFormatError(path, e.problem, field=e.field) from None
    if not model.pieces:  # type: ignore[attr-defined]
        raise TokenizerFormatError(path, "no pieces: this is not a SentencePiece model")
    return model  # type: ignore[return-value]


def write_model_proto(model: ModelProto) -> bytes:
    """The ``.model`` bytes of ``model`` (sentencepiece's ``SentencePieceProcessor`` loads them)."""
    return _write(model)


def load_model_proto(path: str | Path) -> ModelProto:
    """Read and parse a ``.model`` file."""
    path = Path(path)
    return read_model_proto(path.read_bytes(), path)
