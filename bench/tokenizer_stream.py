"""Streaming encode of a large file: ``encode_iterable`` keeps memory bounded.

    .venv/bin/python bench/tokenizer_stream.py                 # 1 GB, appends to docs/benchmarks.md
    .venv/bin/python bench/tokenizer_stream.py --size-mb 50 --no-write

1. Correctness: on a 2 MB prefix, ``encode_iterable(lines)`` must equal ``encode(text)`` for the
   readable and the fast GPT-2 tokenizer, and the two must agree.
2. A file of the real corpora repeated to ``--size-mb`` is encoded line by line through
   ``encode_iterable`` in a fresh process per implementation (the fast path for the full size;
   the readable path on a 100 MB slice, as it runs at a few MB/s); each process reports its
   peak resident memory (VmHWM), the token count and MB/s. Goal: under 100 MB for 1 GB.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import MB, append_section, corpus_text, machine, write_corpus  # noqa: E402

CHILD = """
import json, sys, time
sys.path.insert(0, {bench!r})
from common import peak_rss_mb
from llmlab.tokenizers.registry import load_tokenizer
tok = load_tokenizer("gpt2", {impl!r})
start = time.perf_counter()
n = 0
with open({path!r}, encoding="utf-8", newline="") as f:
    lines = (line for _, line in zip(range({max_lines}), f)) if {max_lines} else f
    for _ in tok.encode_iterable(lines):
        n += 1
elapsed = time.perf_counter() - start
print(json.dumps({{"tokens": n, "seconds": elapsed, "peak_rss_mb": peak_rss_mb()}}))
"""


def check(text: str) -> None:
    from llmlab.tokenizers.registry import load_tokenizer

    readable, quick = load_tokenizer("gpt2"), load_tokenizer("gpt2", "fast")
    lines = text.splitlines(keepends=True)
    expected = readable.encode(text, disallowed_special=())
    assert list(readable.encode_iterable(lines, disallowed_special=())) == expected, "readable stream differs"
    assert list(quick.encode_iterable(lines, disallowed_special=())) == expected, "fast stream differs"


def run(impl: str, path: Path, max_lines: int) -> dict:
    code = CHILD.format(bench=str(Path(__file__).parent), impl=impl, path=str(path), max_lines=max_lines)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size-mb", type=int, default=1000, help="file size for the fast path (default 1000)"
    )
    parser.add_argument(
        "--readable-mb", type=int, default=100, help="slice for the readable path (default 100)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; do not append to docs/benchmarks.md"
    )
    args = parser.parse_args()
    info = machine("regex")
    print(info)
    base = corpus_text()
    check(base[: 2 * MB])
    print("correctness: encode_iterable == encode on 2 MB, readable == fast")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = write_corpus(Path(tmp), args.size_mb, base)
        lines_per_mb = base[:MB].count("\n")
        for impl, size in (("fast", args.size_mb), ("readable", min(args.readable_mb, args.size_mb))):
            max_lines = 0 if size == args.size_mb else size * lines_per_mb
            r = run(impl, path, max_lines)
            r.update(impl=impl, size_mb=size, mb_s=size / r["seconds"])
            rows.append(r)
            print(
                f"{impl:>8}: {size} MB, {r['tokens']:,} tokens, {r['seconds']:.1f} s, "
                f"{r['mb_s']:.1f} MB/s, peak RSS {r['peak_rss_mb']:.0f} MB"
            )
    lines = [
        f"## Streaming encode ({datetime.date.today().isoformat()}, `bench/tokenizer_stream.py`)", "", info, "",
        "`encode_iterable` over a file's lines with the GPT-2 tokenizer, one process per row; ids checked "
        "equal to `encode` on a 2 MB prefix first. Goal: peak RSS under 100 MB for 1 GB.", "",
        "| implementation | file | tokens | seconds | MB/s | peak RSS MB |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['impl']} | {r['size_mb']} MB | {r['tokens']:,} | {r['seconds']:.1f} | {r['mb_s']:.1f} | {r['peak_rss_mb']:.0f} |"
        )
    if not args.no_write:
        append_section("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
