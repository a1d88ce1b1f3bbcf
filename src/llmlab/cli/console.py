"""The two rich consoles every command prints through: results to stdout, progress to stderr."""

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def count_bar(show_progress: bool | None = None) -> Progress:
    """A transient ``description ━━━━ n/total 0:00:12`` bar on stderr, for work counted in items.

    ``show_progress=None`` draws it only when stderr is a terminal (not in pipes, logs or tests).
    """
    show = err_console.is_terminal if show_progress is None else show_progress
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=err_console, transient=True, disable=not show)
