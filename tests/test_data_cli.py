"""``llmlab data list|show`` through Typer's test runner, on synthetic assets."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import install_asset
from llmlab import data
from llmlab.cli.data import app
from llmlab.errors import LLMLabError

runner = CliRunner()
EXAMPLE = "llmlab data show movie-reviews --split test --limit 3"


@pytest.fixture
def movies(isolated: Path) -> Path:
    lines = [f"{i}\t{(-1) ** i * 2.0}\t[bold]review[/bold] number {i}" for i in range(1, 21)]
    return install_asset(
        isolated, "movie-reviews", {"movieReviewSnippets_GroundTruth.txt": "\r\n".join(lines)}
    )


def test_list_names_every_dataset() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for info in data.list_datasets():
        assert info.name in result.output
    assert "(online" in result.output  # tinystories and imdb need a network


def test_show_prints_counts_labels_and_preview(movies: Path) -> None:
    result = runner.invoke(app, ["show", "movie-reviews", "--split", "test", "--limit", "2"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Records per split" in out and "Labels per split" in out
    ds = data.load("movie-reviews")
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines()]
    for split, count in ds.counts().items():
        assert [split, str(count)] in rows
    for label in ("neg", "pos"):
        assert [label, *(str(n) for n in _label_row(ds, label))] in rows
    first_two = ds.split("test")[:2]
    for record in first_two:
        assert f"{record.id} " in out
    assert "[bold]review[/bold]" in out  # data is printed as text, never read as rich markup
    assert "First 2 records of test" in out


def _label_row(ds: data.Dataset, label: str) -> list[int]:
    return [ds.label_counts(s).get(label, 0) for s in ("train", "validation", "test", "all")]


def test_show_other_seed_previews_other_records(movies: Path) -> None:
    a = runner.invoke(app, ["show", "movie-reviews", "--split", "test", "--seed", "1"]).output
    b = runner.invoke(app, ["show", "movie-reviews", "--split", "test", "--seed", "2"]).output
    assert a != b


def test_show_limit_zero_prints_no_preview(movies: Path) -> None:
    result = runner.invoke(app, ["show", "movie-reviews", "--limit", "0"])
    assert result.exit_code == 0 and "First" not in result.output


def test_show_unknown_dataset_raises_the_one_line_error() -> None:
    result = runner.invoke(app, ["show", "movie-review"])
    assert isinstance(result.exception, LLMLabError)
    assert (
        str(result.exception)
        == "unknown dataset 'movie-review': did you mean movie-reviews? see `llmlab data list`"
    )


def test_show_unknown_split(movies: Path) -> None:
    result = runner.invoke(app, ["show", "movie-reviews", "--split", "dev"])
    assert isinstance(result.exception, LLMLabError)
    assert "choose one of train, validation, test, all" in str(result.exception)


@pytest.mark.parametrize(
    ("args", "example"), [(["show", "--help"], EXAMPLE), (["list", "--help"], "llmlab data list")]
)
def test_help_has_a_runnable_example(args: list[str], example: str) -> None:
    result = runner.invoke(app, args, env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert example in result.output


def test_root_cli_prints_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    main = pytest.importorskip("llmlab.cli.main", reason="the root CLI does not import yet").main
    assert main(["data", "show", "movie-review"]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "error: unknown dataset 'movie-review': did you mean movie-reviews? see `llmlab data list`"
    )


def test_show_corpus_has_no_label_table_and_one_line_cells(isolated: Path) -> None:
    works = {f"w{i}_gut.txt": f"WORK {i}\n\nFirst line.\nSecond line.\n" for i in range(5)}
    install_asset(isolated, "shakespeare", works)
    result = runner.invoke(app, ["show", "shakespeare", "--split", "all", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "Labels per split" not in result.output
    assert "WORK 0 First line. Second line." in result.output
