"""Benchmark the compiled BPE fast path (llmlab.tokenizers.fast) against HF tokenizers and tiktoken.

    .venv/bin/python bench/tokenizer_fast.py            # full run; appends a section to docs/benchmarks.md
    .venv/bin/python bench/tokenizer_fast.py --quick    # 10 MB training only, one round, prints only

Correctness first: the fast trainer must reproduce the reference trainer's merges on a 1 MB slice
and the three encoders must give identical ids on the encoding text; only then are they timed.

1. Training: a corpus of the real shakespeare + wiki100 + botchan texts, repeated to 10 MB
   (vocab 10k) and 100 MB (vocab 32k), written to a temp file. Ours: ``count_files`` (threads)
   + ``train_merges``. HF: ``BpeTrainer`` with the ByteLevel pre-tokenizer (same GPT-2 regex).
   Each run is its own subprocess that reports its own peak RSS (VmHWM); the sides alternate
   (A B, B A, ...) and medians are reported.
2. Encoding: 1 MB of the same text with the GPT-2 ranks on one thread: ours vs tiktoken vs HF
   (a BPE model converted from the same ranks), alternating, medians, MB/s.
Needs the assets shakespeare, wiki100, botchan and gpt2-ranks (``llmlab assets pull ...``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tokenizers

sys.path.insert(0, str(Path(__file__).parent))
from common import MB, append_section, corpus_text, machine, write_corpus  # noqa: E402

# -- training: one subprocess per run --------------------------------------------------------------


def child(kind: str, corpus: str, vocab: int, workers: int) -> None:
    """Runs in the subprocess: train once, print timings as JSON."""
    if kind == "ours":
        from llmlab.tokenizers import fast

        t0 = time.perf_counter()
        counter = fast.count_files([corpus], "gpt2", workers=workers)
        t1 = time.perf_counter()
        merges = fast.train_merges(counter, vocab - 256)
        t2 = time.perf_counter()
        result = {"count_s": t1 - t0, "merge_s": t2 - t1, "merges": len(merges), "words": len(counter)}
    else:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
        t0 = time.perf_counter()
        tokenizer.train([corpus], trainer)
        t2 = time.perf_counter()
        result = {"merges": len(json.loads(tokenizer.to_str())["model"]["merges"])}
    result["wall_s"] = t2 - t0
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). subtle: not ru_maxrss, which Linux carries
    over from the parent's image across fork + exec, so a child of a big parent looks big."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (this benchmark reads Linux's /proc)")


def run_child(kind: str, corpus: Path, vocab: int, workers: int) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, str(corpus), str(vocab), str(workers)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"{kind} training failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_training(base: str) -> None:
    from llmlab.tokenizers import fast, fast_reference

    counts = fast.count_pieces(base[: 1 * MB], "gpt2")
    assert fast.count_pieces_in_files  # the streaming path is tested in tests/test_tok_fast_pretok.py
    assert counts == fast_reference.count_pieces(base[: 1 * MB], "gpt2"), "piece counts differ from regex"
    assert fast.train_merges(counts, 1000) == fast_reference.train_merges(counts, 1000), "merges differ"
    print("check: counts and 1000 merges on 1 MB identical to the Python reference")


def bench_training(base: str, sizes: list[tuple[int, int]], rounds: int, workers: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size_mb, vocab in sizes:
            corpus = write_corpus(Path(tmp), size_mb, base)
            runs: dict[str, list[dict]] = {"ours": [], "hf": []}
            for r in range(rounds):
                for kind in ("ours", "hf") if r % 2 == 0 else ("hf", "ours"):
                    runs[kind].append(run_child(kind, corpus, vocab, workers))
                    print(f"  {size_mb} MB vocab {vocab} round {r + 1} {kind}: {runs[kind][-1]}", flush=True)
            med = {k: {f: statistics.median(run[f] for run in v) for f in v[0]} for k, v in runs.items()}
            rows.append({"size_mb": size_mb, "vocab": vocab, "rounds": rounds, **med})
            corpus.unlink()
    return rows


# -- encoding ------------------------------------------------------------------------------------


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte (the alphabet HF's ByteLevel vocab is written in)."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = iter(range(256, 512))
    return {b: chr(b) if b in keep else chr(next(extra)) for b in range(256)}


def hf_tokenizer_from_ranks(ranks: dict[bytes, int]) -> tokenizers.Tokenizer:
    """An HF BPE tokenizer with the same vocabulary. A token's merge is found by encoding it with
    only the ranks below its own, which leaves exactly two parts (tiktoken's own converter does this)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    from llmlab.tokenizers.fast_reference import encode_piece

    show = bytes_to_unicode()
    text = {token: "".join(show[b] for b in token) for token in ranks}
    token_of = {rank: token for token, rank in ranks.items()}
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) > 1:
            left, right = encode_piece(_Below(ranks, rank), token)
            merges.append((text[token_of[left]], text[token_of[right]]))
    tokenizer = Tokenizer(models.BPE(vocab={text[t]: r for t, r in ranks.items()}, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    return tokenizer


class _Below:
    """The part of ``ranks`` below ``limit``, as a read-only mapping (no copy per token)."""

    def __init__(self, ranks: dict[bytes, int], limit: int):
        self.ranks, self.limit = ranks, limit

    def __contains__(self, key: bytes) -> bool:
        return self.ranks.get(key, self.limit) < self.limit

    def __getitem__(self, key: bytes) -> int:
        if key not in self:
            raise KeyError(key)
        return self.ranks[key]


def bench_encoding(base: str, rounds: int) -> dict:
    import base64

    import tiktoken

    from llmlab import assets
    from llmlab.tokenizers import fast, fast_reference

    path = assets.require("gpt2-ranks") / "gpt2.tiktoken"
    ranks = {
        base64.b64decode(t): int(r)
        for t, r in (line.split() for line in path.read_bytes().splitlines() if line)
    }
    text = base[: MB // 2] + base[len(base) // 2 : len(base) // 2 + MB // 2]  # shakespeare + wikipedia
    ours = fast.RankEncoder(ranks, "gpt2")
    tik = tiktoken.Encoding(
        name="gpt2", pat_str=fast_reference.GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={}
    )
    hf = hf_tokenizer_from_ranks(ranks)
    encoders = {
        "ours": lambda: ours.encode(text),
        "tiktoken": lambda: tik.encode_ordinary(text),
        "hf": lambda: hf.encode(text).ids,
    }
    ids = {name: fn() for name, fn in encoders.items()}
    assert ids["ours"] == ids["tiktoken"] == ids["hf"], "the encoders disagree; not timing them"
    print(
        f"check: {len(ids['ours'])} ids on {len(text.encode()) / MB:.2f} MB identical for ours, tiktoken, HF"
    )
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for r in range(rounds):
        for name in encoders if r % 2 == 0 else reversed(encoders):
            t0 = time.perf_counter()
            encoders[name]()
            times[name].append(time.perf_counter() - t0)
    mb = len(text.encode()) / MB
    return {name: mb / statistics.median(t) for name, t in times.items()} | {"rounds": rounds, "mb": mb}


# -- report --------------------------------------------------------------------------------------


def report(train_rows: list[dict], enc: dict | None, workers: int, info: str) -> str:
    lines = [
        f"## Tokenizer fast path ({datetime.date.today().isoformat()}, `bench/tokenizer_fast.py`)",
        "",
        info,
        "",
    ]
    if train_rows:
        lines += [
            f"BPE training, GPT-2 byte-level pre-tokenizer; ours: {workers} counting threads + 1 merging thread; "
            f"HF: its default thread pool ({os.cpu_count()} threads). Medians of alternating runs, each in its own process.",
            "",
            "| corpus | vocab | ours wall s (count + merge) | HF wall s | wall ours/HF | ours peak RSS MB | HF peak RSS MB | RSS ours/HF |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in train_rows:
            o, h = row["ours"], row["hf"]
            lines.append(
                f"| {row['size_mb']} MB | {row['vocab']} | {o['wall_s']:.1f} ({o['count_s']:.1f} + {o['merge_s']:.1f}) "
                f"| {h['wall_s']:.1f} | {o['wall_s'] / h['wall_s']:.2f} | {o['peak_rss_mb']:.0f} | {h['peak_rss_mb']:.0f} "
                f"| {o['peak_rss_mb'] / h['peak_rss_mb']:.2f} |"
            )
        lines.append("")
    if enc:
        lines += [
            f"Encoding {enc['mb']:.2f} MB with the GPT-2 ranks, one thread, identical ids; median of {enc['rounds']} runs.",
            "",
            "| encoder | MB/s | ours / it |",
            "|---|---|---|",
        ]
        for name in ("ours", "tiktoken", "hf"):
            lines.append(f"| {name} | {enc[name]:.2f} | {enc['ours'] / enc[name]:.2f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 MB training and encoding, 1 round, no docs")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per side (default 3)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="our counting threads")
    parser.add_argument("--no-write", action="store_true", help="print the section, do not append it")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, corpus, vocab, workers = args.child
        child(kind, corpus, int(vocab), int(workers))
        return
    os.environ["TOKENIZERS_PARALLELISM"] = "true"  # HF training uses its thread pool (as it does by default)
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    info = f"{machine('tokenizers', 'tiktoken', 'regex')}; {gcc}"
    base = corpus_text()
    check_training(base)
    rounds = 1 if args.quick else args.rounds
    sizes = [(10, 10_000)] if args.quick else [(10, 10_000), (100, 32_000)]
    train_rows = bench_training(base, sizes, rounds, args.workers)
    # Encoding: one thread each (HF reads RAYON_RS_NUM_CPUS when it first starts its pool).
    os.environ["RAYON_RS_NUM_CPUS"] = os.environ["RAYON_NUM_THREADS"] = "1"
    enc = bench_encoding(base, 5 if args.quick else 11)
    section = report(train_rows, enc, args.workers, info)
    print(section)
    if not (args.quick or args.no_write):
        append_section(section)
        print("appended to docs/benchmarks.md")


if __name__ == "__main__":
    main()
