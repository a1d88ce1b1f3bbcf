"""Unigram tokenization: the most probable way to cut the text into vocabulary pieces.

Unlike BPE, which applies merges in a fixed order, a Unigram model (Kudo 2018,
https://arxiv.org/abs/1804.10959) gives every piece a log probability ``score`` and picks the
segmentation whose scores add up to the most, treating pieces as independent draws::

    best(text) = argmax over segmentations x1 x2 ... xk of  score(x1) + ... + score(xk)

**Viterbi** finds it in one left-to-right pass. ``best_score[e]`` is the best total for the
first ``e`` characters; every piece ``text[s:e]`` in the vocabulary offers
``best_score[s] + score(piece)``, and the best offer wins (ties keep the earlier, longer one).
Walking back from the end through the winners gives the pieces. A trie of the vocabulary lists
all pieces that start at ``s`` in one walk. With ``▁hello`` = -8.1, ``▁he`` = -6.0,
``llo`` = -7.5: best("▁hello") = max(-8.1, -6.0 - 7.5) = -8.1, so one piece.

Three rules come from sentencepiece (``unigram_model.cc``, ``EncodeOptimized``):

* a character that no piece of length one covers becomes ``<unk>`` with score
  ``min(score) - 10`` (the *unknown penalty*), so the path always exists but avoids it;
* a user-defined piece scores ``len_in_bytes * max(score) - 0.1``: it always wins;
* scores and running sums are float32 (each offer is rounded to float32 before the
  comparison), which decides ties exactly as sentencepiece does: "......." is "." + "......",
  not "......" + ".", because the first equal offer (from the earlier start) stays.

This file adds only the segmentation; normalisation, unknown handling and decoding come from
:class:`~llmlab.tokenizers.spm_base.SpmTokenizer`. Train a model with
:func:`llmlab.tokenizers.train_unigram.train_unigram`.
"""

from __future__ import annotations

import struct
from array import array
from pathlib import Path

from llmlab.tokenizers.formats.sentencepiece_model import ModelProto, PieceType
from llmlab.tokenizers.spm_base import SpmTokenizer

UNK_PENALTY = 10.0
_FLT_MAX = 3.4028234663852886e38
_FLT_MIN = 1.1754943508222875e-38  # sentencepiece starts max_score at FLT_MIN, the smallest normal float


def f32(x: float) -> float:
    """``x`` rounded to float32, as a C++ ``float`` would hold it."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def build_trie(pieces: dict[str, int]) -> dict:
    """A character trie as nested dicts; key ``""`` at a node holds the id of the piece ending there."""
    root: dict = {}
    for piece, piece_id in pieces.items():
        node = root
        for char in piece:
            node = node.setdefault(char, {})
        node[""] = piece_id
    return root


class UnigramTokenizer(SpmTokenizer):
    """A SentencePiece Unigram model; ``encode`` equals ``sentencepiece``'s ids."""

    name = "unigram"

    def __init__(self, model: ModelProto, *, path: str | Path = "<model>"):
        super().__init__(model, path=path)
        normal = [s for s, t in zip(self.scores, self.types, strict=True) if t == PieceType.NORMAL]
        min_score = min(normal, default=_FLT_MAX)
        max_score = max([_FLT_MIN, *normal])
        self.unk_score = f32(min_score - UNK_PENALTY)
        # The lattice offers, per piece id: its score, or the user-defined bonus (a double).
        self.offer = list(self.scores)
        for piece, i in self.piece_ids.items():
            if self.types[i] == PieceType.USER_DEFINED:
                self.offer[i] = f32(len(piece.encode("utf-8")) * max_score) - 0.1
        usable = {p: i for p, i in self.piece_ids.items() if self.types[i] != PieceType.UNUSED}
        self.trie = build_trie(usable)

    def segment(self, normalized: str) -> list[tuple[int, int, int]]:
        """Viterbi over the normalised text; see the module docstring."""
        n = len(normalized)
        best_score = array("f", bytes(4 * (n + 1)))  # float32, like sentencepiece's
        best_start = [-1] * (n + 1)
        best_id = [0] * (n + 1)
        rounded = array("f", [0.0])
        trie, offer, unk_id, unk_score = self.trie, self.offer, self.unk_id, self.unk_score
        for start in range(n):
            till_here = best_score[start]
            node = trie
            has_single_char = False
            # 1. every piece that starts here: one walk down the trie
            for end in range(start + 1, n + 1):
                node = node.get(normalized[end - 1])
                if node is None:
                    break
                piece_id = node.get("")
                if piece_id is None:
                    continue
                rounded[0] = offer[piece_id] + till_here  # a float32 sum, as in sentencepiece
                if best_start[end] == -1 or rounded[0] > best_score[end]:
                    best_score[end] = rounded[0]
                    best_start[end] = start
                    best_id[end] = piece_id
                if end == start + 1:
                    has_single_char = True
            # 2. no piece covers this character: offer <unk> for it (a float32 sum)
            if not has_single_char:
                rounded[0] = unk_score + till_here
                if best_start[start + 1] == -1 or rounded[0] > best_score[start + 1]:
                    best_score[start + 1] = rounded[0]
                    best_start[start + 1] = start
                    best_id[start + 1] = unk_id
        # 3. walk back from the end through the winners
        pieces = []
        end = n
        while end > 0:
            start = best_start[end]
            pieces.append((best_id[end], start, end))
            end = start
        pieces.reverse()
        return pieces
