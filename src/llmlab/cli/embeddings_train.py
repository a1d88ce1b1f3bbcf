"""``llmlab embeddings train``: word2vec (skip-gram, CBOW) or GloVe from scratch on a corpus.

Writes the run folder of :mod:`llmlab.embeddings.train` (vectors, snapshots, metrics.jsonl),
then prints the nearest neighbours of a few fixed words and the analogy accuracy on the Google
analogy set (``questions-words.txt``), restricted to the trained vocabulary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from llmlab.cli.console import console
from llmlab.errors import LLMLabError
from llmlab.training.events import append_jsonl, read_jsonl

PROBE_WORDS = ("king", "france", "love", "war", "day", "computer")  # neighbours printed after training
METHODS = ("skipgram", "cbow", "glove")

EPILOG = (
    "Examples:\n\n[bold]llmlab embeddings train --method skipgram --corpus wiki100,shakespeare --out runs/w2v[/bold]"
    "\n\n[bold]llmlab embeddings train --method glove --epochs 15 --window 10 --out runs/glove[/bold]"
    "\n\n[bold]llmlab embeddings train --corpus botchan --epochs 3 --snapshot-every 20000 "
    "--snapshot-words father,mother,school,teacher,red,blue --out runs/botchan[/bold]"
    "   (then: llmlab embeddings plot --frames runs/botchan/snapshots --out botchan-map)"
)


def train_command(
    method: Annotated[str, typer.Option(help="skipgram, cbow (word2vec) or glove.")] = "skipgram",
    corpus: Annotated[
        str,
        typer.Option(
            help="Corpus assets, comma-separated (wiki100, shakespeare, botchan), or a text file/folder."
        ),
    ] = "wiki100,shakespeare",
    dim: Annotated[int, typer.Option(help="Length of each word vector.")] = 100,
    epochs: Annotated[int | None, typer.Option(help="Passes over the corpus [default: 5; glove 15].")] = None,
    window: Annotated[
        int | None, typer.Option(help="Largest context distance [default: 5; glove 10].")
    ] = None,
    negative: Annotated[int, typer.Option(help="Negatives per centre word (word2vec).")] = 5,
    min_count: Annotated[int, typer.Option(help="Drop words seen fewer times.")] = 5,
    sample: Annotated[
        float, typer.Option(help="Subsampling threshold of frequent words (word2vec; 0: off).")
    ] = 1e-3,
    alpha: Annotated[
        float | None, typer.Option(help="Starting learning rate [default: 0.025; glove's AdaGrad 0.05].")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(help="Workers at once (word2vec: processes on Linux; glove: threads); 1: reproducible."),
    ] = 1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Run folder [default: runs/METHOD].")] = None,
    snapshot_every: Annotated[
        int, typer.Option(help="Words (glove: co-occurrence entries) between snapshots; 0: none.")
    ] = 0,
    snapshot_words: Annotated[
        str, typer.Option(help="Words to snapshot, comma-separated, or N for the N most frequent.")
    ] = "200",
    epoch_checkpoints: Annotated[bool, typer.Option(help="Also save all vectors after every epoch.")] = False,
    evaluate: Annotated[bool, typer.Option(help="Print neighbours and analogy accuracy at the end.")] = True,
) -> None:
    """Train word vectors from scratch: word2vec (skip-gram, CBOW) or GloVe."""
    from llmlab.embeddings.glove import GloVeConfig
    from llmlab.embeddings.train import train_glove, train_word2vec
    from llmlab.embeddings.word2vec import Word2VecConfig

    if method not in METHODS:
        raise LLMLabError(f"unknown method {method!r}; choose skipgram, cbow or glove")
    out = out or Path("runs") / method
    tracked: int | list[str] = (
        int(snapshot_words) if snapshot_words.isdigit() else [w.strip() for w in snapshot_words.split(",")]
    )
    common = {"dim": dim, "min_count": min_count, "seed": seed, "workers": workers}
    set_ = {k: v for k, v in {"epochs": epochs, "window": window}.items() if v is not None}
    run = {"out_dir": out, "snapshot_every": snapshot_every, "snapshot_words": tracked}
    run["epoch_checkpoints"] = epoch_checkpoints
    console.print(f"[bold]{method}[/bold] on {corpus}, {dim} dims -> {out}")
    if method == "glove":
        cfg = GloVeConfig(**common, **set_, **({"lr": alpha} if alpha is not None else {}))
        wv = train_glove(corpus, cfg, **run)
    else:
        extra = {"alpha": alpha} if alpha is not None else {}
        cfg = Word2VecConfig(method=method, negative=negative, sample=sample, **common, **set_, **extra)
        wv = train_word2vec(corpus, cfg, **run)
    metrics = read_jsonl(out / "metrics.jsonl")
    done = metrics[-1]
    speed = f", {done['words_per_s']:,.0f} words/s" if "words_per_s" in done else ""
    console.print(f"{len(wv):,} words x {wv.dim} dims saved to {out / 'vectors.safetensors'}{speed}")
    figures: dict[str, float | str] = {"words": len(wv), "dim": wv.dim}
    if "words_per_s" in done:
        figures["words_per_s"] = round(done["words_per_s"])
    if evaluate and (accuracy := report(wv, out)) is not None:
        figures["analogy_accuracy"] = round(accuracy, 4)
    from llmlab.path.results import record_run

    record_run("embeddings-train", f"llmlab embeddings train --method {method} --corpus {corpus} --out {out}",
               figures, run_dir=str(out))  # fmt: skip


def report(wv, out: Path) -> float | None:  # noqa: ANN001 (a WordVectors)
    """Neighbours of the probe words, then analogy accuracy (appended to metrics.jsonl and returned)."""
    from llmlab.embeddings.evaluate import evaluate_analogies

    table = Table(title="nearest neighbours (cosine)", title_justify="left")
    table.add_column("word")
    table.add_column("neighbours")
    for word in PROBE_WORDS:
        if word in wv:
            table.add_row(word, ", ".join(w for w, _ in wv.most_similar(word, topn=6)))
    console.print(table)
    try:
        result = evaluate_analogies(wv, restrict=len(wv))
    except LLMLabError as e:  # e.g. the word-similarity-sets asset is missing and we are offline
        console.print(f"analogy test skipped: {e}", markup=False)
        return None
    total = result.total
    console.print(
        f"analogy accuracy (questions-words.txt, 3CosAdd): {100 * total.accuracy:.2f}% "
        f"({total.correct} of {total.total}; {result.oov} questions skipped for unknown words)"
    )
    row = {
        "event": "eval",
        "analogy_accuracy": total.accuracy,
        "correct": total.correct,
        "questions": total.total,
    }
    append_jsonl(out / "metrics.jsonl", row)
    return total.accuracy
