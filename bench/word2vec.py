"""Benchmark our word2vec against gensim's: analogy accuracy first, then training words/s and the ratio.

    .venv/bin/python bench/word2vec.py            # 5 epochs, 3 rounds; appends a section to docs/benchmarks.md
    .venv/bin/python bench/word2vec.py --quick    # 1 epoch, 1 round, prints only

Both train on the same sentences (wiki100 + shakespeare through ``llmlab.embeddings.vocab``,
about 1.6M words) with the same settings: gensim's defaults (dim 100, window 5, 5 negatives,
min_count 5, sample 1e-3, alpha 0.025 -> 0.0001) and the same threads: gensim ``workers=2``,
ours ``workers=2`` (two Hogwild threads, one torch thread each, so two cores in all).
Only training is timed (vocabulary and encoding are not, on either side); words/s counts the
corpus words (before subsampling) times the epochs, for both. The two alternate (ours, gensim,
ours, gensim, ...) for ``--rounds`` rounds and each figure is the median over the rounds (the
machine is shared: two-thread timings swing by tens of percent between runs). Accuracy is gensim's own
``KeyedVectors.evaluate_word_analogies`` on ``questions-words.txt``, restricted to the trained
vocabulary, for ours, gensim's and random vectors of the same shape. Goal (issue 6): ours at
>= 0.9x gensim's accuracy and >= 0.5x its words/s.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import append_section, machine  # noqa: E402

from llmlab.embeddings.evaluate import data_file  # noqa: E402
from llmlab.embeddings.vocab import Vocabulary, load_sentences  # noqa: E402
from llmlab.embeddings.word2vec import Word2Vec, Word2VecConfig  # noqa: E402

THREADS = 2


def accuracy(words: list[str], vectors: np.ndarray) -> float:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv.evaluate_word_analogies(str(data_file("questions-words.txt")), restrict_vocab=len(words))[0]


def ours(sentences: list[list[str]], cfg: Word2VecConfig) -> tuple[float, Vocabulary, np.ndarray]:
    """Seconds to train, the vocabulary and W_in."""
    vocab = Vocabulary.build(sentences, cfg.min_count)
    ids, sentence = vocab.encode(sentences)
    model = Word2Vec(vocab, cfg)
    start = time.perf_counter()
    model.train(ids, sentence)
    return time.perf_counter() - start, vocab, model.W_in.numpy()


def gensims(sentences: list[list[str]], cfg: Word2VecConfig):  # noqa: ANN201
    """Seconds to train and the model."""
    from gensim.models import Word2Vec as GensimWord2Vec

    model = GensimWord2Vec(
        vector_size=cfg.dim, window=cfg.window, negative=cfg.negative, min_count=cfg.min_count,
        sample=cfg.sample, alpha=cfg.alpha, min_alpha=cfg.min_alpha, sg=int(cfg.method == "skipgram"),
        workers=THREADS, seed=cfg.seed,
    )  # fmt: skip
    model.build_vocab(sentences)
    start = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=cfg.epochs)
    return time.perf_counter() - start, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch each, print only")
    parser.add_argument("--corpus", default="wiki100,shakespeare", help="corpus assets or a text file")
    parser.add_argument("--methods", default="skipgram,cbow", help="comma-separated: skipgram, cbow")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="ours: centre words per step (default: the method's)"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="ours, gensim alternately this often (default 3; --quick 1)"
    )
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    epochs = 1 if args.quick else 5
    rounds = args.rounds or (1 if args.quick else 3)
    sentences = load_sentences(args.corpus)
    n_words = sum(len(s) for s in sentences)
    print(
        f"{args.corpus}: {len(sentences):,} sentences, {n_words:,} words; {epochs} epochs; {THREADS} threads"
    )
    rows = []
    for method in args.methods.split(","):
        extra = {} if args.batch_size is None else {"batch_size": args.batch_size}
        cfg = Word2VecConfig(method=method, epochs=epochs, workers=THREADS, **extra)
        runs = []  # per round: (words/s ours, gensim), (accuracy ours, gensim)
        for _ in range(rounds):
            t_ours, vocab, vectors = ours(sentences, cfg)
            t_gensim, model = gensims(sentences, cfg)
            assert vocab.words == model.wv.index_to_key
            acc = (accuracy(vocab.words, vectors), accuracy(vocab.words, model.wv.vectors))
            runs.append(((n_words * epochs / t_ours, n_words * epochs / t_gensim), acc))
            print(
                f"  {method} round {len(runs)}: words/s {runs[-1][0][0]:,.0f} vs {runs[-1][0][1]:,.0f}",
                flush=True,
            )
        random = np.random.default_rng(0).uniform(-1, 1, vectors.shape).astype(np.float32)
        wps = np.median([r[0] for r in runs], axis=0)
        acc = [*np.median([r[1] for r in runs], axis=0), accuracy(vocab.words, random)]
        row = (
            f"| {method} | {100 * acc[0]:.2f}% | {100 * acc[1]:.2f}% | {100 * acc[2]:.2f}% | {acc[0] / acc[1]:.2f} "
            f"| {wps[0]:,.0f} | {wps[1]:,.0f} | {wps[0] / wps[1]:.2f} |"
        )
        print(row, flush=True)
        rows.append(row)
    if not args.quick:
        header = [
            "| method | analogy ours | gensim | random | ours / gensim | words/s ours | gensim | ours / gensim |",
            "|---|---|---|---|---|---|---|---|",
        ]
        append_section(
            f"## word2vec training, ours vs gensim ({datetime.date.today()})\n\n"
            f"Machine: {machine('torch', 'numpy', 'gensim')}; loaded (other jobs shared the cores).\n"
            f"Script: `bench/word2vec.py`. {args.corpus}: {n_words:,} words, {epochs} epochs, dim 100, window 5, "
            f"5 negatives, min_count 5, sample 1e-3; {THREADS} threads each (gensim workers=2, ours 2 Hogwild "
            "workers of one torch thread: forked processes on Linux). Accuracy: gensim's `evaluate_word_analogies` "
            "on questions-words.txt, restricted to the trained vocabulary. Ours and gensim alternated for "
            f"{rounds} rounds; medians. Goals: accuracy >= 0.9x, words/s >= 0.5x gensim's.\n\n"
            + "\n".join(header + rows)
            + "\n"
        )


if __name__ == "__main__":
    main()
