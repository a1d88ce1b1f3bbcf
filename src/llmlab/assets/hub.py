"""Online-only sources: model and dataset repositories on the Hugging Face hub.

These need a network and are never used unless the user names them (``llmlab assets pull
tinystories`` or ``hf:owner/model``). Files come from ``<endpoint>/<repo>/resolve/<rev>/<path>``
(``datasets/<repo>`` for datasets); a whole-repo pull lists files through ``/api/...`` and keeps
only formats that cannot run code: safetensors, JSON, text, SentencePiece models, parquet.
Pickled weights (``.bin``, ``.pt``, ``.ckpt``, ``.pkl``) are never fetched.

``LLMLAB_HF_ENDPOINT`` (or the hub's own ``HF_ENDPOINT``) points at a mirror or a local fake;
``HF_TOKEN`` is sent for gated repos.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from pathlib import Path, PurePosixPath

from llmlab.assets.catalog import HubSource
from llmlab.assets.transfer import Progress, download, get
from llmlab.errors import AssetError

DEFAULT_ENDPOINT = "https://huggingface.co"
SAFE_SUFFIXES = (
    ".safetensors", ".json", ".txt", ".model", ".tiktoken", ".md",
    ".parquet", ".jsonl", ".csv", ".tsv", ".arrow",
)  # fmt: skip
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Hub:
    """Lists and downloads files of one hub repo at a time."""

    def __init__(self, endpoint: str | None = None, token: str | None = None) -> None:
        self.endpoint = (
            endpoint
            or os.environ.get("LLMLAB_HF_ENDPOINT")
            or os.environ.get("HF_ENDPOINT")
            or DEFAULT_ENDPOINT
        ).rstrip("/")
        self.token = token if token is not None else os.environ.get("HF_TOKEN")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def info(self, source: HubSource, asset: str) -> dict:
        """The repo's API record: its files ("siblings"), commit sha and card data."""
        kind = "datasets" if source.repo_type == "dataset" else "models"
        rev = urllib.parse.quote(source.revision, safe="")
        url = f"{self.endpoint}/api/{kind}/{source.repo}/revision/{rev}"
        body, _ = get(url, asset, accept="application/json", headers=self._headers())
        try:
            return json.loads(body)
        except ValueError as e:
            raise AssetError(
                f"asset '{asset}': the hub answered {url} with something that is not JSON"
            ) from e

    def files_to_fetch(self, source: HubSource, asset: str) -> tuple[list[str], dict]:
        """Paths to download: the source's own list, or every safe file the repo lists."""
        info = self.info(source, asset) if not source.files else {}
        if source.files:
            return list(source.files), info
        names = [s["rfilename"] for s in info.get("siblings", [])]
        keep = [n for n in names if n.endswith(SAFE_SUFFIXES) and not PurePosixPath(n).name.startswith(".")]
        if not keep:
            raise AssetError(
                f"asset '{asset}': repo {source.repo} has no safetensors, JSON or text files to fetch"
            )
        return keep, info

    def download(
        self, source: HubSource, out_dir: Path, asset: str, progress: Progress | None = None
    ) -> dict:
        """Fetch every file into ``out_dir``; return provenance (endpoint, commit, licence)."""
        paths, info = self.files_to_fetch(source, asset)
        prefix = "datasets/" if source.repo_type == "dataset" else ""
        rev = urllib.parse.quote(source.revision, safe="")
        commit = info.get("sha")
        for rel in paths:
            p = PurePosixPath(rel)
            if p.is_absolute() or ".." in p.parts:
                raise AssetError(f"asset '{asset}': refusing unsafe hub path {rel!r}")
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            url = f"{self.endpoint}/{prefix}{source.repo}/resolve/{rev}/{urllib.parse.quote(rel)}"
            headers, sha256 = download(url, target, asset, progress, headers=self._headers())
            # The hub puts an LFS file's sha256 in X-Linked-Etag; a plain ETag may be a git sha1.
            etag = (headers.get("X-Linked-Etag") or "").strip('"')
            if _SHA256.match(etag) and sha256 != etag:
                raise AssetError(f"asset '{asset}': {rel} does not match the sha256 the hub published")
            commit = commit or headers.get("X-Repo-Commit")
        card = info.get("cardData") or {}
        licence = card.get("license") or next(
            (t.split(":", 1)[1] for t in info.get("tags", []) if t.startswith("license:")), None
        )
        return {"endpoint": self.endpoint, "commit": commit, "licence": licence}
