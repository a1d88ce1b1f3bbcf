"""The data home: one per-user folder where every asset llmlab pulls is kept.

Default: the platform's user data directory (``~/.local/share/llmlab`` on Linux,
``~/Library/Application Support/llmlab`` on macOS, ``%LOCALAPPDATA%\\llmlab`` on Windows).
``LLMLAB_HOME`` overrides it. Layout::

    <home>/assets/<name>/...          extracted files of one asset
    <home>/assets/<name>/manifest.json written last: an asset without it is not there
    <home>/staging/                    work folders of pulls in progress (never read)
    <home>/locks/                      one lock file per asset, so two pulls never race
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from platformdirs import user_data_dir

from llmlab.errors import LLMLabError

ENV_HOME = "LLMLAB_HOME"


def data_home() -> Path:
    """Where assets live: ``$LLMLAB_HOME`` if set, else the per-user data directory."""
    override = os.environ.get(ENV_HOME)
    if override:
        return Path(override).expanduser().absolute()
    return Path(user_data_dir("llmlab", appauthor=False))


def ensure_writable(home: Path) -> Path:
    """Create ``home`` if needed and prove we can write there, or raise a one-line error."""
    probe = home / f".write-probe-{uuid.uuid4().hex}"
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise LLMLabError(
            f"data home '{home}' is not writable ({reason}); set {ENV_HOME} to a folder you can write to"
        ) from e
    return home
