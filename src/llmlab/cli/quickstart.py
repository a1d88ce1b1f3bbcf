"""``llmlab quickstart``: the executable table of contents.

Today it makes sure the default assets are on disk and shows the inventory: what is there,
how big, under which licence, and what each asset is for. Later stages add their steps here
(train a tokenizer, pretrain a small GPT, sample, chat), so a new user sees the whole path.
"""

from __future__ import annotations

from rich.table import Table

import llmlab
from llmlab.assets import AssetStore
from llmlab.assets.files import human_size
from llmlab.assets.store import default_assets
from llmlab.cli.assets import pull_with_progress, status_cell
from llmlab.cli.console import console


def quickstart() -> None:
    """Set up the offline lab: pull the default assets, then show what is available."""
    store = AssetStore()
    defaults = [a.name for a in default_assets()]
    console.rule(f"llmlab {llmlab.__version__} quickstart")
    console.print(f"Data home: [bold]{store.home}[/bold]  (set LLMLAB_HOME to move it)\n")
    console.print(f"[bold]Step 1/2[/bold]  pulling the default assets: {', '.join(defaults)}")
    pull_with_progress(store, defaults)

    console.print("\n[bold]Step 2/2[/bold]  inventory")
    table = Table(show_lines=False)
    for col in ("asset", "status", "size", "licence", "used for"):
        table.add_column(col, overflow="fold")
    present = 0
    total = 0
    for asset in store.known():
        check = store.check(asset, deep=False)
        size = check.manifest.total_bytes if check.manifest else asset.approx_bytes
        if check.ok:
            present += 1
            total += size
        table.add_row(asset.name, status_cell(check), human_size(size), asset.licence, asset.used_for)
    console.print(table)
    console.print(
        f"{present} of {len(store.known())} assets present ({human_size(total)}). "
        "Pull the rest with [bold]llmlab assets pull --all[/bold]; check them with "
        "[bold]llmlab assets verify[/bold]."
    )
    console.print("Next: [bold]llmlab data show shakespeare[/bold] to look at the pretraining corpus.")
