"""A darts-clone double-array trie, read by hand: the dictionary inside SentencePiece files.

SentencePiece stores two tries as *double arrays* (Aoe 1989, in Susumu Yata's darts-clone
layout): the normalisation rules of a model's ``precompiled_charsmap`` (key: UTF-8 text to
rewrite, value: offset of its replacement) and, in memory, its vocabulary. A double array is
one array of 32-bit units; walking a key is a few XORs and one comparison per byte:

1. start at unit 0 and move to ``node = offset(unit[0])``;
2. for each key byte ``b``: ``node ^= b``; the byte belongs to the trie only if
   ``label(unit[node]) == b``; then ``node ^= offset(unit[node])``;
3. if the unit just read has its *leaf* bit, a key ends here and its value is in the unit at
   ``node`` (the child slot of label 0, which no key byte uses).

This file only reads arrays (it does not build them). ``walk`` lists what is stored, with
numpy trying all 256 labels of many nodes at once.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np


class DoubleArray:
    """A darts-clone double-array trie over bytes, as stored in sentencepiece files.

    The trie is one array of 32-bit *units*. Following byte ``b`` from the node at index
    ``i`` goes to ``j = i ^ offset(unit[i]) ^ b``, which is a real child only if
    ``label(unit[j]) == b``. A unit with ``has_leaf`` set ends a key; its value sits in the
    unit at ``j ^ offset(unit[j])`` (the slot of label 0, which no key byte uses). Bits::

        unit = offset bits (10..31) | extension bit 9 | has_leaf bit 8 | label bits 0..7
        value units: MSB set, value in the low 31 bits (so their label never matches a byte)
    """

    def __init__(self, units: list[int]):
        self.units = units

    @classmethod
    def from_bytes(cls, data: bytes) -> DoubleArray:
        return cls(list(struct.unpack(f"<{len(data) // 4}I", data)))

    @staticmethod
    def offset(unit: int) -> int:
        # subtle: bit 9 says the offset is stored shifted by 8 (large offsets are multiples of 256)
        return (unit >> 10) << ((unit & 0x200) >> 6)

    def prefixes(self, key: bytes) -> Iterator[tuple[int, int]]:
        """``(length, value)`` of every stored key that is a prefix of ``key`` (shortest first)."""
        units, n = self.units, len(self.units)
        node = self.offset(units[0])
        for i, b in enumerate(key):
            node ^= b
            if node >= n or units[node] & 0x800000FF != b:
                return
            unit = units[node]
            node ^= self.offset(unit)
            if unit & 0x100 and node < n:
                yield i + 1, units[node] & 0x7FFFFFFF

    def walk(self, max_chars: int | None = None) -> dict[bytes, tuple[int, bool]]:
        """Every key prefix that ends on a character boundary, up to ``max_chars`` characters,
        as ``{prefix: (value or -1, has longer keys)}``. Breadth first, all candidate labels of
        a level at once with numpy (a char boundary tries the 244 UTF-8 lead bytes, the inside
        of a character the 64 continuation bytes)."""
        units = np.asarray(self.units, dtype=np.int64)
        n = len(units)
        found: dict[bytes, tuple[int, bool]] = {}
        lead, cont = np.r_[1:0x80, 0xC2:0xF5], np.arange(0x80, 0xC0)
        # the frontier: node base, key so far, bytes missing in the current character, chars done
        bases, keys, need, done = (
            np.array([int(self.offset(self.units[0]))]),
            [b""],
            np.array([0]),
            np.array([0]),
        )
        while len(bases):
            next_bases, next_keys, next_need, next_done = [], [], [], []
            for inside, labels in ((True, cont), (False, lead)):
                rows = np.flatnonzero((need > 0) == inside)
                if not len(rows):
                    continue
                child = bases[rows, None] ^ labels[None, :]
                ok = child < n
                ok[ok] = (units[child[ok]] & 0x800000FF) == np.broadcast_to(labels, child.shape)[ok]
                row, col = np.nonzero(ok)
                kid = child[row, col]
                unit = units[kid]
                base = kid ^ ((unit >> 10) << ((unit & 0x200) >> 6))
                label = labels[col]
                width = np.where(label < 0x80, 1, np.where(label < 0xE0, 2, np.where(label < 0xF0, 3, 4)))
                still = need[rows[row]] - 1 if inside else width - 1
                chars = done[rows[row]] + (still == 0)
                for r, b, u, v, s, c in zip(rows[row].tolist(), label.tolist(), unit.tolist(), base.tolist(),
                                            still.tolist(), chars.tolist(), strict=True):  # fmt: skip
                    key = keys[r] + bytes([b])
                    if not inside and keys[r]:  # a longer key continues past this boundary
                        found[keys[r]] = (found[keys[r]][0], True)
                    if s == 0:
                        found[key] = (units[v] & 0x7FFFFFFF if u & 0x100 and v < n else -1, False)
                    if s > 0 or max_chars is None or c < max_chars:
                        next_bases.append(v), next_keys.append(key), next_need.append(s), next_done.append(c)
            bases, keys = np.array(next_bases, dtype=np.int64), next_keys
            need, done = np.array(next_need, dtype=np.int64), np.array(next_done, dtype=np.int64)
        return found

    def items(self) -> dict[bytes, int]:
        """Every (key, value) stored in the trie."""
        return {k: v for k, (v, _) in self.walk().items() if v >= 0}
