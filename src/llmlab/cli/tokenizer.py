"""``llmlab tokenizer``: train, encode, compare and inspect tokenizers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table
from rich.text import Text

from llmlab.cli.console import console
from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer
from llmlab.tokenizers.registry import NAMED, load_tokenizer, save_tokenizer, with_impl

app = typer.Typer(
    help="Tokenizers: train BPE, WordPiece and Unigram; encode, compare and inspect any tokenizer.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

Algo = Literal["bpe", "wordpiece", "unigram"]
Impl = Literal["readable", "fast"]
PATTERNS = ("gpt2", "cl100k", "o200k")
COLOURS = ("on #264653", "on #2a6f4e", "on #6d597a", "on #8a5a44", "on #3d5a80", "on #7a4e2d")
ImplOption = Annotated[str, typer.Option("--impl", help="readable (Python you can read) or fast (compiled).")]


def _impl(value: str) -> Impl:
    if value not in ("readable", "fast"):
        raise LLMLabError(f"unknown --impl '{value}': choose readable or fast")
    return value  # type: ignore[return-value]


# -- showing tokens ---------------------------------------------------------------------------


def surface(tok: Tokenizer, token_id: int) -> str:
    """What a token stands for, with invisible characters made visible."""
    if token_id in tok.special_tokens.values():
        return tok.id_to_token(token_id)
    token_bytes = getattr(tok, "token_bytes", None)
    text = (
        token_bytes(token_id).decode("utf-8", errors="backslashreplace")
        if token_bytes
        else tok.id_to_token(token_id)
    )
    return text.replace(" ", "·").replace("\n", "↵").replace("\t", "→").replace("\r", "␍")


def unknown_ids(tok: Tokenizer) -> set[int]:
    """Ids that mean "unknown" for this tokenizer ([UNK], <unk>, a byte-level unk id)."""
    ids = {tok.token_to_id(t) for t in ("[UNK]", "<unk>")}
    ids.add(getattr(tok, "unk_id", None))
    return {i for i in ids if i is not None}


def coloured(tok: Tokenizer, ids: list[int]) -> Text:
    out = Text()
    specials = set(tok.special_tokens.values())
    for k, i in enumerate(ids):
        style = "bold yellow on #5c1a1a" if i in specials else f"white {COLOURS[k % len(COLOURS)]}"
        out.append(surface(tok, i), style=style)
    return out


def _text_arg(text: str | None, file: Path | None) -> str:
    if (text is None) == (file is None):
        raise LLMLabError("give the text as an argument or with --file, not both and not neither")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise LLMLabError(f"cannot read {file}: {e}") from None
    return text  # type: ignore[return-value]


# -- commands ---------------------------------------------------------------------------------


@app.command("list", epilog="Example: [bold]llmlab tokenizer list[/bold]")
def list_tokenizers() -> None:
    """The tokenizers you can load by name (any tokenizer.json, .model or vocab.txt path works too)."""
    table = Table(title="Named tokenizers", title_justify="left")
    table.add_column("name")
    table.add_column("what it is")
    for name, (about, _) in NAMED.items():
        table.add_row(name, about)
    console.print(table)


@app.command(
    epilog='Example: [bold]llmlab tokenizer encode "Hello world, tokenizers!" --tokenizer cl100k_base[/bold]'
)
def encode(
    text: Annotated[str | None, typer.Argument(help="The text to encode.")] = None,
    tokenizer: Annotated[
        str, typer.Option("--tokenizer", "-t", help="A name (llmlab tokenizer list) or a path.")
    ] = "gpt2",
    file: Annotated[Path | None, typer.Option(help="Encode this UTF-8 file instead.")] = None,
    allow_special: Annotated[bool, typer.Option(help="Encode special-token text as special tokens.")] = False,
    impl: ImplOption = "readable",
) -> None:
    """Show how a tokenizer splits text: coloured tokens (·=space ↵=newline →=tab), then ids."""
    source = _text_arg(text, file)
    tok = load_tokenizer(tokenizer, _impl(impl))
    policy = {"allowed_special": "all"} if allow_special else {"disallowed_special": ()}
    ids = tok.encode(source, **policy)  # type: ignore[arg-type]
    console.print(coloured(tok, ids))
    console.print(Text(" ".join(map(str, ids)), style="dim"))
    n_bytes = len(source.encode("utf-8"))
    ratio = f"{n_bytes / len(ids):.2f} bytes/token" if ids else "no tokens"
    console.print(f"{tok.name}: {len(ids)} tokens, {len(source)} characters, {n_bytes} bytes, {ratio}")


@app.command(
    epilog='Example: [bold]llmlab tokenizer compare "Tokenization costs money: 1234567!" '
    "--tokenizers gpt2,cl100k_base,bert-base-uncased --price-per-1k 0.5[/bold]"
)
def compare(
    text: Annotated[str | None, typer.Argument(help="The text to run through every tokenizer.")] = None,
    tokenizers: Annotated[
        str, typer.Option(help="Comma-separated names or paths.")
    ] = "gpt2,cl100k_base,o200k_base,smollm2,bert-base-uncased,botchan-unigram",
    file: Annotated[Path | None, typer.Option(help="Use this UTF-8 file as the text.")] = None,
    price_per_1k: Annotated[float, typer.Option(help="Price per 1,000 tokens, for the cost column.")] = 0.01,
) -> None:
    """One text through several tokenizers: tokens, bytes per token, unknown rate, cost."""
    source = _text_arg(text, file)
    if price_per_1k < 0:
        raise LLMLabError("--price-per-1k must be >= 0")
    names = [n.strip() for n in tokenizers.split(",") if n.strip()]
    if not names:
        raise LLMLabError("--tokenizers is empty")
    n_bytes = len(source.encode("utf-8"))
    table = Table(title=f"{len(source)} characters, {n_bytes} bytes", title_justify="left")
    for col in ("tokenizer", "tokens", "bytes/token", "unknown", "cost", "first tokens"):
        table.add_column(
            col, justify="right" if col in ("tokens", "bytes/token", "unknown", "cost") else "left"
        )
    counts: dict[str, int] = {}
    for name in names:
        tok = load_tokenizer(name)
        ids = tok.encode(source, disallowed_special=())
        unk = unknown_ids(tok)
        n_unk = sum(i in unk for i in ids)
        table.add_row(
            name,
            str(len(ids)),
            f"{n_bytes / len(ids):.2f}" if ids else "-",
            f"{n_unk / len(ids):.1%}" if ids else "-",
            f"{len(ids) / 1000 * price_per_1k:.4f}",
            coloured(tok, ids[:12]),
        )
        counts[name] = len(ids)
    console.print(table)
    from llmlab.path.results import record_run

    record_run("tokenizer-compare", f"llmlab tokenizer compare --tokenizers {','.join(names)}",
               {f"{n} tokens": c for n, c in counts.items()} | {"bytes": n_bytes})  # fmt: skip


@app.command(epilog="Example: [bold]llmlab tokenizer inspect gpt2 --top 15[/bold]")
def inspect(
    tokenizer: Annotated[str, typer.Argument(help="A name (llmlab tokenizer list) or a path.")],
    top: Annotated[int, typer.Option(help="How many merges and longest tokens to show.")] = 20,
) -> None:
    """Vocabulary size, special tokens, the first merges in order, and the longest tokens."""
    if top < 1:
        raise LLMLabError("--top must be at least 1")
    tok = load_tokenizer(tokenizer)
    console.print(f"[bold]{tok.name}[/bold] ({type(tok).__name__}): {tok.vocab_size:,} ids")
    if tok.special_tokens:
        shown = ", ".join(f"{t}={i}" for t, i in list(tok.special_tokens.items())[:12])
        console.print(f"special tokens ({len(tok.special_tokens)}): {shown}")
    merges = getattr(tok, "merges", None)
    if merges is not None:
        table = Table(title=f"First {top} merges, in order", title_justify="left")
        for col in ("rank", "left", "right", "token"):
            table.add_column(col)
        for k, (a, b) in enumerate(merges[:top]):
            show = [x.decode("utf-8", errors="backslashreplace").replace(" ", "·") for x in (a, b, a + b)]
            table.add_row(str(k), *show)
        console.print(table)
    ids = [i for i in range(tok.vocab_size) if i not in tok.special_tokens.values() and _exists(tok, i)]
    longest = sorted(ids, key=lambda i: (-len(surface(tok, i)), i))[:top]
    table = Table(title=f"{top} longest tokens", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("token")
    table.add_column("chars", justify="right")
    for i in longest:
        table.add_row(str(i), surface(tok, i), str(len(surface(tok, i))))
    console.print(table)


def _exists(tok: Tokenizer, token_id: int) -> bool:
    try:
        tok.id_to_token(token_id)
    except (KeyError, IndexError, LLMLabError):
        return False
    return True


@app.command(
    epilog="Example: [bold]llmlab tokenizer train --algo bpe --data shakespeare --vocab-size 4000 "
    "--out runs/tok-bpe --impl fast[/bold]"
)
def train(
    out: Annotated[Path, typer.Option(help="Folder to write the tokenizer files into.")],
    algo: Annotated[str, typer.Option(help="bpe (byte-level), wordpiece or unigram.")] = "bpe",
    data: Annotated[
        str | None, typer.Option(help="A corpus from `llmlab data list` (its train split).")
    ] = None,
    file: Annotated[list[Path] | None, typer.Option(help="Train on this UTF-8 file (repeatable).")] = None,
    vocab_size: Annotated[int, typer.Option(help="Vocabulary size, special tokens included.")] = 4000,
    special: Annotated[list[str] | None, typer.Option(help="A special token (repeatable).")] = None,
    min_frequency: Annotated[int, typer.Option(help="Pairs/pieces seen fewer times are not merged.")] = 2,
    pattern: Annotated[str, typer.Option(help="BPE pre-tokenizer: gpt2, cl100k or o200k.")] = "gpt2",
    name: Annotated[str | None, typer.Option(help="Tokenizer name (default: <algo>-<vocab>).")] = None,
    impl: ImplOption = "readable",
) -> None:
    """Train a tokenizer on a corpus and save it as tokenizer.json (+ tiktoken ranks, vocab.txt or .model)."""
    if algo not in ("bpe", "wordpiece", "unigram"):
        raise LLMLabError(f"unknown --algo '{algo}': choose bpe, wordpiece or unigram")
    if pattern not in PATTERNS:
        raise LLMLabError(f"unknown --pattern '{pattern}': choose {', '.join(PATTERNS)}")
    if (data is None) == (not file):
        raise LLMLabError("give a corpus with --data NAME or one or more --file PATH (not both)")
    if impl == "fast" and algo != "bpe":
        raise LLMLabError("the fast path covers byte-level BPE training only; use --impl readable")
    texts, files, what = _corpus(data, file or [])
    name = name or f"{algo}-{vocab_size}"
    specials = list(special or [])
    console.print(f"Training {algo} ({_impl(impl)}) to {vocab_size:,} ids on {what} ...")
    start = time.perf_counter()
    tok = _train(algo, texts, files, vocab_size, specials, min_frequency, pattern, name, impl)
    elapsed = time.perf_counter() - start
    written = save_tokenizer(tok, out)
    console.print(
        f"[green]✓[/green] {tok.vocab_size:,} ids in {elapsed:.1f} s; wrote {', '.join(str(p) for p in written)}"
    )
    sample = "The quick brown fox jumps over the lazy dog."
    console.print(coloured(tok, tok.encode(sample, disallowed_special=())))
    console.print(f'Try: llmlab tokenizer encode "{sample}" --tokenizer {out / "tokenizer.json"}')
    from llmlab.path.results import record_run

    record_run("tokenizer-train", f"llmlab tokenizer train --algo {algo} --vocab-size {vocab_size} --out {out}",
               {"vocab_size": tok.vocab_size, "seconds": round(elapsed, 1)}, run_dir=str(out))  # fmt: skip


def _corpus(data: str | None, files: list[Path]) -> tuple[list[str], list[Path], str]:
    if data is not None:
        from llmlab.data import get_info, load

        if get_info(data).kind != "corpus":
            raise LLMLabError(f"'{data}' is not a corpus; pick one with kind corpus from `llmlab data list`")
        docs = load(data).split("train")
        return [d.text for d in docs], [], f"the {data} train split ({len(docs)} documents)"
    for f in files:
        if not f.is_file():
            raise LLMLabError(f"no such file: {f}")
    size = sum(f.stat().st_size for f in files)
    return [], files, f"{len(files)} file(s), {size / 1e6:.1f} MB"


def _train(
    algo: str, texts: list[str], files: list[Path], vocab_size: int, specials: list[str],
    min_frequency: int, pattern: str, name: str, impl: str,
) -> Tokenizer:  # fmt: skip
    if algo == "bpe":
        from llmlab.tokenizers import bpe_regex

        regex = {
            "gpt2": bpe_regex.GPT2_PATTERN,
            "cl100k": bpe_regex.CL100K_PATTERN,
            "o200k": bpe_regex.O200K_PATTERN,
        }[pattern]
        if impl == "fast":
            from llmlab.tokenizers.bpe_fast import train_bpe_fast

            tok = train_bpe_fast(
                texts, vocab_size, files=files, pattern=regex, special_tokens=specials,
                min_frequency=min_frequency, name=name,
            )  # fmt: skip
            return with_impl(tok, "fast")
        from llmlab.tokenizers.train_bpe import train_bpe, train_bpe_from_files

        options = {"pattern": regex, "special_tokens": specials, "min_frequency": min_frequency, "name": name}
        if files:
            return train_bpe_from_files(files, vocab_size, **options)
        return train_bpe(texts, vocab_size, **options)  # type: ignore[arg-type]
    if algo == "wordpiece":
        from llmlab.tokenizers.train_wordpiece import train_wordpiece
        from llmlab.tokenizers.wordpiece import SPECIAL_TOKENS

        return train_wordpiece(
            texts, files=files, vocab_size=vocab_size, min_frequency=min_frequency,
            special_tokens=specials or SPECIAL_TOKENS,
        )  # fmt: skip
    from llmlab.tokenizers.train_unigram import train_unigram

    return train_unigram(texts, files=files, vocab_size=vocab_size, special_tokens=specials, name=name)
