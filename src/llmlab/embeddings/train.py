"""Training runs: from a corpus name to word vectors, with a progress bar, snapshots and metrics.

The glue around :mod:`~llmlab.embeddings.word2vec` and :mod:`~llmlab.embeddings.glove`:

1. read the corpus (asset names such as ``"wiki100,shakespeare"``, a text file or a folder, or
   sentences you already split) and build the vocabulary (:mod:`~llmlab.embeddings.vocab`);
2. train, drawing a progress bar with words/s and the loss;
3. write the run folder ``out_dir`` when one is given::

       config.json            the settings, the corpus and the vocabulary size
       metrics.jsonl          one line per chunk of training: words, epoch, lr, loss, words/s
       vectors.safetensors    the final vectors (WordVectors.save; W_in for word2vec, W + W~ for GloVe)
       snapshots/NNN-*.safetensors   the tracked words' vectors every ``snapshot_every`` words (word2vec)
                              or co-occurrence entries (GloVe), from the random start on: the frames
                              of ``llmlab embeddings plot --frames`` ("random dots become a map")
       epochs/epoch-NN.safetensors   all vectors after each epoch (``epoch_checkpoints=True``)
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from llmlab.cli.console import err_console
from llmlab.embeddings.glove import GloVe, GloVeConfig, cooccurrence
from llmlab.embeddings.vectors import WordVectors
from llmlab.embeddings.vocab import Vocabulary, load_sentences
from llmlab.embeddings.word2vec import Progress as Step
from llmlab.embeddings.word2vec import Word2Vec, Word2VecConfig
from llmlab.errors import LLMLabError
from llmlab.training.events import append_jsonl

Corpus = str | Sequence[Sequence[str]]  # asset names / a path, or sentences of words


class Run:
    """The run folder (or nothing, when ``out_dir`` is None), the progress bar and the snapshots."""

    def __init__(
        self,
        out_dir: str | Path | None,
        vocab: Vocabulary,
        snapshot_every: int,
        snapshot_words: int | Sequence[str],
        unit: str,
    ):
        self.out = Path(out_dir) if out_dir is not None else None
        self.vocab, self.every, self.unit = vocab, snapshot_every, unit  # unit: what the run counts
        self.begin()
        if not snapshot_every:
            self.tracked = []  # no snapshots
        elif isinstance(snapshot_words, int):
            self.tracked = list(range(min(snapshot_words, len(vocab))))  # the N most frequent words
        else:
            missing = [w for w in snapshot_words if w not in vocab.index]
            if missing:
                raise LLMLabError(f"snapshot words not in the vocabulary: {', '.join(missing[:10])}")
            self.tracked = [vocab.index[w] for w in snapshot_words]
        self.n_snapshots = 0
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "metrics.jsonl").write_text("")
            # a new run in an old folder: its snapshots and epoch files must not mix with the last run's
            for old in [
                *self.out.glob("snapshots/[0-9]*.safetensors"),
                *self.out.glob("epochs/epoch-*.safetensors"),
            ]:
                old.unlink()

    def save_config(self, method: str, corpus: Corpus, cfg: Any) -> None:
        if self.out is not None:
            name = corpus if isinstance(corpus, str) else f"{len(corpus)} sentences given in Python"
            info = {
                "method": method,
                "corpus": name,
                "vocab_size": len(self.vocab),
                "tokens": self.vocab.total,
            }
            text = json.dumps({**info, "config": dataclasses.asdict(cfg)}, indent=2) + "\n"  # fmt: skip
            (self.out / "config.json").write_text(text, encoding="utf-8")

    def log(self, row: dict[str, Any]) -> None:
        if self.out is not None:
            append_jsonl(self.out / "metrics.jsonl", row)

    def snapshot(self, vectors: torch.Tensor | np.ndarray, at: int, **meta: Any) -> None:
        """The tracked words' rows after ``at`` units, as ``snapshots/NNN-<unit>-<at>.safetensors``."""
        unit = self.unit
        if self.out is not None and self.tracked:
            rows = np.asarray(vectors[self.tracked], dtype=np.float32)  # (n_tracked, D)
            wv = WordVectors([self.vocab.words[i] for i in self.tracked], rows)
            (self.out / "snapshots").mkdir(exist_ok=True)
            path = self.out / "snapshots" / f"{self.n_snapshots:03d}-{unit}-{at}.safetensors"
            wv.save(path, metadata={unit: str(at), **{k: str(v) for k, v in meta.items()}})
            self.n_snapshots += 1

    def begin(self) -> None:
        """Training starts now (the first speed counts from here)."""
        # since the last log row: loss and examples summed, units done then, and its time
        self.since = {"loss": 0.0, "n": 0, "done": 0, "t": time.perf_counter(), "next_snapshot": self.every}

    def tick(
        self, bar: Progress, task: Any, epoch: int, epochs: int, done: int, total: int, loss: float, n: int,
        vectors: Callable[[], torch.Tensor | np.ndarray], **extra: Any,
    ) -> None:  # fmt: skip
        """After each batch (``done`` of ``total`` units, ``loss`` summed over ``n`` examples): every
        1% of the run, a metrics row with the mean loss and the speed, and the bar moves; every
        ``snapshot_every`` units, a snapshot of ``vectors()``. ``extra`` goes into the row."""
        since, unit = self.since, self.unit
        since["loss"] += loss
        since["n"] += n
        if done - since["done"] >= total // 100 or done == total:
            now = time.perf_counter()
            speed = (done - since["done"]) / max(now - since["t"], 1e-9)
            mean = since["loss"] / max(since["n"], 1)
            self.log({"epoch": epoch + 1, unit: done, **extra, "loss": mean, f"{unit}_per_s": speed})
            bar.update(
                task, completed=done, epoch=f"{epoch + 1}/{epochs}", loss=f"{mean:.4f}", speed=f"{speed:,.0f}"
            )
            since.update(loss=0.0, n=0, done=done, t=now)
        if self.every and done >= since["next_snapshot"]:
            self.snapshot(vectors(), done, epoch=epoch + 1)
            since["next_snapshot"] = (done // self.every + 1) * self.every

    def checkpoint(self, vectors: np.ndarray, name: str) -> WordVectors:
        wv = WordVectors(self.vocab.words, vectors)
        if self.out is not None:
            path = self.out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            wv.save(path)
        return wv


def progress_bar(enabled: bool, unit: str) -> Progress:
    """``word2vec ━━━━━━━╸━━━ epoch 2/5  loss 2.4612  312,000 words/s  ETA 0:00:41``."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("epoch {task.fields[epoch]}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[speed]} " + unit + "/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    )


def train_word2vec(
    corpus: Corpus, cfg: Word2VecConfig | None = None, out_dir: str | Path | None = None, progress: bool = True,
    snapshot_every: int = 0, snapshot_words: int | Sequence[str] = 200, epoch_checkpoints: bool = False,
) -> WordVectors:  # fmt: skip
    """Train word2vec (skip-gram or CBOW) on ``corpus``; returns the vectors (W_in), most frequent first.

    ``snapshot_every``: corpus words between snapshots of ``snapshot_words`` (a list of words, or
    the N most frequent); 0 for none. Needs ``out_dir`` to write them.
    """
    cfg = cfg or Word2VecConfig()
    sentences = load_sentences(corpus)
    vocab = Vocabulary.build(sentences, cfg.min_count)
    ids, sentence = vocab.encode(sentences)
    model = Word2Vec(vocab, cfg)
    run = Run(out_dir, vocab, snapshot_every, snapshot_words, "words")
    run.save_config(cfg.method, corpus, cfg)
    run.snapshot(model.W_in, 0, epoch=0)
    start = time.perf_counter()
    run.begin()
    with progress_bar(progress, "words") as bar:
        task = bar.add_task(cfg.method, total=len(ids) * cfg.epochs, epoch=1, loss="-", speed="-")

        def on_step(p: Step) -> None:
            if not math.isfinite(p.loss) or p.loss > 50 * max(p.pairs, 1):
                raise LLMLabError(
                    f"word2vec diverged at word {p.words:,} (loss {p.loss / max(p.pairs, 1):.3g} per pair): "
                    "lower the batch size or alpha"
                )
            run.tick(bar, task, p.epoch, cfg.epochs, p.words, p.total_words, p.loss, p.pairs, lambda: model.W_in,
                     lr=p.lr)  # fmt: skip

        def on_epoch_end(epoch: int) -> None:
            if epoch_checkpoints:
                run.checkpoint(model.W_in.numpy().copy(), f"epochs/epoch-{epoch + 1:02d}.safetensors")

        model.train(ids, sentence, on_step, on_epoch_end)
    seconds = time.perf_counter() - start
    run.log({"event": "done", "seconds": seconds, "words_per_s": len(ids) * cfg.epochs / seconds})
    return run.checkpoint(model.W_in.numpy().copy(), "vectors.safetensors")


def train_glove(
    corpus: Corpus, cfg: GloVeConfig | None = None, out_dir: str | Path | None = None, progress: bool = True,
    snapshot_every: int = 0, snapshot_words: int | Sequence[str] = 200, epoch_checkpoints: bool = False,
) -> WordVectors:  # fmt: skip
    """Count co-occurrences in ``corpus``, fit GloVe; returns W + W~, most frequent word first.

    ``snapshot_every``: co-occurrence entries (nonzero counts) between snapshots; 0 for none.
    """
    cfg = cfg or GloVeConfig()
    sentences = load_sentences(corpus)
    vocab = Vocabulary.build(sentences, cfg.min_count)
    ids, sentence = vocab.encode(sentences)
    model = GloVe(vocab, cfg)
    run = Run(out_dir, vocab, snapshot_every, snapshot_words, "entries")
    run.save_config("glove", corpus, cfg)
    with err_console.status("counting co-occurrences", spinner="dots") if progress else nullcontext():
        rows, cols, counts = cooccurrence(ids, sentence, len(vocab), cfg.window)
    run.log({"event": "cooccurrence", "nonzero": len(counts), "window": cfg.window})
    run.snapshot(model.vectors(), 0, epoch=0)
    nnz = len(counts)
    run.begin()
    with progress_bar(progress, "entries") as bar:
        task = bar.add_task("glove", total=nnz * cfg.epochs, epoch=1, loss="-", speed="-")

        def on_batch(epoch: int, done_in_epoch: int, loss: float, n: int) -> None:
            done = epoch * nnz + done_in_epoch
            run.tick(bar, task, epoch, cfg.epochs, done, nnz * cfg.epochs, loss, n, model.vectors)

        def on_epoch_end(epoch: int) -> None:
            if epoch_checkpoints:
                run.checkpoint(model.vectors(), f"epochs/epoch-{epoch + 1:02d}.safetensors")

        history = model.train(rows, cols, counts, on_batch, on_epoch_end)
    run.log({"event": "done", "epoch_loss": history})
    return run.checkpoint(model.vectors(), "vectors.safetensors")
