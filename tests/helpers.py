"""Test helpers shared by several test files (imported as ``from helpers import ...``)."""

from __future__ import annotations

from pathlib import Path

from llmlab.assets import AssetStore, get_asset
from llmlab.assets.manifest import Manifest, record_files


def install_asset(home: Path, name: str, files: dict[str, bytes | str]) -> Path:
    """Put a small stand-in for catalogued asset ``name`` into data home ``home``.

    The files get a real manifest, so the store sees the asset as pulled and intact; loaders
    then read these files exactly as they would read the real ones.
    """
    asset = get_asset(name)
    folder = AssetStore(home).folder(asset)
    folder.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
    Manifest(
        name=asset.name, title=asset.title, kind=asset.kind, licence=asset.licence,
        source={"type": "test-fixture"}, files=record_files(folder, list(files)),
    ).write(folder)  # fmt: skip
    return folder
