"""Unigram training and encoding: our readable trainer against sentencepiece, same settings.

    .venv/bin/python bench/tokenizer_unigram.py               # 10 MB, vocab 10k; appends to docs/benchmarks.md
    .venv/bin/python bench/tokenizer_unigram.py --size-mb 1 --vocab 2000 --no-write

1. Correctness first: our loader of sentencepiece's freshly trained model must give
   sentencepiece's ids on 2,000 held-out lines (else no figures are reported).
2. Training: the real corpora (shakespeare + wiki100 + botchan) repeated to ``--size-mb``, one
   line per sentence file; unigram, vocab ``--vocab``, character_coverage 1.0, sentencepiece's
   compiled nmt_nfkc for both; sentencepiece with ``num_threads=2`` (the machine's cores), ours
   single-process. Sides alternate, each run in its own process (wall time, peak RSS); medians.
3. Encoding held-out lines with the trained models, one thread, MB/s; ids compared first.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import MB, append_section, corpus_text, machine, write_corpus  # noqa: E402

TRAIN_SPM = """
import json, sys, time
sys.path.insert(0, {bench!r})
from common import peak_rss_mb
import sentencepiece as spm
start = time.perf_counter()
spm.SentencePieceTrainer.train(input={corpus!r}, model_prefix={prefix!r}, model_type="unigram", vocab_size={vocab},
    character_coverage=1.0, normalization_rule_name="nmt_nfkc", num_threads=2, minloglevel=2,
    input_sentence_size=0, shuffle_input_sentence=False, max_sentence_length=100000)
print(json.dumps({{"seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb()}}))
"""

TRAIN_OURS = """
import json, sys, time
sys.path.insert(0, {bench!r})
from common import peak_rss_mb
from llmlab.tokenizers.sentencepiece import load_sentencepiece, save_sentencepiece
from llmlab.tokenizers.train_unigram import train_unigram
nmt_nfkc = load_sentencepiece({prefix!r} + ".model").model.normalizer_spec
start = time.perf_counter()
tok = train_unigram(files=[{corpus!r}], vocab_size={vocab}, normalizer=nmt_nfkc, character_coverage=1.0,
                    show_progress=False, name="ours")
seconds = time.perf_counter() - start
save_sentencepiece(tok, {prefix!r} + "_ours.model")
print(json.dumps({{"seconds": seconds, "peak_rss_mb": peak_rss_mb()}}))
"""


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def encode_speed(model: Path, lines: list[str], rounds: int = 3) -> tuple[float, float]:
    """(ours MB/s, sentencepiece MB/s) on ``lines`` after checking the ids are equal."""
    import time

    import sentencepiece as spm

    from llmlab.tokenizers.sentencepiece import load_sentencepiece

    ours, theirs = load_sentencepiece(model), spm.SentencePieceProcessor(model_file=str(model))
    assert [ours.encode(x) for x in lines] == [theirs.encode(x) for x in lines], "ids differ"
    mb = sum(len(x.encode()) for x in lines) / MB
    times: dict[str, list[float]] = {"ours": [], "spm": []}
    for _ in range(rounds):
        for name, fn in (("ours", ours.encode), ("spm", theirs.encode)):
            start = time.perf_counter()
            for x in lines:
                fn(x)
            times[name].append(time.perf_counter() - start)
    return mb / statistics.median(times["ours"]), mb / statistics.median(times["spm"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=10)
    parser.add_argument("--vocab", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2, help="runs of each side (default 2)")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; do not append to docs/benchmarks.md"
    )
    args = parser.parse_args()
    info = machine("sentencepiece", "numpy")
    print(info)
    base = corpus_text()
    held_out = [ln for ln in base.splitlines()[::97] if ln.strip()][:2000]
    bench = str(Path(__file__).parent)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = str(write_corpus(Path(tmp), args.size_mb, base))
        prefix = str(Path(tmp) / "spm")
        fmt = {"bench": bench, "corpus": corpus, "prefix": prefix, "vocab": args.vocab}
        results: dict[str, list[dict]] = {"spm": [], "ours": []}
        for _ in range(args.runs):  # spm first: ours reuses its compiled nmt_nfkc rules
            results["spm"].append(run(TRAIN_SPM.format(**fmt)))
            results["ours"].append(run(TRAIN_OURS.format(**fmt)))
        ours_mbs, spm_mbs = encode_speed(Path(prefix + ".model"), held_out)
        ours_model_mbs, spm_model_mbs = encode_speed(Path(prefix + "_ours.model"), held_out)
    med = {
        k: {m: statistics.median(r[m] for r in v) for m in ("seconds", "peak_rss_mb")}
        for k, v in results.items()
    }
    o, s = med["ours"], med["spm"]
    rows = [
        f"| training {args.size_mb} MB / vocab {args.vocab:,} | {o['seconds']:.1f} s, {o['peak_rss_mb']:.0f} MB | "
        f"{s['seconds']:.1f} s, {s['peak_rss_mb']:.0f} MB | {o['seconds'] / s['seconds']:.2f}x time, "
        f"{o['peak_rss_mb'] / s['peak_rss_mb']:.2f}x RSS |",
        f"| encoding with spm's model, 1 thread | {ours_mbs:.2f} MB/s | {spm_mbs:.2f} MB/s | {ours_mbs / spm_mbs:.2f}x |",
        f"| encoding with our model, 1 thread | {ours_model_mbs:.2f} MB/s | {spm_model_mbs:.2f} MB/s | "
        f"{ours_model_mbs / spm_model_mbs:.2f}x |",
    ]
    text = "\n".join([
        f"## Unigram ({datetime.date.today().isoformat()}, `bench/tokenizer_unigram.py`)", "", info, "",
        f"Unigram, character_coverage 1.0, nmt_nfkc for both; sentencepiece with 2 threads, ours single-process; "
        f"medians of {args.runs} alternating runs, each in its own process; ids checked equal before timing encodes.",
        "", "| task | ours | sentencepiece | ours / spm |", "|---|---|---|---|", *rows,
    ]) + "\n"  # fmt: skip
    print(text)
    if not args.no_write:
        append_section(text)


if __name__ == "__main__":
    main()
