"""The compiled fast path for byte-level BPE: the readable tokenizers' results, at C speed.

The readable path (``bpe_regex.py``, ``train_bpe.py``) is the reference: Python you can read
top to bottom. Training on 100 MB or encoding a large corpus needs more speed than a Python
loop gives, so this module runs the same four steps in a C extension (``_fastbpe.c``):

* ``split`` / ``count_pieces``: the GPT-2 or cl100k pre-tokenizer (hand-written scanners that
  return exactly ``regex.findall``'s pieces) and a C hash map of piece counts;
* ``count_pieces_in_files``: the same over files of any size, streamed in chunks cut where
  cutting cannot change the pieces, counted by several threads at once;
* ``RankEncoder``: tiktoken's encoding rule (merge the lowest-ranked adjacent pair) with the
  ranks in a C hash table;
* ``train_merges``: the BPE trainer with an index from pairs to words and a lazy max-heap, so
  each merge only touches the words that contain the pair.

``fast_reference.py`` has a few-line Python version of each, and the tests compare them (and
tiktoken) on thousands of inputs. ``available()`` says whether the extension was built: it is
optional, so a machine without a C compiler still installs llmlab, with the readable path only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from llmlab.errors import LLMLabError

try:
    from llmlab.tokenizers import _fastbpe
except ImportError:  # built without a C compiler: the readable path still works
    _fastbpe = None

PATTERN_NAMES = ("gpt2", "cl100k")
DEFAULT_CHUNK_BYTES = 1 << 20


def available() -> bool:
    """True when the C extension is built and importable."""
    return _fastbpe is not None


def _require(pattern: str | None = None) -> ModuleType:
    """The extension module, after checking it is built and ``pattern`` is known."""
    if _fastbpe is None:
        raise LLMLabError(
            "the compiled BPE fast path is not built (no C compiler when llmlab was installed?): "
            "install one and run `pip install -e .` again, or use the readable tokenizers"
        )
    if pattern is not None and pattern not in PATTERN_NAMES:
        raise LLMLabError(f"unknown pre-tokenizer pattern {pattern!r}: expected 'gpt2' or 'cl100k'")
    return _fastbpe


def source_digest() -> str:
    """SHA-256 of the C sources next to this file; a current build reports the same as
    ``_fastbpe.SOURCE_SHA256`` (setup.py computes it the same way)."""
    folder = Path(__file__).parent
    files = sorted([folder / "_fastbpe.c", folder / "_unicode_tables.h", *folder.glob("csrc/*.[ch]")])
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# -- pre-tokenizing and counting ----------------------------------------------------------------


def split(text: str, pattern: str = "gpt2") -> list[str]:
    """The pre-tokenizer's pieces of ``text``; equals ``regex.findall`` with the named pattern."""
    return _require(pattern).split(text, pattern)


def count_pieces(
    text: str | bytes, pattern: str = "gpt2", counts: dict[bytes, int] | None = None
) -> dict[bytes, int]:
    """Piece UTF-8 bytes -> occurrences in ``text`` (a str, or UTF-8 bytes), added to ``counts`` if
    given. No Python object is made per occurrence: the counting happens in a C hash map."""
    return _require(pattern).count_pieces(text, pattern, counts)


def safe_cut(data: bytes) -> int:
    """The last offset where UTF-8 ``data`` can be cut without changing its pieces, 0 if none:
    after a newline with non-space on both sides, else before a space that follows a letter
    (``fast_reference.safe_cut`` says why, on str)."""
    return _require().safe_cut(data)


def _chunks(path: Path, chunk_bytes: int, lines: bool = False) -> Iterator[tuple[int, bytes | memoryview]]:
    """(file offset, bytes) chunks of about ``chunk_bytes`` that end only at ``safe_cut`` places
    (with ``lines``, where each line is a text of its own: after any newline).

    The chunks stay bytes (UTF-8 is checked in C while counting): decoding them to str would
    cost a copy of up to 4 bytes per character. Memory stays bounded by a few chunks, unless a
    stretch of the file has no safe place to cut (then that stretch is held whole)."""
    offset, carry = 0, b""
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            data = carry + block
            cut = data.rfind(b"\n") + 1 if lines else safe_cut(data)
            if cut:
                yield offset, memoryview(data)[:cut]  # a view: no copy of the chunk
                offset += cut
            carry = data[cut:]
    if carry:
        yield offset, carry


def _add(counter: Any, path: Path, offset: int, chunk: bytes | memoryview) -> None:
    try:
        counter.add(chunk)
    except UnicodeDecodeError as e:
        raise LLMLabError(f"{path}: not valid UTF-8 (byte {offset + e.start})") from None


