"""``llmlab embeddings``: query word vectors, score them, map them, search by meaning, see context.

Every word command works on pretrained GloVe 6B-50d by default, or on vectors you trained
(``--vectors runs/w2v/vectors.safetensors``, any file saved by ``WordVectors.save``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from llmlab.cli.console import console
from llmlab.cli.embeddings_train import EPILOG, train_command
from llmlab.embeddings.vectors import WordVectors
from llmlab.errors import LLMLabError

app = typer.Typer(
    help="Word vectors (GloVe, your own word2vec), analogies, the meaning map, contextual and sentence embeddings.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

app.command("train", epilog=EPILOG)(train_command)

VectorsOption = Annotated[
    Path | None,
    typer.Option("--vectors", help="A vectors file saved by llmlab (default: pretrained GloVe 6B-50d)."),
]


def _vectors(path: Path | None) -> WordVectors:
    if path is None:
        from llmlab.embeddings.pretrained import load_glove

        return load_glove()
    return WordVectors.load(path)


def _record(lab: str, command: str, figures: dict[str, float | str], run_dir: Path | None = None) -> None:
    """Note this lab run in the learning path (ticks a linked task; never fails the command)."""
    from llmlab.path.results import record_run

    record_run(lab, command, figures, run_dir=str(run_dir) if run_dir is not None else None)


def _source(vectors: Path | None) -> str:
    return f" --vectors {vectors}" if vectors is not None else ""


def _scores(title: str, rows: list[tuple[str, float]]) -> Table:
    console.print(title, markup=False)
    table = Table()
    table.add_column("word")
    table.add_column("score" if "3cosmul" in title else "cosine", justify="right")
    for w, s in rows:
        table.add_row(escape(w), f"{s:.4f}")
    return table


@app.command(
    epilog="Examples:\n\n[bold]llmlab embeddings similar king[/bold]\n\n"
    "[bold]llmlab embeddings similar king queen[/bold]   (prints 0.7839)"
)
def similar(
    word: Annotated[str, typer.Argument(help="A word.")],
    other: Annotated[str | None, typer.Argument(help="A second word: print the cosine of the two.")] = None,
    topn: Annotated[int, typer.Option(help="How many neighbours to list.")] = 10,
    vectors: VectorsOption = None,
) -> None:
    """The nearest words to WORD by cosine similarity, or the similarity of WORD and OTHER."""
    wv = _vectors(vectors)
    if other is not None:
        cosine = wv.similarity(word, other)
        console.print(f"cos({word}, {other}) = {cosine:.4f}", markup=False)
        _record("embeddings-similar", f"llmlab embeddings similar {word} {other}{_source(vectors)}",
                {f"cos({word}, {other})": round(cosine, 4)})  # fmt: skip
        return
    rows = wv.most_similar(word, topn=topn)
    console.print(_scores(f"nearest to {word!r}", rows))
    _record("embeddings-similar", f"llmlab embeddings similar {word}{_source(vectors)}",
            {"nearest": rows[0][0], "cosine": round(rows[0][1], 4)})  # fmt: skip


@app.command(
    epilog="Examples:\n\n[bold]llmlab embeddings analogy man king woman[/bold]   (man : king = woman : ? -> queen)"
    "\n\n[bold]llmlab embeddings analogy paris france rome --method 3cosmul[/bold]"
)
def analogy(
    a: Annotated[str, typer.Argument(help="A, in 'A is to B as C is to ?'.")],
    b: Annotated[str, typer.Argument(help="B.")],
    c: Annotated[str, typer.Argument(help="C.")],
    method: Annotated[
        str, typer.Option(help="3cosadd (b - a + c) or 3cosmul (Levy & Goldberg 2014).")
    ] = "3cosadd",
    topn: Annotated[int, typer.Option(help="How many answers to list.")] = 5,
    vectors: VectorsOption = None,
) -> None:
    """A is to B as C is to ?  The words nearest to B - A + C, leaving out A, B and C."""
    wv = _vectors(vectors)
    rows = wv.analogy(a, b, c, method=method, topn=topn)
    console.print(_scores(f"{a} : {b} = {c} : ?   ({method})", rows))
    _record("embeddings-analogy", f"llmlab embeddings analogy {a} {b} {c} --method {method}{_source(vectors)}",
            {f"{a} : {b} = {c} : ?": rows[0][0], "score": round(rows[0][1], 4)})  # fmt: skip


@app.command(
    "odd-one-out", epilog="Example: [bold]llmlab embeddings odd-one-out breakfast lunch dinner cereal[/bold]"
)
def odd_one_out(
    words: Annotated[list[str], typer.Argument(help="Two or more words.")],
    vectors: VectorsOption = None,
) -> None:
    """The word that fits least: the one farthest from the mean of all of them."""
    console.print(_vectors(vectors).odd_one_out(words), markup=False)


@app.command(
    epilog="Examples:\n\n[bold]llmlab embeddings evaluate --per-section 100[/bold]   (a quick sample)"
    "\n\n[bold]llmlab embeddings evaluate --vectors runs/w2v/vectors.safetensors[/bold]"
)
def evaluate(
    vectors: VectorsOption = None,
    per_section: Annotated[
        int | None, typer.Option(help="Only the first N analogy questions of each section.")
    ] = None,
    restrict: Annotated[
        int, typer.Option(help="Only the N most frequent words take part (as gensim).")
    ] = 300_000,
    analogies: Annotated[bool, typer.Option(help="Run the analogy test (the slow part).")] = True,
) -> None:
    """Spearman/Pearson on WordSim-353 and SimLex-999, and accuracy on the Google analogy set."""
    from llmlab.embeddings.evaluate import PAIR_SETS, data_file, evaluate_analogies, evaluate_pairs

    wv = _vectors(vectors)
    pairs = Table(title="word similarity (cosine vs human scores)", title_justify="left")
    for col in ("set", "spearman", "pearson", "pairs", "OOV"):
        pairs.add_column(col, justify="left" if col == "set" else "right")
    scores = {}
    for name in PAIR_SETS:
        scores[name] = r = evaluate_pairs(wv, data_file(name), restrict=restrict)
        pairs.add_row(name, f"{r.spearman:.4f}", f"{r.pearson:.4f}", str(r.pairs), f"{r.oov_ratio:.1f}%")
    console.print(pairs)
    figures: dict[str, float | str] = {f"{name} spearman": round(r.spearman, 4) for name, r in scores.items()}
    if not analogies:
        _record(
            "embeddings-evaluate", f"llmlab embeddings evaluate --no-analogies{_source(vectors)}", figures
        )
        return
    result = evaluate_analogies(wv, restrict=restrict, per_section=per_section)
    table = Table(title="analogies, 3CosAdd (a : b = c : ?)", title_justify="left")
    for col in ("section", "accuracy", "correct", "questions"):
        table.add_column(col, justify="left" if col == "section" else "right")
    for s in [*result.sections, result.total]:
        table.add_row(s.name, f"{100 * s.accuracy:.1f}%", str(s.correct), str(s.total))
    console.print(table)
    console.print(
        f"{result.oov} of {result.questions} questions skipped for unknown words ({result.oov_ratio:.1f}%)"
    )
    figures["analogy accuracy"] = round(result.total.accuracy, 4)
    sample = f" --per-section {per_section}" if per_section else ""
    _record("embeddings-evaluate", f"llmlab embeddings evaluate{sample}{_source(vectors)}", figures)


@app.command(
    epilog="Examples:\n\n[bold]llmlab embeddings plot --category countries --category capitals --out map.html[/bold]"
    "\n\n[bold]llmlab embeddings plot king queen man woman prince princess --out royals.png[/bold]"
    "\n\n[bold]llmlab embeddings plot --top 300 --method tsne --out frequent.html[/bold]"
    "\n\n[bold]llmlab embeddings plot --category numbers --frames runs/w2v/snapshots --out w2v-frames[/bold]"
)
def plot(
    words: Annotated[list[str] | None, typer.Argument(help="Words to place on the map.")] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(
            help="A word list: countries, capitals, animals, numbers, verbs, family, colours, food."
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="Also plot the N most frequent words.")] = 0,
    method: Annotated[str, typer.Option(help="pca (distances kept) or tsne (neighbourhoods kept).")] = "pca",
    out: Annotated[
        Path | None, typer.Option(help="map.png, map.html, or a folder with --frames (default: map.html).")
    ] = None,
    frames: Annotated[
        Path | None, typer.Option(help="A folder of training snapshots: draw one aligned frame per file.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of t-SNE.")] = 0,
    vectors: VectorsOption = None,
) -> None:
    """The meaning map: words projected to 2D, as a PNG or an interactive HTML page (hover, zoom, pan)."""
    from llmlab.embeddings import meaning_map as mm

    categories = [c for item in category or [] for c in item.split(",") if c]
    if frames is not None:
        names, snapshots = mm.load_snapshots(frames)
        if not (words or categories or top):  # the snapshots hold only the words training tracked
            words = list(snapshots[-1].words)
        chosen = mm.choose_words(snapshots[-1], words or [], categories, top)
        wmap = mm.build_frames(snapshots, chosen, names, method, seed)
        written = mm.save_frames(wmap, out or Path("map-frames"), f"meaning map ({method})")
        console.print(f"wrote {len(written)} files to {written[0].parent} (frames.html, frames.gif, PNGs)")
        _record("embeddings-plot", f"llmlab embeddings plot --frames {frames} --method {method}",
                {"words": len(chosen), "frames": len(snapshots)}, written[0].parent)  # fmt: skip
        return
    out = out or Path("map.html")
    if out.suffix.lower() not in (".png", ".html"):
        raise LLMLabError(f"--out must end in .png or .html, got {out.name!r}")
    wv = _vectors(vectors)
    chosen = mm.choose_words(wv, words or [], categories, top)
    wmap = mm.build_map(wv, chosen, method, seed)
    title = f"meaning map: {len(chosen)} words, {method.upper() if method == 'pca' else 't-SNE'}"
    (mm.save_png if out.suffix.lower() == ".png" else mm.save_html)(wmap, out, title)
    console.print(f"wrote {out} ({len(chosen)} words)")
    _record("embeddings-plot", f"llmlab embeddings plot --method {method} --out {out}{_source(vectors)}",
            {"words": len(chosen), "map": str(out)})  # fmt: skip


@app.command(
    epilog="Examples:\n\n[bold]llmlab embeddings search 'how do computers understand language'[/bold]"
    "\n\n[bold]llmlab embeddings search 'wallet lost' --docs notes.txt --top 3[/bold]"
)
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in your own words.")],
    docs: Annotated[
        Path | None,
        typer.Option(
            help="A text file (one document per line) or a folder of .txt/.md files (default: a demo set)."
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="How many results.")] = 5,
) -> None:
    """Semantic search with sentence embeddings (our BERT, all-MiniLM-L6-v2 weights, mean pooling)."""
    from llmlab.embeddings.search import DEMO_DOCUMENTS, SemanticIndex, load_documents

    documents = load_documents(docs) if docs is not None else list(DEMO_DOCUMENTS)
    hits = SemanticIndex(documents).search(query, k=top)
    table = Table(title=escape(f"closest to {query!r}"), title_justify="left")
    table.add_column("score", justify="right")
    table.add_column("#", justify="right")
    table.add_column("document", overflow="fold")
    for h in hits:
        text = h.text if len(h.text) < 200 else h.text[:197] + "..."
        table.add_row(f"{h.score:.4f}", str(h.index), escape(text))
    console.print(table)
    if hits:
        _record("embeddings-search", f"llmlab embeddings search {query!r}" + (f" --docs {docs}" if docs else ""),
                {"documents": len(documents), "top score": round(hits[0].score, 4)})  # fmt: skip


@app.command(
    epilog="Examples:\n\n[bold]llmlab embeddings context[/bold]   (river bank vs money bank, MiniLM)"
    "\n\n[bold]llmlab embeddings context --model smollm2[/bold]"
    "\n\n[bold]llmlab embeddings context --a 'I saw a bat fly out of the cave' "
    "--b 'He swung the baseball bat' --word bat[/bold]"
)
def context(
    a: Annotated[str | None, typer.Option(help="First sentence (default: a river bank).")] = None,
    b: Annotated[str | None, typer.Option(help="Second sentence (default: a money bank).")] = None,
    word: Annotated[str, typer.Option(help="The word found in both sentences.")] = "bank",
    model: Annotated[str, typer.Option(help="minilm (our BERT) or smollm2 (our LLaMA decoder).")] = "minilm",
    topn: Annotated[int, typer.Option(help="Neighbours to list at the last layer.")] = 5,
) -> None:
    """The same word in two sentences: its cosine at every layer, and its nearest tokens in context."""
    from llmlab.embeddings import contextual

    if (a is None) != (b is None):
        raise LLMLabError("give both --a and --b, or neither (for the bank demo)")
    sentences = contextual.BANK_SENTENCES if a is None else (a, b)
    encoder = contextual.load_encoder(model)
    cosines = contextual.compare_word(encoder, sentences[0], sentences[1], word)
    for k, sentence in enumerate(sentences):
        console.print(f"#{k}{' (A)' if k == 0 else ' (B)' if k == 1 else ''}: {sentence}", markup=False)
    console.print(f"cosine of {word!r} in A and {word!r} in B, layer by layer ({model}):", markup=False)
    table = Table()
    table.add_column("layer", justify="right")
    table.add_column("cosine", justify="right")
    for layer, c in enumerate(cosines):
        table.add_row("0 (embeddings)" if layer == 0 else str(layer), f"{c:.4f}")
    console.print(table)
    static = "the same row for both: cosine 1.0000"
    console.print(f"static vectors (GloVe, word2vec): {static}")
    for k in (0, 1):
        near = contextual.token_neighbours(encoder, sentences, word, sentence=k, topn=topn)
        listed = ", ".join(f"{n.token} (#{n.sentence}, {n.similarity:.3f})" for n in near)
        console.print(f"last layer, nearest tokens to {word!r} of sentence #{k}: {listed}", markup=False)
    _record("embeddings-context", f"llmlab embeddings context --model {model} --word {word}",
            {f"cos({word} A, {word} B), last layer": round(cosines[-1], 4), "layers": len(cosines) - 1})  # fmt: skip
