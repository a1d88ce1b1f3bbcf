"""HTTP GET and streamed downloads with the errors a user can act on.

Downloads stream to ``<target>.part`` and are renamed into place only when complete and,
where the server published one, only when the sha256 matches. A broken connection, a
truncated body or a refused connection each becomes one :class:`AssetError` line.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from llmlab.errors import AssetError

Progress = Callable[[int, "int | None"], None]  # (bytes so far, total bytes or None)
TIMEOUT_S = 60


def offline_hint(asset: str) -> str:
    """The sentence every 'no network' error ends with."""
    return f"cannot reach the server (no network?); when online, run `llmlab assets pull {asset}`"


def _request(url: str, accept: str | None, headers: dict[str, str] | None) -> urllib.request.Request:
    h = {"User-Agent": "llmlab-asset-manager"}
    if accept:
        h["Accept"] = accept
    h.update(headers or {})
    return urllib.request.Request(url, headers=h)


def _error(asset: str, url: str, e: Exception) -> AssetError:
    if isinstance(e, urllib.error.HTTPError):
        return AssetError(f"asset '{asset}': {url} answered HTTP {e.code} {e.reason}")
    if isinstance(e, http.client.HTTPException):
        return AssetError(
            f"asset '{asset}': the download of {url} broke off ({type(e).__name__}); pull again"
        )
    reason = getattr(e, "reason", None) or e
    return AssetError(f"asset '{asset}': {offline_hint(asset)} ({reason})")


def get(
    url: str, asset: str, accept: str | None = None, headers: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """Body and Content-Type of a small resource (an index page, an API answer)."""
    try:
        with urllib.request.urlopen(_request(url, accept, headers), timeout=TIMEOUT_S) as r:
            return r.read(), r.headers.get("Content-Type", "")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise _error(asset, url, e) from e


def download(
    url: str,
    target: Path,
    asset: str,
    progress: Progress | None = None,
    expected_sha256: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, str], str]:
    """Stream ``url`` to ``target`` atomically; return the response headers and the sha256."""
    part = target.with_name(target.name + ".part")
    h = hashlib.sha256()
    try:
        with (
            urllib.request.urlopen(_request(url, None, headers), timeout=TIMEOUT_S) as r,
            open(part, "wb") as f,
        ):
            total = int(r.headers.get("Content-Length") or 0) or None
            done = 0
            while chunk := r.read(1 << 16):
                f.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
            response_headers = dict(r.headers.items())
        if total is not None and done != total:
            raise AssetError(
                f"asset '{asset}': the download of {url} stopped after {done} of {total} bytes; pull again"
            )
        if expected_sha256 and h.hexdigest() != expected_sha256.lower():
            raise AssetError(
                f"asset '{asset}': {target.name} does not match the sha256 the server published; "
                "the download is damaged, pull again"
            )
        os.replace(part, target)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise _error(asset, url, e) from e
    finally:
        part.unlink(missing_ok=True)
    return response_headers, h.hexdigest()
