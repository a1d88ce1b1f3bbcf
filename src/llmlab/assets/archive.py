"""Take a few named files out of a wheel (a zip) or an sdist (a tar.gz), nothing else.

No archive is ever extracted whole and no code inside it is run: we list the members, pick
the ones a :class:`~llmlab.assets.catalog.FileSpec` names, and copy their bytes out. A member
may itself be an archive (the VADER sdist ships its data as a tar.gz inside the tar.gz);
``FileSpec.inner`` then globs inside it.
"""

from __future__ import annotations

import fnmatch
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from llmlab.assets.catalog import FileSpec
from llmlab.assets.files import atomic_write
from llmlab.errors import AssetError

# What a damaged archive raises, across zipfile, tarfile, gzip and bz2.
ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError, ValueError)


class Archive:
    """Read-only view of a zip or tar archive with member paths normalised.

    An sdist wraps everything in ``<name>-<version>/``; that top folder is removed so that
    catalogue patterns read the same for wheels and sdists.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._names: dict[str, str] = {}  # normalised path -> real member name
        if zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            real = [i.filename for i in self._zip.infolist() if not i.is_dir()]
        else:
            self._tar = tarfile.open(path, mode="r:*")
            real = [m.name for m in self._tar.getmembers() if m.isfile()]
        # subtle: only an sdist's single "<name>-<version>/" top folder is removed; a nested
        # data archive such as "hutto_ICWSM_2014/" keeps its folder.
        tops = {PurePosixPath(n).parts[0] for n in real}
        strip_top = self._tar is not None and len(tops) == 1 and _looks_like_sdist_top(min(tops))
        for name in real:
            parts = PurePosixPath(name).parts
            norm = "/".join(parts[1:]) if strip_top and len(parts) > 1 else name
            self._names[norm] = name

    def names(self) -> list[str]:
        return sorted(self._names)

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        real = self._names[name]
        if self._zip is not None:
            with self._zip.open(real) as f:
                yield f
        else:
            assert self._tar is not None
            f = self._tar.extractfile(real)
            if f is None:
                raise tarfile.TarError(f"member {real} is not a regular file")
            with f:
                yield f

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()


def _looks_like_sdist_top(folder: str) -> bool:
    name, sep, version = folder.rpartition("-")
    return bool(sep and name and version[:1].isdigit())


def _stored_path(member: str, strip: str) -> str:
    """Where a member lands inside the asset folder; refuses anything that could escape it."""
    rel = member[len(strip) :] if strip and member.startswith(strip) else member
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise AssetError(f"refusing archive member with an unsafe path: {member!r}")
    return str(p)


def extract(archive_path: Path, specs: tuple[FileSpec, ...], out_dir: Path, what: str) -> list[str]:
    """Copy the members named by ``specs`` into ``out_dir``; return their stored paths.

    ``what`` describes the archive in error messages ("the sdist foo-1.0.tar.gz for asset 'x'").
    """
    try:
        return _extract(archive_path, specs, out_dir, what)
    except AssetError:
        raise
    except ARCHIVE_ERRORS as e:
        first_line = (str(e).strip().splitlines() or [""])[0].rstrip(":")
        raise AssetError(
            f"{what} is corrupt or unreadable ({type(e).__name__}: {first_line}); "
            "pull again, and if it fails the same way the registry's copy is damaged"
        ) from e


def _extract(archive_path: Path, specs: tuple[FileSpec, ...], out_dir: Path, what: str) -> list[str]:
    archive = Archive(archive_path)
    stored: list[str] = []
    try:
        names = archive.names()
        for spec in specs:
            matches = [n for n in names if fnmatch.fnmatchcase(n, spec.pattern)]
            if not matches:
                raise AssetError(f"{what} has no file matching '{spec.pattern}'")
            for member in matches:
                if spec.inner is None:
                    rel = _stored_path(member, spec.strip)
                    with archive.open(member) as src, atomic_write(out_dir / rel) as dst:
                        shutil.copyfileobj(src, dst)
                    stored.append(rel)
                else:
                    inner = FileSpec(spec.inner, strip=spec.strip)
                    with tempfile.TemporaryDirectory(dir=out_dir.parent) as tmp:
                        nested = Path(tmp) / PurePosixPath(member).name
                        with archive.open(member) as src, open(nested, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                        stored += _extract(nested, (inner,), out_dir, f"{what} (inside {member})")
    finally:
        archive.close()
    return stored
