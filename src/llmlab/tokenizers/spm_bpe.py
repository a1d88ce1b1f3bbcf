"""SentencePiece's BPE model: merges chosen by piece score, over normalised text.

It is still byte-pair encoding (start from characters, repeatedly merge the best adjacent
pair), but it differs from GPT-style BPE in ways that change the ids:

* **no merge list.** The model stores only pieces with scores (piece ``k`` of the training
  order has score ``-k``). A pair may merge when the concatenation is a piece; among all
  mergeable pairs the one with the highest score goes first, leftmost on a tie;
* **characters, not bytes.** Symbols start as Unicode characters of the *normalised* text
  ("▁" for spaces, see :mod:`llmlab.tokenizers.spm_normalizer`); there is no regex
  pre-tokenizer, a piece simply never contains "▁" except at its start;
* **unknowns.** A character outside the vocabulary stays an unknown symbol: one ``<unk>`` per
  run, or ``<0xXX>`` byte pieces with byte fallback (GPT-2's byte alphabet has no unknowns);
* **user-defined pieces** are cut out first and never merged with neighbours;
* **unused pieces** (type UNUSED) may be formed by a merge but are split back into the two
  pieces they were made of.

Algorithm (sentencepiece ``bpe_model.cc``): a priority queue of candidate pairs keyed by
score; pop the best, skip it if either side has changed since it was pushed, merge, and push
the new pairs with the left and right neighbours. ``O(n log n)`` per text.
"""

from __future__ import annotations

import heapq
from pathlib import Path

from llmlab.tokenizers.formats.sentencepiece_model import ModelProto, PieceType
from llmlab.tokenizers.spm_base import SpmTokenizer


class SpmBpeTokenizer(SpmTokenizer):
    """A SentencePiece model with ``model_type: BPE``; ``encode`` equals ``sentencepiece``'s ids."""

    name = "sentencepiece-bpe"

    def __init__(self, model: ModelProto, *, path: str | Path = "<model>"):
        super().__init__(model, path=path)
        self.user_defined = sorted(
            (p for p, i in self.piece_ids.items() if self.types[i] == PieceType.USER_DEFINED),
            key=len,
            reverse=True,
        )

    def segment(self, normalized: str) -> list[tuple[int, int, int]]:
        text = normalized
        # 1. symbols: one per character, or one per user-defined piece (frozen: never merged)
        starts: list[int] = []
        frozen: list[bool] = []
        pos = 0
        while pos < len(text):
            match = next((u for u in self.user_defined if text.startswith(u, pos)), None)
            starts.append(pos)
            frozen.append(match is not None)
            pos += len(match) if match else 1
        n = len(starts)
        ends = starts[1:] + [len(text)]
        prev = list(range(-1, n - 1))
        nxt = list(range(1, n)) + [-1]
        alive = [True] * n
        agenda: list[tuple[float, int, int, int]] = []  # (-score, left, right, merged length)
        unused_parts: dict[str, tuple[str, str]] = {}

        def push_pair(left: int, right: int) -> None:
            if left == -1 or right == -1 or frozen[left] or frozen[right]:
                return
            piece = text[starts[left] : ends[right]]
            piece_id = self.piece_ids.get(piece)
            if piece_id is None:
                return
            heapq.heappush(agenda, (-self.scores[piece_id], left, right, len(piece)))
            if self.types[piece_id] == PieceType.UNUSED:  # remember how to split it again
                unused_parts[piece] = (text[starts[left] : ends[left]], text[starts[right] : ends[right]])

        for i in range(1, n):
            push_pair(i - 1, i)
        # 2. merge the best pair until none is left; stale entries are recognised by their length
        while agenda:
            _, left, right, length = heapq.heappop(agenda)
            if (
                not (alive[left] and alive[right])
                or ends[right] - starts[left] != length
                or nxt[left] != right
            ):
                continue
            ends[left] = ends[right]
            alive[right] = False
            nxt[left] = nxt[right]
            if nxt[right] != -1:
                prev[nxt[right]] = left
            push_pair(prev[left], left)
            push_pair(left, nxt[left])
        # 3. read the symbols off; unknown characters get unk_id, unused pieces are split back
        out: list[tuple[int, int, int]] = []

        def emit(start: int, end: int) -> None:
            piece = text[start:end]
            piece_id = self.reserved_ids.get(piece, self.piece_ids.get(piece, self.unk_id))
            if self.types[piece_id] == PieceType.UNUSED and piece in unused_parts:
                left, right = unused_parts[piece]
                emit(start, start + len(left))
                emit(start + len(left), end)
            else:
                out.append((piece_id, start, end))

        index = 0 if n else -1
        while index != -1:
            emit(starts[index], ends[index])
            index = nxt[index]
        return out
