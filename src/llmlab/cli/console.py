"""The two rich consoles every command prints through: results to stdout, progress to stderr."""

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
