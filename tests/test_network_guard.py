"""The test harness itself: no test may reach the network, loopback stays usable."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from conftest import NetworkBlockedError
from fake_servers import FakeServer
from llmlab.assets import AssetStore


def test_connect_to_public_address_is_blocked() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkBlockedError, match="tried to connect to"):
            s.connect(("93.184.216.34", 80))
        with pytest.raises(NetworkBlockedError):
            s.connect_ex(("10.0.0.1", 80))  # private ranges are not loopback either
    finally:
        s.close()


def test_name_lookup_is_blocked() -> None:
    with pytest.raises(NetworkBlockedError, match="tried to resolve 'pypi.org'"):
        socket.getaddrinfo("pypi.org", 443)


def test_loopback_still_works() -> None:
    with FakeServer() as server:
        server.add_wheel("x", "1.0", {"x/a": b"1"})
        with urllib.request.urlopen(f"{server.index_url}/x/") as r:
            assert b"x-1.0-py3-none-any.whl" in r.read()


def test_default_hub_endpoint_is_stopped_by_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(urllib.request, "_opener", None)  # urlopen caches proxies: rebuild it
    with pytest.raises(NetworkBlockedError):
        AssetStore().pull(["tinystories"])


def test_each_test_gets_a_private_home_and_cwd(isolated: Path, tmp_path: Path) -> None:
    assert AssetStore().home == isolated
    assert " " in isolated.name  # a path with spaces, everywhere
    assert Path.cwd() == tmp_path
