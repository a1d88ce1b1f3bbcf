"""Pulling, verifying and repairing assets against a fake package index on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmlab.assets.catalog as catalog_mod
from fake_servers import FakeServer, make_tar_gz
from llmlab.assets import AssetStore
from llmlab.assets.catalog import Asset, FileSpec, PyPISource
from llmlab.assets.manifest import content_digest, record_files
from llmlab.assets.registry import Registry
from llmlab.errors import AssetError

WHEEL_FILES = {"toy_pkg/data/a.txt": b"alpha\n", "toy_pkg/data/b.txt": b"beta\n" * 1000, "toy_pkg/x.py": b""}
INNER = make_tar_gz({"inner/wanted.tsv": b"1\t2.5\tgood\r\n", "inner/skip.txt": b"no"})
SDIST_FILES = {"res/bundle.tar.gz": INNER, "texts/poem_gut.txt": b"Shall I compare thee\n"}

TOY_WHEEL = Asset(
    "toy-wheel", "toy wheel asset", "corpus", PyPISource("toy-pkg", "1.0", "wheel"), "MIT", "tests",
    (FileSpec("toy_pkg/data/*.txt", strip="toy_pkg/data/"),),
)  # fmt: skip
TOY_SDIST = Asset(
    "toy-sdist", "toy sdist asset", "labelled", PyPISource("Toy_Sdist", "2.0", "sdist"), "Apache-2.0", "tests",
    (FileSpec("texts/*_gut.txt", strip="texts/"), FileSpec("res/bundle.tar.gz", strip="inner/", inner="inner/wanted.tsv")),
)  # fmt: skip


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as s:
        s.add_wheel("toy-pkg", "1.0", WHEEL_FILES)
        s.add_sdist("Toy_Sdist", "2.0", SDIST_FILES)
        monkeypatch.setenv("LLMLAB_INDEX_URL", s.index_url)
        monkeypatch.setattr(catalog_mod, "CATALOG", (TOY_WHEEL, TOY_SDIST))
        yield s


def store(home: Path) -> AssetStore:
    return AssetStore(home, registry=Registry(pip_retries=0))


def test_pull_wheel_with_pip_records_manifest(server: FakeServer, isolated: Path) -> None:
    [r] = store(isolated).pull(["toy-wheel"])
    assert r.action == "pulled"
    folder = isolated / "assets" / "toy-wheel"
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.txt", "manifest.json"]
    assert (folder / "b.txt").read_bytes() == WHEEL_FILES["toy_pkg/data/b.txt"]
    m = r.manifest
    assert m.source["package"] == "toy-pkg" and m.source["version"] == "1.0" and m.source["dist"] == "wheel"
    assert m.source["archive"] == "toy_pkg-1.0-py3-none-any.whl" and len(m.source["archive_sha256"]) == 64
    assert m.licence == "MIT"
    assert [(f.path, f.size) for f in m.files] == [("a.txt", 6), ("b.txt", 5000)]
    assert store(isolated).check(TOY_WHEEL).ok
    assert not list((isolated / "staging").iterdir())  # downloads and work folders are gone


def test_pull_sdist_without_running_it_and_nested_archive(server: FakeServer, isolated: Path) -> None:
    [r] = store(isolated).pull(["toy-sdist"])
    folder = isolated / "assets" / "toy-sdist"
    assert (folder / "poem_gut.txt").read_text() == "Shall I compare thee\n"
    assert (folder / "wanted.tsv").read_bytes() == b"1\t2.5\tgood\r\n"
    assert not (folder / "skip.txt").exists()
    assert r.manifest.source["archive"] == "Toy_Sdist-2.0.tar.gz"
    # the sdist came straight from the index, not through pip
    assert "/files/Toy_Sdist-2.0.tar.gz" in server.requests


def test_second_pull_is_a_no_op(server: FakeServer, isolated: Path) -> None:
    s = store(isolated)
    s.pull(["toy-wheel"])
    n = len(server.requests)
    [r] = s.pull(["toy-wheel"])
    assert r.action == "present"
    assert len(server.requests) == n


def test_flipped_byte_fails_verify_and_pull_repairs(server: FakeServer, isolated: Path) -> None:
    s = store(isolated)
    s.pull(["toy-wheel"])
    target = isolated / "assets" / "toy-wheel" / "b.txt"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    assert s.check(TOY_WHEEL, deep=False).ok  # same size: only hashing can tell
    [c] = s.verify(["toy-wheel"])
    assert (c.status, c.detail) == ("modified", "b.txt does not match its sha256")
    [r] = s.pull(["toy-wheel"])
    assert r.action == "repaired"
    assert target.read_bytes() == WHEEL_FILES["toy_pkg/data/b.txt"]
    assert s.verify(["toy-wheel"])[0].ok


def test_truncated_and_deleted_files_are_reported(server: FakeServer, isolated: Path) -> None:
    s = store(isolated)
    s.pull(["toy-wheel"])
    folder = isolated / "assets" / "toy-wheel"
    (folder / "b.txt").write_bytes(b"beta\n")
    c = s.verify(["toy-wheel"])[0]
    assert (c.status, c.detail) == ("truncated", "b.txt has 5 bytes, expected 5000")
    (folder / "a.txt").unlink()
    assert s.verify(["toy-wheel"])[0].status == "incomplete"
    with pytest.raises(
        AssetError, match=r"is damaged \(a.txt is missing\); fetch it with: llmlab assets pull toy-wheel"
    ):
        s.path("toy-wheel")


def test_failure_during_pull_leaves_nothing_usable(server: FakeServer, isolated: Path, monkeypatch) -> None:
    import llmlab.assets.store as store_mod

    def boom(*a, **k):
        raise RuntimeError("killed while hashing")

    monkeypatch.setattr(store_mod, "record_files", boom)
    with pytest.raises(RuntimeError):
        store(isolated).pull(["toy-wheel"])
    assert not (isolated / "assets" / "toy-wheel").exists()
    assert store(isolated).verify(["toy-wheel"])[0].status == "missing"


def test_digest_pin_refuses_different_bytes(server: FakeServer, isolated: Path, monkeypatch) -> None:
    good = content_digest(record_files_of(WHEEL_FILES))
    pinned_ok = Asset(**{**TOY_WHEEL.__dict__, "digest": good})
    pinned_bad = Asset(**{**TOY_WHEEL.__dict__, "name": "toy-bad", "digest": "0" * 64})
    monkeypatch.setattr(catalog_mod, "CATALOG", (pinned_ok, pinned_bad))
    assert store(isolated).pull(["toy-wheel"])[0].action == "pulled"
    with pytest.raises(AssetError, match="differ from the ones llmlab was tested with"):
        store(isolated).pull(["toy-bad"])
    assert not (isolated / "assets" / "toy-bad").exists()


def record_files_of(files: dict[str, bytes]):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        names = []
        for k, v in files.items():
            if k.startswith("toy_pkg/data/"):
                (Path(d) / k.removeprefix("toy_pkg/data/")).write_bytes(v)
                names.append(k.removeprefix("toy_pkg/data/"))
        return record_files(Path(d), names)


def test_corrupt_wheel_from_registry(server: FakeServer, isolated: Path) -> None:
    server.packages["toy-pkg"] = {}
    server.add_file("toy-pkg", "toy_pkg-1.0-py3-none-any.whl", os.urandom(4000))
    with pytest.raises(AssetError) as e:
        store(isolated).pull(["toy-wheel"])
    msg = str(e.value)
    assert msg.startswith("asset 'toy-wheel': the wheel of toy-pkg==1.0 (wheel) from the registry is corrupt")
    assert "\n" not in msg
    assert not (isolated / "assets" / "toy-wheel").exists()


def test_corrupt_sdist_from_registry(server: FakeServer, isolated: Path) -> None:
    server.packages["toy-sdist"] = {}
    server.add_file("Toy_Sdist", "Toy_Sdist-2.0.tar.gz", b"\x1f\x8b" + os.urandom(4000))
    with pytest.raises(AssetError) as e:
        store(isolated).pull(["toy-sdist"])
    msg = str(e.value)
    assert msg.startswith("the sdist Toy_Sdist-2.0.tar.gz for asset 'toy-sdist' is corrupt or unreadable")
    assert "\n" not in msg


def test_sdist_that_does_not_match_the_index_hash_is_refused(server: FakeServer, isolated: Path) -> None:
    server.hash_override["Toy_Sdist-2.0.tar.gz"] = "f" * 64  # a damaged mirror: bytes and hash disagree
    with pytest.raises(
        AssetError, match=r"Toy_Sdist-2.0.tar.gz does not match the sha256 the server published"
    ):
        store(isolated).pull(["toy-sdist"])
    assert not (isolated / "assets" / "toy-sdist").exists()


def test_no_network_names_asset_and_command(isolated: Path, monkeypatch) -> None:
    monkeypatch.setattr(catalog_mod, "CATALOG", (TOY_WHEEL, TOY_SDIST))
    monkeypatch.setenv("LLMLAB_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    for name in ("toy-wheel", "toy-sdist"):
        with pytest.raises(AssetError) as e:
            store(isolated).pull([name])
        msg = str(e.value)
        assert msg.startswith(f"asset '{name}': cannot reach the server (no network?)"), msg
        assert f"run `llmlab assets pull {name}`" in msg
        assert "\n" not in msg


def test_missing_asset_offline_error(isolated: Path, monkeypatch) -> None:
    monkeypatch.setattr(catalog_mod, "CATALOG", (TOY_WHEEL,))
    monkeypatch.setenv("LLMLAB_OFFLINE", "1")
    with pytest.raises(AssetError) as e:
        AssetStore().require("toy-wheel")
    assert str(e.value) == (
        "asset 'toy-wheel' is not pulled yet; fetch it with: llmlab assets pull toy-wheel "
        "(LLMLAB_OFFLINE is set, so llmlab did not try)"
    )


def test_require_pulls_on_first_use(server: FakeServer, isolated: Path) -> None:
    folder = AssetStore(isolated).require("toy-wheel")
    assert (folder / "a.txt").read_text() == "alpha\n"


def test_unknown_asset_suggests_close_names(server: FakeServer, isolated: Path) -> None:
    with pytest.raises(
        AssetError, match=r"^unknown asset 'toy-whel': did you mean toy-wheel\? see `llmlab assets list`$"
    ):
        store(isolated).pull(["toy-whel"])


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    import llmlab.assets.catalog as c
    from llmlab.assets.catalog import Asset, FileSpec, PyPISource
    from llmlab.assets import AssetStore
    c.CATALOG = (Asset("toy-sdist", "t", "labelled", PyPISource("Toy_Sdist", "2.0", "sdist"), "MIT", "t",
                       (FileSpec("texts/*_gut.txt", strip="texts/"),)),)
    AssetStore().pull(["toy-sdist"])
    """
)


def test_pull_killed_midway_leaves_nothing_that_verify_or_a_loader_accepts(
    server: FakeServer, isolated: Path
) -> None:
    name = "Toy_Sdist-2.0.tar.gz"
    big = {"texts/big_gut.txt": os.urandom(400_000), **SDIST_FILES}
    server.packages["toy-sdist"] = {}
    server.add_sdist("Toy_Sdist", "2.0", big)
    server.stall[name] = 100_000  # send a quarter of the archive, then hang
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT], env=os.environ.copy())
    try:
        assert server.stalled.wait(timeout=60), "the pull never started downloading"
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    s = store(isolated)
    assert s.verify(["toy-sdist"])[0].status == "missing"
    with pytest.raises(AssetError, match="is not pulled yet"):
        s.path("toy-sdist")
    assert not (isolated / "assets" / "toy-sdist").exists()
    # what the killed pull left is only under staging/, and the next pull cleans it up
    assert any((isolated / "staging").iterdir())
    del server.stall[name]
    [r] = s.pull(["toy-sdist"])
    assert r.action == "pulled" and s.verify(["toy-sdist"])[0].ok
    assert not list((isolated / "staging").iterdir())
