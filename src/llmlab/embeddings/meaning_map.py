"""The meaning map: words as points on a page, where neighbours in the picture are neighbours in meaning.

Builds on :mod:`llmlab.embeddings.project` (PCA / t-SNE to 2D). This file picks the words
(a list, named categories such as ``countries`` and ``capitals``, or the N most frequent), finds
each word's nearest neighbours in the full vector space (what hovering shows: the map is only a
shadow of the real geometry), and draws it:

- a PNG with matplotlib: labelled points coloured by group;
- an interactive HTML page (:mod:`llmlab.embeddings.map_page`): hover, zoom, pan; offline;
- for training snapshots (word2vec checkpoints saved with ``WordVectors.save``): a frame series,
  PNG per snapshot plus an animated HTML page and a GIF, each frame aligned to the last one, so
  you watch random dots become a map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from llmlab.embeddings.map_page import render_page
from llmlab.embeddings.project import project_frames
from llmlab.embeddings.vectors import WordVectors
from llmlab.errors import LLMLabError

CATEGORIES: dict[str, tuple[str, ...]] = {
    "countries": ("france", "germany", "italy", "spain", "china", "japan", "india", "russia", "egypt",
                  "brazil", "canada", "mexico", "kenya", "greece", "turkey", "australia"),
    "capitals": ("paris", "berlin", "rome", "madrid", "beijing", "tokyo", "delhi", "moscow", "cairo",
                 "brasilia", "ottawa", "nairobi", "athens", "ankara", "canberra", "lisbon"),
    "animals": ("dog", "cat", "horse", "cow", "lion", "tiger", "wolf", "bear", "eagle", "sparrow",
                "shark", "whale", "snake", "mouse", "rabbit", "elephant"),
    "numbers": ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "twenty", "hundred", "thousand", "million"),
    "verbs": ("run", "walk", "eat", "drink", "sleep", "think", "speak", "write", "read", "see",
              "hear", "give", "take", "go", "come", "sing"),
    "family": ("mother", "father", "son", "daughter", "brother", "sister", "uncle", "aunt", "wife",
               "husband", "king", "queen", "man", "woman", "boy", "girl"),
    "colours": ("red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black",
                "white", "grey", "violet"),
    "food": ("bread", "cheese", "apple", "banana", "rice", "soup", "meat", "fish", "cake", "milk",
             "coffee", "tea", "wine", "butter"),
}  # fmt: skip
# matplotlib's "tab10": the PNG and the HTML page use the same colour for a group
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


@dataclass
class WordMap:
    """Words, their group, their 2D position per frame, and their nearest neighbours per frame."""

    words: list[str]
    groups: list[str]  # one per word
    frames: list[np.ndarray]  # each (N, 2)
    neighbours: list[list[list[str]]]  # [frame][word] -> nearest words
    frame_names: list[str] = field(default_factory=lambda: ["map"])

    @property
    def group_names(self) -> list[str]:
        return list(dict.fromkeys(self.groups))

    def color(self, group: str) -> str:
        return PALETTE[self.group_names.index(group) % len(PALETTE)]


def choose_words(
    wv: WordVectors,
    words: Sequence[str] = (),
    categories: Sequence[str] = (),
    top: int = 0,
) -> list[tuple[str, str]]:
    """``(word, group)`` pairs to plot: the given words, named categories, and/or the ``top`` most
    frequent alphabetic words. Words missing from ``wv`` are left out of categories; a missing word
    given by name is an error naming the nearest spellings."""
    chosen: dict[str, str] = {}
    for w in words:
        wv.index(w)  # raises OOVError with the nearest spellings
        chosen.setdefault(w, "words")
    for name in categories:
        if name not in CATEGORIES:
            raise LLMLabError(f"unknown category {name!r}; choose from: {', '.join(CATEGORIES)}")
        for w in CATEGORIES[name]:
            if w in wv:
                chosen.setdefault(w, name)
    if top:
        frequent = [w for w in wv.words if w.isalpha()][:top]  # the table is sorted by frequency
        for w in frequent:
            chosen.setdefault(w, "frequent")
    if not chosen:
        raise LLMLabError("no words to plot: give words, a --category, or --top N (the map needs at least 2)")
    if len(chosen) < 2:
        raise LLMLabError(f"only {len(chosen)} word to plot; a map needs at least 2")
    return list(chosen.items())


def build_map(
    wv: WordVectors, chosen: list[tuple[str, str]], method: str = "pca", seed: int = 0, n_neighbours: int = 5
) -> WordMap:
    """Project the chosen words to 2D and find each one's nearest neighbours in the whole table."""
    words = [w for w, _ in chosen]
    X = wv.vectors[[wv.index(w) for w in words]]  # (N, D)
    frames = project_frames([X], method, seed)  # one frame, (N, 2)
    neighbours = [[n for n, _ in wv.most_similar(w, topn=n_neighbours)] for w in words]
    return WordMap(words, [g for _, g in chosen], frames, [neighbours])


