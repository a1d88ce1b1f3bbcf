"""What every SentencePiece model does around its segmentation algorithm.

A SentencePiece tokenizer is a pipeline; Unigram and BPE differ only in the middle step:

1. **normalise** the text (:mod:`llmlab.tokenizers.spm_normalizer`): "  Hello" -> "▁Hello";
2. **segment** the normalised text into pieces of the vocabulary (the subclass:
   :class:`~llmlab.tokenizers.unigram.UnigramTokenizer` or
   :class:`~llmlab.tokenizers.spm_bpe.SpmBpeTokenizer`); characters the vocabulary lacks come
   out as ``<unk>``;
3. **clean up unknowns**: a run of unknown characters becomes a single ``<unk>`` id, or, when
   the model has byte fallback, each unknown character becomes its UTF-8 bytes as
   ``<0xE2><0x98><0x83>`` pieces, so nothing is ever lost.

``decode`` reverses it: "▁" becomes a space, the dummy space in front is dropped, byte pieces
are reassembled into UTF-8 (an invalid byte becomes U+FFFD), control pieces (``<s>``) vanish
and ``<unk>`` prints as " ⁇ ". Everything follows sentencepiece's ``sentencepiece_processor.cc``,
so ids, pieces, offsets and decoded text equal the ``sentencepiece`` library's.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer, TokenizerFormatError
from llmlab.tokenizers.formats.sentencepiece_model import ModelProto, PieceType
from llmlab.tokenizers.spm_normalizer import SPACE_SYMBOL, SpmNormalizer

# The piece types a segmentation may produce (sentencepiece keeps these in its main piece map).
SEGMENTABLE = (PieceType.NORMAL, PieceType.USER_DEFINED, PieceType.UNUSED)


class SpmTokenizer(Tokenizer):
    """Shared machinery of SentencePiece models; subclasses implement :meth:`segment`."""

    def __init__(self, model: ModelProto, *, path: str | Path = "<model>"):
        self.model = model
        self.path = str(path)
        spec = model.trainer_spec
        self.pieces = [p.piece for p in model.pieces]
        self.scores = [p.score for p in model.pieces]
        self.types = [p.type for p in model.pieces]
        # 1. two lookup tables, as in sentencepiece: segmentable pieces, and the reserved ones
        self.piece_ids: dict[str, int] = {}
        self.reserved_ids: dict[str, int] = {}
        unk = [i for i, t in enumerate(self.types) if t == PieceType.UNKNOWN]
        for i, p in enumerate(model.pieces):
            if not p.piece:
                raise TokenizerFormatError(path, "a piece must not be empty", field=f"pieces[{i}].piece")
            table = self.piece_ids if p.type in SEGMENTABLE else self.reserved_ids
            if p.piece in table:
                raise TokenizerFormatError(
                    path, f"piece {p.piece!r} is defined twice", field=f"pieces[{i}].piece"
                )
            table[p.piece] = i
        if len(unk) != 1:
            raise TokenizerFormatError(
                path, f"expected exactly one UNKNOWN piece, found {len(unk)}", field="pieces"
            )
        self.unk_id = unk[0]
        # 2. byte fallback needs all 256 byte pieces
        self.byte_fallback = spec.byte_fallback
        self.byte_ids = [self.reserved_ids.get(f"<0x{b:02X}>", -1) for b in range(256)]
        if self.byte_fallback and -1 in self.byte_ids:
            missing = f"<0x{self.byte_ids.index(-1):02X}>"
            raise TokenizerFormatError(
                path, f"byte_fallback is set but piece {missing} is missing", field="pieces"
            )
        user_defined = [p for p, i in self.piece_ids.items() if self.types[i] == PieceType.USER_DEFINED]
        self.normalizer = SpmNormalizer(
            model.normalizer_spec,
            treat_whitespace_as_suffix=spec.treat_whitespace_as_suffix,
            user_defined=user_defined,
            path=path,
        )
        denorm = model.denormalizer_spec
        self.denormalizer = SpmNormalizer(denorm, path=path, field="denormalizer_spec") if (
            denorm is not None and denorm.precompiled_charsmap
        ) else None  # fmt: skip
        # 3. control pieces (<s>, </s>, <pad>) are the special tokens of the base-class policy
        self.special_tokens = {p: i for i, (p, t) in enumerate(zip(self.pieces, self.types, strict=True))
                               if t == PieceType.CONTROL}  # fmt: skip
        self.bos_id = spec.bos_id if 0 <= spec.bos_id < len(self.pieces) else None
        self.eos_id = spec.eos_id if 0 <= spec.eos_id < len(self.pieces) else None
        # 4. can text be cut after a space and encoded in two parts? (see safe_split)
        norm = model.normalizer_spec
        self._cut_after_space = (
            norm.add_dummy_prefix and norm.remove_extra_whitespaces and norm.escape_whitespaces
            and not spec.treat_whitespace_as_suffix and SPACE_SYMBOL in self.piece_ids
            and not any(SPACE_SYMBOL in p[1:] for p in self.piece_ids)
            and not any(" " in p for p in user_defined)
        )  # fmt: skip

    # -- step 2, the subclass's job ---------------------------------------------------------
    @abstractmethod
    def segment(self, normalized: str) -> list[tuple[int, int, int]]:
        """``(id, start, end)`` pieces covering the normalised text, unknown characters as
        ``unk_id`` (one character each); offsets count characters of ``normalized``."""

    # -- encoding ---------------------------------------------------------------------------
    def encode_ordinary(self, text: str) -> list[int]:
        normalized = self.normalizer.normalize(text)
        return [i for i, _, _ in self._clean_unknowns(normalized, self.segment(normalized))]

    def encode_with_offsets(self, text: str) -> list[tuple[int, int, int]]:
        """``(id, start, end)`` with character offsets into ``text`` (sentencepiece's
        begin/end): a byte piece's bytes all start at its character, only the last one ends
        after it; a piece made by a rule that wrote several characters may have start == end."""
        normalized, align = self.normalizer.normalize_with_offsets(text)
        return [
            (i, align[s], align[e]) for i, s, e in self._clean_unknowns(normalized, self.segment(normalized))
        ]

    def safe_split(self, text: str) -> tuple[str, str]:
        """Cut after the last space that a non-space follows: "a b" encodes as "a " and "b",
        because the first part loses its trailing space and the second gains the dummy "▁".
        That needs the usual whitespace flags, "▁" in the vocabulary and no piece with "▁"
        inside (so no piece crosses the cut), and is checked on the normalised text (so no
        normalisation rule crosses it either)."""
        i = text.rfind(" ", 0, len(text) - 1)  # a space with something after it
        while i >= 0 and text[i + 1] == " ":
            i = text.rfind(" ", 0, i)
        if not self._cut_after_space or i < 0:
            return "", text
        head, tail = text[: i + 1], text[i + 1 :]
        if self.normalizer.normalize(head) + self.normalizer.normalize(tail) != self.normalizer.normalize(
            text
        ):
            return "", text
        return head, tail

    def encode_pieces(self, text: str) -> list[str]:
        """The pieces as strings, like ``sentencepiece``'s ``encode(text, out_type=str)``: a
        merged run of unknown characters is shown as its normalised text, not ``<unk>``."""
        normalized = self.normalizer.normalize(text)
        return [
            self.pieces[i] if i != self.unk_id else normalized[s:e]
            for i, s, e in self._clean_unknowns(normalized, self.segment(normalized))
        ]

    def _clean_unknowns(
        self, normalized: str, pieces: list[tuple[int, int, int]]
    ) -> list[tuple[int, int, int]]:
        """Step 3: merge runs of <unk>, or spell unknown characters as byte pieces."""
        out: list[tuple[int, int, int]] = []
        prev_unk = False
        for i, s, e in pieces:
            is_unk = i == self.unk_id
            if is_unk and self.byte_fallback:
                data = normalized[s:e].encode("utf-8", "surrogatepass")
                out.extend((self.byte_ids[b], s, s) for b in data[:-1])
                out.append((self.byte_ids[data[-1]], s, e))  # the last byte carries the span
            elif is_unk and prev_unk:
                out[-1] = (i, out[-1][1], e)
            else:
                out.append((i, s, e))
            prev_unk = is_unk
        return out

    # -- decoding ---------------------------------------------------------------------------
    def decode(self, ids: Sequence[int]) -> str:
        spec = self.model.normalizer_spec
        strip_first = spec.add_dummy_prefix or spec.remove_extra_whitespaces
        text: list[str] = []
        pending = bytearray()  # byte pieces waiting to be read as UTF-8
        is_bos_ws, bos_ws_seen = True, False  # "at the start": the dummy space may be dropped
        for token_id in ids:
            piece, kind = self.id_to_token(token_id), self.types[token_id]
            if kind == PieceType.BYTE:
                pending.append(int(piece[3:5], 16))
                continue
            if pending:
                text.append(decode_utf8_like_spm(bytes(pending)))
                pending.clear()
            if is_bos_ws and (bos_ws_seen or any(text)):  # (any() stops at the first text)
                is_bos_ws = False
            bos_ws_seen = False
            if kind == PieceType.CONTROL:
                continue
            if kind == PieceType.UNKNOWN:
                text.append(self.model.trainer_spec.unk_surface)
                continue
            if is_bos_ws and strip_first and piece.startswith(SPACE_SYMBOL):
                piece = piece[1:]  # the dummy prefix
                # subtle: with remove_extra_whitespaces every leading "▁" piece goes, not just one
                bos_ws_seen = not spec.remove_extra_whitespaces
            text.append(piece.replace(SPACE_SYMBOL, " "))
        if pending:
            text.append(decode_utf8_like_spm(bytes(pending)))
        out = "".join(text)
        return self.denormalizer.normalize(out) if self.denormalizer else out

    # -- vocabulary -------------------------------------------------------------------------
    def id_to_token(self, token_id: int) -> str:
        if not 0 <= token_id < len(self.pieces):
            raise LLMLabError(
                f"id {token_id} is not in the vocabulary of {self.name} (ids 0..{len(self.pieces) - 1})"
            )
        return self.pieces[token_id]

    def token_to_id(self, token: str) -> int | None:
        return self.reserved_ids.get(token, self.piece_ids.get(token))

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)


def decode_utf8_like_spm(data: bytes) -> str:
    """UTF-8 bytes to text, one U+FFFD per invalid byte (Python's "replace" would write one
    U+FFFD for a whole broken sequence; sentencepiece checks one character at a time)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out, i = [], 0
    while i < len(data):
        lead = data[i]
        size = (
            1
            if lead < 0x80
            else 2
            if 0xC2 <= lead < 0xE0
            else 3
            if 0xE0 <= lead < 0xF0
            else 4
            if 0xF0 <= lead < 0xF5
            else 0
        )
        try:
            out.append(data[i : i + size].decode("utf-8") if size else "\ufffd")
            i += max(size, 1)
        except UnicodeDecodeError:
            out.append("\ufffd")
            i += 1
    return "".join(out)
