"""Entry point of the ``llmlab`` command.

Every stage adds one Typer sub-app here (``llmlab assets ...``, ``llmlab data ...``). A user
error (:class:`~llmlab.errors.LLMLabError`) prints one line, ``error: ...``, and exits with 1;
``--debug`` (anywhere on the line) shows the full traceback instead. Usage mistakes exit 2;
any other exception is a bug and shows its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.text import Text

import llmlab
from llmlab.cli import assets as assets_cli
from llmlab.cli import compare as compare_cli
from llmlab.cli import data as data_cli
from llmlab.cli import embeddings as embeddings_cli
from llmlab.cli import generate as generate_cli
from llmlab.cli import models as models_cli
from llmlab.cli import path as path_cli
from llmlab.cli import tokenizer as tokenizer_cli
from llmlab.cli import train as train_cli
from llmlab.cli.console import err_console
from llmlab.cli.quickstart import quickstart
from llmlab.errors import LLMLabError

app = typer.Typer(
    name="llmlab",
    help="Learn how large language models work by building and running every piece, offline.",
    epilog="Example: [bold]llmlab quickstart[/bold]   (then: llmlab assets list)",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(assets_cli.app, name="assets")
app.add_typer(data_cli.app, name="data")
app.add_typer(tokenizer_cli.app, name="tokenizer")
app.add_typer(models_cli.app, name="models")
app.add_typer(embeddings_cli.app, name="embeddings")
app.add_typer(path_cli.app, name="path")
app.add_typer(path_cli.notes_app, name="notes")
app.add_typer(path_cli.report_app, name="report")
app.command(epilog="Example: [bold]llmlab quickstart[/bold]")(quickstart)
app.command(
    "generate",
    epilog="Examples:\n\n[bold]llmlab generate 'Once upon a time' --temperature 0.8 --top-p 0.9 --seed 1[/bold]"
    "\n\n[bold]llmlab generate 'The capital of France is' --temperature 0 --show-top 5 --max-tokens 4[/bold]",
)(generate_cli.generate_command)
app.command(
    "train",
    epilog="Examples:\n\n[bold]llmlab train --preset gpt2-debug --steps 200 --seq-len 64 --batch-size 8[/bold]"
    "\n\n[bold]llmlab train --preset gpt-mini --time-budget 600 --out runs/mini[/bold]"
    "\n\n[bold]llmlab train --resume runs/mini[/bold]   (after a crash or Ctrl-C)"
    "\n\n[bold]torchrun --nproc-per-node 2 -m llmlab train --preset gpt2-debug --steps 20 --device cpu[/bold]"
    "   (two processes, DDP; add --fsdp to shard)",
)(train_cli.train_command)
app.command(
    "chat",
    epilog="Examples:\n\n[bold]llmlab chat[/bold]\n\n[bold]llmlab chat --message 'Give me three facts about owls'[/bold]",
)(generate_cli.chat_command)
app.command(
    "compare-architectures",
    epilog="Examples:\n\n[bold]llmlab compare-architectures[/bold]   (4 x 1.5 min of training, plus evaluation)"
    "\n\n[bold]llmlab compare-architectures --archs lstm,gpt --minutes-each 3 --out runs/lstm-vs-gpt[/bold]",
)(compare_cli.compare_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmlab {llmlab.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    """llmlab: tokenizers, embeddings, transformers, training and more, each built from scratch
    and checked against its production twin."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``llmlab`` calls ``sys.exit`` with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accept --debug anywhere, not only right after `llmlab`
        args = [a for a in args if a != "--debug"]
    try:
        # standalone mode: Typer prints usage errors itself (exit 2) and turns --help,
        # --version and typer.Exit into SystemExit; everything else propagates to here.
        app(args=args, prog_name="llmlab")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except LLMLabError as e:
        if debug:
            raise
        err_console.print(
            Text.assemble(("error: ", "bold red"), " ".join(str(e).split("\n"))), soft_wrap=True
        )
        return 1
    return 0
