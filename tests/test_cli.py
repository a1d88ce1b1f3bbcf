"""The `llmlab` command as a user meets it: help, version, one-line errors, the asset verbs."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

import llmlab
import llmlab.assets.catalog as catalog_mod
from fake_servers import FakeServer
from llmlab.assets.catalog import Asset, FileSpec, PyPISource
from llmlab.cli.main import app, main
from llmlab.errors import AssetError

TOY = Asset(
    "toy-corpus", "a toy corpus", "corpus", PyPISource("toy-corpus", "1.0", "wheel"), "CC0-1.0",
    "tests", (FileSpec("toy_corpus/*.txt", strip="toy_corpus/"),), default=True,
)  # fmt: skip


@pytest.fixture
def toy_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as s:
        s.add_wheel("toy-corpus", "1.0", {"toy_corpus/a.txt": b"to be or not to be\n" * 50})
        monkeypatch.setenv("LLMLAB_INDEX_URL", s.index_url)
        monkeypatch.setattr(catalog_mod, "CATALOG", (TOY,))
        yield s


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys) -> None:
    assert run(capsys, "--version") == (0, f"llmlab {llmlab.__version__}\n", "")


def test_help_lists_stage_groups(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for group in ("assets", "data", "quickstart"):
        assert re.search(rf"│ {group}\s", out), group


def _leaf_commands(cmd, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            yield from _leaf_commands(sub, (*path, name))
    else:
        yield path, cmd


def _parse(root, path: tuple[str, ...], argv: list[str]) -> None:
    """Parse an example's arguments as `llmlab` would, without running it (raises if bad)."""
    cmd = root
    for name in path:
        cmd = cmd.commands[name]
    cmd.make_context(" ".join(("llmlab", *path)), list(argv))


def test_every_command_has_a_runnable_example() -> None:
    root = typer.main.get_command(app)
    leaves = list(_leaf_commands(root))
    assert len(leaves) >= 8
    for path, cmd in leaves:
        examples = re.findall(r"\[bold\](llmlab [^\[]+)\[/bold\]", cmd.epilog or "")
        assert examples, f"`llmlab {' '.join(path)}` has no example in its help"
        for example in examples:
            argv = shlex.split(example)[1:]
            assert argv[: len(path)] == list(path), f"example {example!r} is not for {path}"
            _parse(root, path, argv[len(path) :])


def test_unknown_asset_is_one_line_error(capsys) -> None:
    code, out, err = run(capsys, "assets", "pull", "shakespear")
    assert code == 1
    assert err == "error: unknown asset 'shakespear': did you mean shakespeare? see `llmlab assets list`\n"


def test_debug_shows_the_traceback() -> None:
    with pytest.raises(AssetError, match="unknown asset"):
        main(["assets", "pull", "--debug", "shakespear"])


def test_usage_error_exits_2(capsys) -> None:
    code, _, err = run(capsys, "assets", "pull", "--bogus")
    assert code == 2
    assert "No such option: --bogus" in err


def test_pull_verify_flip_repair_through_the_cli(toy_index: FakeServer, isolated: Path, capsys) -> None:
    code, out, err = run(capsys, "assets", "pull", "--all")
    assert code == 0, err
    assert re.search(r"✓ toy-corpus\s+pulled\s+1 files", out + err)
    code, out, _ = run(capsys, "assets", "verify")
    assert code == 0 and "1 asset(s) intact" in out and "CC0-1.0" in out
    target = isolated / "assets" / "toy-corpus" / "a.txt"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x20
    target.write_bytes(bytes(data))
    code, out, err = run(capsys, "assets", "verify")
    assert code == 1
    assert "modified" in out
    assert err == "error: 1 asset(s) not intact; repair with: llmlab assets pull toy-corpus\n"
    code, out, err = run(capsys, "assets", "pull", "toy-corpus")
    assert code == 0 and "repaired" in out + err
    assert run(capsys, "assets", "verify")[0] == 0
    code, out, _ = run(capsys, "assets", "path", "toy-corpus", "a.txt")
    assert (code, out) == (0, f"{target}\n")
    code, _, err = run(capsys, "assets", "path", "toy-corpus", "b.txt")
    assert (code, err) == (1, "error: asset 'toy-corpus' has no file 'b.txt'; it has: a.txt\n")


def test_list_and_licenses(toy_index: FakeServer, capsys) -> None:
    code, out, _ = run(capsys, "assets", "list")
    assert code == 0 and "toy-corpus" in out and "not pulled" in out
    code, out, _ = run(capsys, "assets", "licenses")
    assert code == 0 and "CC0-1.0" in out and "toy-corpus==1.0" in out
    code, _, err = run(capsys, "assets", "list", "--kind", "nonsense")
    assert code == 1 and err.startswith("error: unknown kind 'nonsense'; choose one of: corpus")


def test_path_of_missing_asset_names_the_command(toy_index: FakeServer, capsys) -> None:
    code, _, err = run(capsys, "assets", "path", "toy-corpus")
    assert code == 1
    assert (
        err == "error: asset 'toy-corpus' is not pulled yet; fetch it with: llmlab assets pull toy-corpus\n"
    )


def test_pull_with_no_network(isolated: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(catalog_mod, "CATALOG", (TOY,))
    monkeypatch.setenv("LLMLAB_INDEX_URL", "http://127.0.0.1:9/simple")
    code, _, err = run(capsys, "assets", "pull", "toy-corpus")
    assert code == 1
    assert err.startswith(
        "error: asset 'toy-corpus': cannot reach the server (no network?); when online, run `llmlab assets pull toy-corpus`"
    )
    assert err.count("\n") == 1


def test_unwritable_home(monkeypatch, tmp_path: Path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("LLMLAB_HOME", str(tmp_path / "file" / "home"))
    code, _, err = run(capsys, "assets", "pull", "shakespeare")
    assert code == 1
    assert err.startswith(f"error: data home '{tmp_path / 'file' / 'home'}' is not writable")
    assert err.count("\n") == 1


def test_quickstart_pulls_defaults_and_prints_inventory(
    toy_index: FakeServer, isolated: Path, capsys
) -> None:
    code, out, err = run(capsys, "quickstart", "--setup-only")
    assert code == 0, err
    squeezed = "".join(out.split())  # rich wraps long paths at the terminal width
    assert "Datahome:" + "".join(str(isolated).split()) in squeezed
    assert "1 of 1 assets present" in out
    assert "toy-corpus" in out and "CC0-1.0" in out
    assert (isolated / "assets" / "toy-corpus" / "manifest.json").exists()
