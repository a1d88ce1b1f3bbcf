"""A fake package index and a fake model hub on loopback, for tests that must not go online.

``FakeServer`` answers like the real services do for the few routes llmlab uses:

* ``/simple/<project>/``: a PEP 503 project page (pip and our sdist client both read it);
* ``/files/<filename>``: the archives themselves;
* ``/api/{models,datasets}/<repo>/revision/<rev>`` and ``/[datasets/]<repo>/resolve/<rev>/<path>``:
  the hub's file listing and downloads.

Failure modes a test can switch on: ``stall`` (send part of a file, then hang until told to
stop, so a test can kill the client mid-download) and ``corrupt`` (bytes that are not an archive).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def make_wheel(package: str, version: str, files: dict[str, bytes]) -> tuple[str, bytes]:
    """A minimal but valid wheel holding ``files``; returns (filename, bytes)."""
    dist = f"{package.replace('-', '_')}-{version}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        z.writestr(
            f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
        )
        z.writestr(
            f"{dist}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        z.writestr(f"{dist}.dist-info/RECORD", "")
    return f"{dist}-py3-none-any.whl", buf.getvalue()


def make_tar_gz(files: dict[str, bytes], top: str | None = None) -> bytes:
    """A tar.gz of ``files``, all under the folder ``top`` when given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{top}/{path}" if top else path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_sdist(package: str, version: str, files: dict[str, bytes]) -> tuple[str, bytes]:
    """An sdist (tar.gz with a ``<name>-<version>/`` top folder); returns (filename, bytes)."""
    top = f"{package}-{version}"
    files = {"PKG-INFO": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode(), **files}
    return f"{top}.tar.gz", make_tar_gz(files, top)


class FakeServer:
    """Serve packages and hub repos from memory on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self.packages: dict[str, dict[str, bytes]] = {}  # normalized project -> filename -> bytes
        self.repos: dict[tuple[str, str], dict[str, bytes]] = {}  # (kind, repo) -> path -> bytes
        self.repo_info: dict[tuple[str, str], dict] = {}
        self.etags: dict[str, str] = {}  # hub path -> the sha256 to publish instead of the real one
        self.stall: dict[str, int] = {}  # filename or hub path -> bytes to send before hanging
        self.stalled = threading.Event()  # set once a stalled response has sent its part
        self.release = threading.Event()  # set to let stalled responses finish (by closing)
        self.hash_override: dict[str, str] = {}  # filename -> sha256 to publish instead of the real one
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- content ----------------------------------------------------------------------------
    def add_file(self, package: str, filename: str, data: bytes) -> None:
        self.packages.setdefault(normalize(package), {})[filename] = data

    def add_wheel(self, package: str, version: str, files: dict[str, bytes]) -> str:
        name, data = make_wheel(package, version, files)
        self.add_file(package, name, data)
        return name

    def add_sdist(self, package: str, version: str, files: dict[str, bytes]) -> str:
        name, data = make_sdist(package, version, files)
        self.add_file(package, name, data)
        return name

    def add_repo(self, kind: str, repo: str, files: dict[str, bytes], info: dict | None = None) -> None:
        self.repos[(kind, repo)] = files
        self.repo_info[(kind, repo)] = info or {}

    # -- addresses --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    # -- the HTTP side ----------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                path = unquote(self.path.split("?", 1)[0])
                fake.requests.append(path)
                routes = [
                    (r"/simple/([^/]+)/?", self._project_page),
                    (r"/files/([^/]+)", self._package_file),
                    (r"/api/(models|datasets)/(\w[\w.-]*/[\w.-]+)/revision/([^/]+)", self._repo_info),
                    (r"/(datasets/)?(\w[\w.-]*/[\w.-]+)/resolve/([^/]+)/(.+)", self._repo_file),
                ]
                for pattern, fn in routes:
                    m = re.fullmatch(pattern, path)
                    if m:
                        return fn(*m.groups())
                self.send_error(404)

            def _send(
                self, data: bytes, content_type: str, headers: dict[str, str] | None = None, key: str = ""
            ) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if key in fake.stall:
                    self.wfile.write(data[: fake.stall[key]])
                    self.wfile.flush()
                    fake.stalled.set()
                    fake.release.wait(timeout=60)
                    return
                self.wfile.write(data)

            def _project_page(self, project: str) -> None:
                files = fake.packages.get(normalize(project))
                if files is None:
                    return self.send_error(404)
                links = []
                for name, data in sorted(files.items()):
                    frag = f"#sha256={fake.hash_override.get(name) or hashlib.sha256(data).hexdigest()}"
                    links.append(f'<a href="../../files/{name}{frag}">{name}</a><br/>')
                page = "<!DOCTYPE html><html><body>" + "".join(links) + "</body></html>"
                self._send(page.encode(), "text/html")

            def _package_file(self, filename: str) -> None:
                for files in fake.packages.values():
                    if filename in files:
                        return self._send(files[filename], "application/octet-stream", key=filename)
                self.send_error(404)

            def _repo_info(self, kind: str, repo: str, revision: str) -> None:
                key = (kind.rstrip("s"), repo)
                if key not in fake.repos:
                    return self.send_error(404)
                siblings = [{"rfilename": p} for p in sorted(fake.repos[key])]
                body = {"id": repo, "sha": "0" * 40, "siblings": siblings, **fake.repo_info[key]}
                self._send(json.dumps(body).encode(), "application/json")

            def _repo_file(self, datasets: str | None, repo: str, revision: str, path: str) -> None:
                key = ("dataset" if datasets else "model", repo)
                data = fake.repos.get(key, {}).get(path)
                if data is None:
                    return self.send_error(404)
                etag = fake.etags.get(path, hashlib.sha256(data).hexdigest())
                headers = {"X-Linked-Etag": f'"{etag}"', "X-Repo-Commit": "1" * 40}
                self._send(data, "application/octet-stream", headers, key=path)

        return Handler
