"""Test harness: no network, no writes outside tmp_path, markers for slow/gpu/browser tests.

* Every socket connection to, or name lookup of, a non-loopback address fails the test.
* Subprocesses get proxy variables pointing at a closed loopback port and an empty pip
  configuration, so a child process cannot reach the internet either.
* ``LLMLAB_HOME`` points at a fresh folder under ``tmp_path`` and the working directory is
  ``tmp_path``, so nothing a test does lands in the repo or the user's data home.
* ``real_home`` gives read-only access to the user's real data home for tests that need real
  assets; they skip when an asset is missing, or fail under CI / ``LLMLAB_REQUIRE_ASSETS=1``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `from helpers import ...`

# transformers / sentence-transformers are the production twins of the model tests: they must
# never try the hub, and their caches go to a throwaway folder (read at import, so set it here)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="llmlab-test-hf-")

from llmlab.assets import AssetStore, get_asset  # noqa: E402
from llmlab.assets.home import data_home  # noqa: E402

REAL_HOME = data_home()  # resolved once, before any test changes LLMLAB_HOME


class NetworkBlockedError(RuntimeError):
    """Raised when a test tries to reach a non-loopback address."""


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already be network access


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_loopback((name,)):
        raise NetworkBlockedError(f"tests must not reach the network (tried to resolve {name!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkBlockedError(f"tests must not reach the network (tried to connect to {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkBlockedError(f"tests must not reach the network (tried to connect to {address!r})")
    return _real_connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo


def pytest_unconfigure(config: pytest.Config) -> None:
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data home and working directory; no way out to the network."""
    home = tmp_path / "llmlab home"  # subtle: a space in the path, on purpose, in every test
    monkeypatch.setenv("LLMLAB_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("PIP_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, dead)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,::1")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost,::1")
    monkeypatch.delenv("LLMLAB_INDEX_URL", raising=False)
    monkeypatch.delenv("LLMLAB_HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("LLMLAB_OFFLINE", raising=False)
    return home


def _real_asset_folder(name: str) -> Path:
    """The folder of a pulled real asset; skip (or fail under CI) when it is missing."""
    store = AssetStore(REAL_HOME)
    if not store.check(get_asset(name), deep=False).ok:
        msg = f"real asset '{name}' is not pulled in {REAL_HOME}: run `llmlab assets pull {name}`"
        if os.environ.get("LLMLAB_REQUIRE_ASSETS") == "1" or os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return store.folder(get_asset(name))


@pytest.fixture
def real_assets(monkeypatch: pytest.MonkeyPatch):
    """Switch this test to the user's real data home, read-only, and return ``need(*names)``.

    ``need`` skips the test when a named asset is not pulled (fails instead under CI or with
    ``LLMLAB_REQUIRE_ASSETS=1``: the README's test command pulls them all) and returns the folders.
    ``LLMLAB_OFFLINE=1`` is set, so nothing is ever pulled into the real home from a test, and
    ``LLMLAB_NO_RECORD=1``, so no lab run is recorded in the learner's learning path.
    """
    monkeypatch.setenv("LLMLAB_HOME", str(REAL_HOME))
    monkeypatch.setenv("LLMLAB_OFFLINE", "1")
    monkeypatch.setenv("LLMLAB_NO_RECORD", "1")  # a test's lab run never lands in the learner's path

    def need(*names: str) -> list[Path]:
        return [_real_asset_folder(name) for name in names]

    return need


@pytest.fixture(scope="session")
def real_home_path():
    """``folder(name)`` for module- or session-scoped fixtures that load a real asset once (read-only)."""
    return _real_asset_folder


@pytest.fixture
def one_thread():  # noqa: ANN201
    """One torch thread for this test: tiny matrices gain nothing from a thread pool, and on a busy
    2-core machine two threads mostly wait for each other (a test file opts in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
