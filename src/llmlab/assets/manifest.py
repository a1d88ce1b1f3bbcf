"""The manifest: what was pulled, from where, and the sha256 and size of every file.

Each asset folder holds one ``manifest.json``. It is written last, atomically, after every file
is in place: an asset folder without a readable manifest is not an asset. ``verify`` re-hashes
the files and compares them with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llmlab.assets.files import atomic_write_bytes, sha256_file

MANIFEST = "manifest.json"
FORMAT = 1  # bump when the layout changes; older manifests are then re-pulled


@dataclass(frozen=True)
class FileRecord:
    path: str  # relative to the asset folder, "/"-separated
    sha256: str
    size: int


@dataclass
class Manifest:
    name: str
    title: str
    kind: str
    licence: str
    source: dict  # {"type": "pypi", "package", "version", "dist", "archive", "archive_sha256"} or hub
    files: list[FileRecord] = field(default_factory=list)
    pulled_at: str = ""
    llmlab_version: str = ""
    format: int = FORMAT

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def digest(self) -> str:
        return content_digest(self.files)

    def write(self, folder: Path) -> None:
        data = asdict(self)
        atomic_write_bytes(folder / MANIFEST, (json.dumps(data, indent=2) + "\n").encode())

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The folder's manifest, or None if it is missing, unreadable or of another format."""
        try:
            data = json.loads((folder / MANIFEST).read_text())
            if data.get("format") != FORMAT:
                return None
            data["files"] = [FileRecord(**f) for f in data["files"]]
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError):
            return None


def record_files(folder: Path, paths: list[str]) -> list[FileRecord]:
    """Hash and measure the given files (paths relative to ``folder``)."""
    return [FileRecord(p, sha256_file(folder / p), (folder / p).stat().st_size) for p in sorted(set(paths))]


def content_digest(files: list[FileRecord]) -> str:
    """sha256 over sorted ``"<sha256>  <path>"`` lines: one value that pins a whole asset."""
    lines = "".join(f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda r: r.path))
    return hashlib.sha256(lines.encode()).hexdigest()
