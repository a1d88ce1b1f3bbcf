"""Small file primitives that every writer in llmlab uses: hashing and atomic writes.

An atomic write goes to a temporary file in the same folder, is flushed to disk, and only
then renamed over the target (``os.replace`` is atomic on POSIX and Windows). A process
killed mid-write therefore leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20  # read and hash 1 MiB at a time


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large weights never sit in memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing so that it appears complete or not at all.

    >>> with atomic_write(Path("out.bin")) as f:   # doctest: +SKIP
    ...     f.write(b"all or nothing")
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        # subtle: mkstemp creates the file readable by its owner only; give it the usual mode
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path) as f:
        f.write(data)


def human_size(n: float) -> str:
    """1536 -> '1.5 KB' (powers of 1000, as download tools show sizes)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")