def build_frames(
    snapshots: Sequence[WordVectors],
    chosen: list[tuple[str, str]],
    names: Sequence[str],
    method: str = "pca",
    seed: int = 0,
    n_neighbours: int = 3,
) -> WordMap:
    """One frame per snapshot, aligned to the last; neighbours are found among the plotted words."""
    words = [w for w, _ in chosen]
    mats = [s.vectors[[s.index(w) for w in words]] for s in snapshots]  # each (N, D)
    frames = project_frames(mats, method, seed)
    neighbours = []
    for X in mats:
        sub = WordVectors(words, X)
        neighbours.append([[n for n, _ in sub.most_similar(w, topn=n_neighbours)] for w in words])
    return WordMap(words, [g for _, g in chosen], frames, neighbours, list(names))


def load_snapshots(folder: str | Path) -> tuple[list[str], list[WordVectors]]:
    """The ``*.safetensors`` files of ``folder`` (saved by ``WordVectors.save``), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LLMLabError(f"{folder}: no such folder of snapshots")
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise LLMLabError(f"{folder} holds no .safetensors snapshots (saved by WordVectors.save)")
    return [f.stem for f in files], [WordVectors.load(f) for f in files]


def save_png(wmap: WordMap, path: str | Path, title: str, frame: int = -1) -> Path:
    """A labelled scatter plot of one frame, coloured by group."""
    import matplotlib

    matplotlib.use("Agg")  # no window: write a file
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(10, 8), dpi=110)
    _draw(ax, wmap, frame, title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def save_html(wmap: WordMap, path: str | Path, title: str) -> Path:
    """The interactive page: every frame, hover neighbours, zoom and pan; no network needed."""
    names = wmap.group_names
    data = {
        "title": title,
        "groups": [{"name": g, "color": wmap.color(g)} for g in names],
        "words": wmap.words,
        "group": [names.index(g) for g in wmap.groups],
        "frames": [
            {"name": n, "xy": np.round(xy, 4).tolist(), "neighbours": nb}
            for n, xy, nb in zip(wmap.frame_names, wmap.frames, wmap.neighbours, strict=True)
        ],
    }
    path = Path(path)
    path.write_text(render_page(title, data), encoding="utf-8")
    return path


def save_frames(wmap: WordMap, out_dir: str | Path, title: str) -> list[Path]:
    """``frame_000.png ...`` (one per snapshot), ``frames.html`` (animated) and ``frames.gif`` in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter  # pillow comes with matplotlib

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        save_png(wmap, out / f"frame_{k:03d}.png", f"{title}: {name}", frame=k)
        for k, name in enumerate(wmap.frame_names)
    ]
    written.append(save_html(wmap, out / "frames.html", title))
    fig, ax = plt.subplots(figsize=(8, 6.4), dpi=80)
    animation = FuncAnimation(fig, lambda k: _draw(ax, wmap, k, f"{title}: {wmap.frame_names[k]}"),
                              frames=len(wmap.frames))  # fmt: skip
    animation.save(out / "frames.gif", writer=PillowWriter(fps=2))
    plt.close(fig)
    written.append(out / "frames.gif")
    return written


def _draw(ax, wmap: WordMap, frame: int, title: str) -> None:  # noqa: ANN001 (a matplotlib Axes)
    ax.clear()
    xy = wmap.frames[frame]  # (N, 2)
    every = np.concatenate(wmap.frames)  # the same limits in every frame: the camera stays still
    pad = 0.08 * (every.max(axis=0) - every.min(axis=0) + 1e-9)
    ax.set_xlim(every[:, 0].min() - pad[0], every[:, 0].max() + pad[0])
    ax.set_ylim(every[:, 1].min() - pad[1], every[:, 1].max() + pad[1])
    for g in wmap.group_names:
        rows = [i for i, gi in enumerate(wmap.groups) if gi == g]
        ax.scatter(xy[rows, 0], xy[rows, 1], s=22, color=wmap.color(g), label=g)
    for i, w in enumerate(wmap.words):
        ax.annotate(w, xy[i], xytext=(4, 3), textcoords="offset points", fontsize=8)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(wmap.group_names) > 1:
        ax.legend(loc="best", fontsize=8)