def count_files(
    paths: Sequence[str | Path],
    pattern: str = "gpt2",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int | None = None,
    lines: bool = False,
) -> _fastbpe.PieceCounter:
    """Count the pieces of every file (UTF-8, read as is: no newline translation; each file
    pre-tokenized on its own, or with ``lines`` each line, as the readable trainer reads
    files) into a ``PieceCounter``, which ``train_merges`` takes directly: the counts never
    become Python objects.

    ``workers`` threads (default: the CPU count) count chunks in parallel: the C code releases
    the GIL while it scans, each thread owns a counter, and the counters are summed at the end.
    """
    fast = _require(pattern)
    workers = max(1, workers or os.cpu_count() or 1)
    counters = [fast.PieceCounter(pattern, lines=lines) for _ in range(workers)]
    chunks = ((Path(path), *chunk) for path in paths for chunk in _chunks(Path(path), chunk_bytes, lines))
    if workers == 1:
        for path, offset, chunk in chunks:
            _add(counters[0], path, offset, chunk)
        return counters[0]
    # Round robin: chunk i goes to counter i % workers, after that counter's previous chunk is
    # done (so no counter is used by two threads, and at most `workers` chunks are in flight).
    pending: list[Future | None] = [None] * workers
    with ThreadPoolExecutor(workers) as pool:
        for i, (path, offset, chunk) in enumerate(chunks):
            k = i % workers
            if pending[k] is not None:
                pending[k].result()  # re-raises a worker's error here
            pending[k] = pool.submit(_add, counters[k], path, offset, chunk)
        for future in pending:
            if future is not None:
                future.result()
    for counter in counters[1:]:
        counters[0].update(counter)
    return counters[0]


def count_pieces_in_files(
    paths: Sequence[str | Path],
    pattern: str = "gpt2",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int | None = None,
) -> dict[bytes, int]:
    """Piece UTF-8 bytes -> occurrences over all ``paths`` (streamed; see ``count_files``)."""
    return count_files(paths, pattern, chunk_bytes, workers).to_dict()


# -- encoding -----------------------------------------------------------------------------------


class RankEncoder:
    """tiktoken's encoding (``encode_ordinary``) from a rank table, in C.

    ``ranks`` maps token bytes to ids (a tiktoken ``.tiktoken`` file's content); every single
    byte must be a token. ``RankEncoder(ranks, "cl100k").encode(text)`` equals
    ``tiktoken.Encoding(..., pat_str=<cl100k pattern>, mergeable_ranks=ranks).encode_ordinary(text)``.
    """

    def __init__(self, ranks: Mapping[bytes, int], pattern: str = "gpt2"):
        self.pattern = pattern
        self._table = _require(pattern).RankTable(dict(ranks))
        self._ranks = ranks
        self._tokens: dict[int, bytes] | None = None

    def __len__(self) -> int:
        return len(self._table)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (special-token text is encoded as ordinary text)."""
        return self._table.encode(text, self.pattern)

    def encode_piece(self, piece: bytes) -> list[int]:
        """Token ids of one pre-tokenized piece, by rank-based byte-pair merging."""
        return self._table.encode_piece(piece)

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of ``ids`` (decode them with ``errors="replace"`` for text)."""
        if self._tokens is None:
            self._tokens = {rank: token for token, rank in self._ranks.items()}
        return b"".join(self._tokens[i] for i in ids)


# -- training -----------------------------------------------------------------------------------


def train_merges(
    word_counts: Mapping[bytes, int], num_merges: int, min_frequency: int = 0, byte_order: bytes | None = None
) -> list[tuple[int, int]]:
    """Learn byte-level BPE merges from word (piece) counts until ``num_merges`` new tokens
    exist: symbols 0-255 are the bytes (symbol ``i`` is byte ``byte_order[i]``; default: the
    byte value), and each merge makes the next id unless its bytes already are a token, whose
    id it reuses (see ``merges_to_tokens``). Each step merges the most frequent adjacent pair;
    ties go to the smaller (left id, right id), see ``fast_reference.merge_order_key``. Stops
    early when the best pair occurs fewer than ``max(min_frequency, 1)`` times.

    ``word_counts`` is a dict, or the ``PieceCounter`` from ``count_files`` (cheapest)."""
    fast = _require()
    if num_merges < 0:
        raise LLMLabError(f"num_merges must be >= 0, got {num_merges}")
    if not isinstance(word_counts, dict | fast.PieceCounter):
        word_counts = dict(word_counts)
    return fast.train_merges(word_counts, num_merges, min_frequency, byte_order)


def train_merges_from_files(
    paths: Sequence[str | Path],
    num_merges: int,
    pattern: str = "gpt2",
    min_frequency: int = 0,
    workers: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    byte_order: bytes | None = None,
) -> list[tuple[int, int]]:
    """``count_files`` then ``train_merges``: byte-level BPE training on files of any size."""
    counts = count_files(paths, pattern, chunk_bytes, workers)
    return train_merges(counts, num_merges, min_frequency, byte_order)


def merges_to_tokens(merges: Sequence[tuple[int, int]], byte_order: bytes | None = None) -> list[bytes]:
    """The bytes of every symbol: 256 single bytes (in ``byte_order``), then one per merge that
    made a new token (a merge spelling an existing token reuses its id)."""
    tokens = [bytes([b]) for b in (byte_order if byte_order is not None else range(256))]
    known = set(tokens)
    for left, right in merges:
        merged = tokens[left] + tokens[right]
        if merged not in known:
            known.add(merged)
            tokens.append(merged)
    return tokens
