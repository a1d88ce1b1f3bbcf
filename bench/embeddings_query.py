"""Benchmark nearest-neighbour queries over the 400,000 GloVe 6B-50d words: ours vs gensim's KeyedVectors.

    .venv/bin/python bench/embeddings_query.py              # 100 random query words; appends to docs/benchmarks.md
    .venv/bin/python bench/embeddings_query.py --queries 300 --threads 1 --no-doc

Correctness first, then speed:

1. gensim's ``KeyedVectors`` gets the same words and the same float32 matrix; for every query word
   both ``most_similar(word, topn=10)`` must return the same 10 words (scores within 1e-5);
2. then each query is timed with ours and with gensim, alternating (ours, gensim, gensim, ours...),
   and the medians give milliseconds per query and the ratio.

Goal (issue 6): under 20 ms per query on 2 cores. Both sides do the same work: one (V, D) x (D,)
product over all 400k rows and a partial sort (argpartition) for the top 10 + the query word.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import append_section, machine  # noqa: E402

from llmlab.embeddings.pretrained import load_glove  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100, help="random query words (default 100)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-doc", action="store_true", help="print only; do not append to docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits  # comes with scikit-learn

        threadpool_limits(args.threads)
    from gensim.models import KeyedVectors

    where = machine("numpy", "gensim")
    print(where)
    wv = load_glove()
    kv = KeyedVectors(wv.dim)
    kv.index_to_key, kv.key_to_index, kv.vectors = list(wv.words), dict(wv.key_to_index), wv.vectors.copy()
    rng = np.random.default_rng(args.seed)
    words = [wv.words[i] for i in rng.integers(0, len(wv), size=args.queries)]
    wv.most_similar("the"), kv.most_similar("the")  # warm up: normalised copies, caches

    # 1. correctness
    for w in words:
        ours, theirs = wv.most_similar(w, topn=10), kv.most_similar(w, topn=10)
        assert [x for x, _ in ours] == [x for x, _ in theirs], (w, ours, theirs)
        assert max(abs(a - b) for (_, a), (_, b) in zip(ours, theirs, strict=True)) < 1e-5
    print(f"same top-10 as gensim for all {len(words)} query words")

    # 2. speed, alternating so that a busy neighbour hurts both sides alike
    times: dict[str, list[float]] = {"llmlab": [], "gensim": []}
    for k, w in enumerate(words):
        order = [("llmlab", wv.most_similar), ("gensim", kv.most_similar)]
        for name, query in order if k % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            query(w, topn=10)
            times[name].append(time.perf_counter() - start)
    ours_ms = 1000 * statistics.median(times["llmlab"])
    theirs_ms = 1000 * statistics.median(times["gensim"])
    print(f"most_similar over {len(wv):,} words x {wv.dim} dims, median of {len(words)} queries:")
    print(f"  llmlab {ours_ms:6.2f} ms/query   (goal: < 20 ms)")
    print(f"  gensim {theirs_ms:6.2f} ms/query   ratio gensim/llmlab = {theirs_ms / ours_ms:.2f}x")
    if not args.no_doc:
        append_section(
            f"## Nearest-neighbour queries, GloVe 6B-50d ({datetime.date.today()})\n\n"
            f"Machine: {where}; BLAS threads {args.threads or 'all'}.\n"
            f"Script: `bench/embeddings_query.py`. `most_similar(word, topn=10)` over {len(wv):,} words x "
            f"{wv.dim} dims; same top 10 as gensim checked first for all {len(words)} random query words; "
            "alternating queries, medians. Goal: < 20 ms per query.\n\n"
            "| implementation | ms / query |\n|---|---|\n"
            f"| llmlab `WordVectors.most_similar` | {ours_ms:.2f} |\n| gensim `KeyedVectors.most_similar` | {theirs_ms:.2f} |\n"
        )


if __name__ == "__main__":
    main()
