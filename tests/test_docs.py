"""Docs that must stay true: the README's two commands, CI, and the asset catalogue page."""

from __future__ import annotations

import re
from pathlib import Path

from llmlab.assets.catalog import CATALOG

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("llmlab quickstart")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_and_nothing_else() -> None:
    lines = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', _readme_commands()[1]]


def test_assets_page_and_readme_cover_the_catalogue() -> None:
    page = (ROOT / "docs" / "assets.md").read_text()
    for asset in CATALOG:
        assert f"| `{asset.name}` |" in page, f"docs/assets.md does not list {asset.name}"
    registry_assets = [a for a in CATALOG if not a.online_only]
    assert f"{len(registry_assets)} assets" in (ROOT / "README.md").read_text()


def test_every_doc_link_points_to_a_file() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"
