"""Benchmark greedy decoding of SmolLM2-135M: our KV cache vs no cache, and ours vs transformers' ``generate``.

    .venv/bin/python bench/decode.py            # 200 new tokens, batch 1; appends a section to docs/benchmarks.md
    .venv/bin/python bench/decode.py --quick    # 24 new tokens, one round, prints only
    .venv/bin/python bench/decode.py --device cuda

Correctness first, then speed:

1. ours with the KV cache and ours without it (``use_cache=False``: every step re-reads the whole
   sequence) must produce identical tokens;
2. the same weights go to transformers' ``LlamaForCausalLM`` through our ``save_pretrained``, and its
   ``generate(do_sample=False)`` must produce the same tokens as our ``generate(temperature=0)``;
3. then rounds, each timing all three (ours cached, ours without the cache, transformers) in an
   order that rotates from round to round, same threads. New tokens per second (prefill included)
   are medians over the rounds; each ratio is the median of the rounds' own ratios, so a slow
   spell of a shared machine moves both sides of a ratio together;
4. last, the matrix products alone: one token through every weight matrix, back to back. Batch-1
   decoding reads each weight once per token, so this is the floor of a cached step with these
   kernels, and no-cache time / (new tokens x that floor) is the most the cache ratio can reach on
   this machine (the products of SmolLM2 run at the machine's memory streaming rate on a CPU).

Goals (issue 5): cache >= 8x no cache at 200 new tokens; ours >= transformers' tokens/s.
Uses the real weights when the asset smollm2-135m-instruct is pulled, else the same architecture
with random weights (the timing is the same; the tokens are noise).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import transformers

sys.path.insert(0, str(Path(__file__).parent))
from common import append_section, machine  # noqa: E402

from llmlab import assets  # noqa: E402
from llmlab.generation import GenerationConfig, generate  # noqa: E402
from llmlab.models.hf import save_pretrained  # noqa: E402
from llmlab.models.llama import Llama, LlamaConfig  # noqa: E402

QUESTION = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def load(device: str) -> tuple[torch.nn.Module, list[int], str]:
    """Our SmolLM2 (real weights if pulled), a chat prompt's ids, and which weights were used."""
    if assets.AssetStore().check(assets.get_asset("smollm2-135m-instruct"), deep=False).ok:
        from llmlab.models import registry
        from llmlab.tokenizers.chat import load_chat_template
        from llmlab.tokenizers.pretrained import load_pretrained

        model = registry.load("smollm2-135m-instruct")
        tok, template = load_pretrained("smollm2"), load_chat_template("smollm2")
        ids = template.encode(tok, [{"role": "user", "content": QUESTION}], add_generation_prompt=True)
        return model.to(device), ids, "real weights (SmolLM2-135M-Instruct, GGUF Q4_1 dequantised to fp32)"
    print("(smollm2-135m-instruct not pulled here: timing the same architecture with random weights)")
    torch.manual_seed(0)
    model = Llama(LlamaConfig.from_name("smollm2-135m")).eval()
    return model.to(device), list(range(100, 130)), "random weights (asset not pulled)"


def products_alone(model: torch.nn.Module, device: str, repeats: int = 7) -> tuple[float, int]:
    """Seconds for the matrix products a cached step cannot avoid, and the bytes of weight they read.

    One token times every ``nn.Linear`` weight of the model (the tied head once), back to back,
    as a step runs them; the median of ``repeats`` passes. Batch-1 decoding reads every weight
    once per token, so no cached decoder built on these kernels steps faster than this.
    """
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = [torch.randn(1, 1, m.in_features, device=device) for m in linears]
    weight_bytes = sum(m.weight.numel() * m.weight.element_size() for m in linears)

    def one_pass() -> None:
        for m, x in zip(linears, inputs, strict=True):
            torch.nn.functional.linear(x, m.weight, m.bias)

    with torch.inference_mode():
        one_pass()  # warm-up
        seconds = statistics.median(timed(one_pass, device)[1] for _ in range(repeats))
    return seconds, weight_bytes


def timed(fn, device: str):
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="24 new tokens, one round, print only")
    parser.add_argument("--new-tokens", type=int, default=200, help="tokens to generate (batch 1)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (each times all three)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    new, rounds = (24, 1) if args.quick else (args.new_tokens, args.rounds)
    ours, prompt, weights = load(args.device)
    idx = torch.tensor([prompt], device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(ours, tmp)
        theirs = (
            transformers.LlamaForCausalLM.from_pretrained(tmp, dtype=torch.float32).to(args.device).eval()
        )

    def run_ours(use_cache: bool = True) -> list[int]:
        return generate(
            ours, prompt, GenerationConfig(max_new_tokens=new, temperature=0, use_cache=use_cache)
        )[0].ids

    def run_theirs() -> list[int]:
        with torch.no_grad():
            out = theirs.generate(idx, do_sample=False, max_new_tokens=new, eos_token_id=None, pad_token_id=0)
        return out[0, len(prompt) :].tolist()

    print(
        f"prompt {len(prompt)} tokens, {new} new tokens, batch 1, {torch.get_num_threads()} threads, {weights}"
    )
    cached, _ = timed(run_ours, args.device)  # warm-up and the reference tokens
    uncached, _ = timed(lambda: run_ours(use_cache=False), args.device)
    assert uncached == cached, "KV-cache and no-cache decoding disagree"
    reference, _ = timed(run_theirs, args.device)  # warm-up
    same = next((i for i, (a, b) in enumerate(zip(cached, reference, strict=True)) if a != b), None)
    assert same is None, f"ours and transformers differ from new token {same}"
    print(f"correct: cache == no cache == transformers for all {new} tokens")
    runs = {"cache": run_ours, "no cache": lambda: run_ours(use_cache=False), "transformers": run_theirs}
    times: dict[str, list[float]] = {label: [] for label in runs}
    for r in range(rounds):
        order = list(runs)[r % 3 :] + list(runs)[: r % 3]  # each side goes first in turn
        for label in order:
            times[label].append(timed(runs[label], args.device)[1])
        print(
            f"round {r + 1}/{rounds}: "
            + ", ".join(f"{k} {new / v[-1]:.1f} tokens/s" for k, v in times.items())
        )
    tps = {label: new / statistics.median(t) for label, t in times.items()}
    # per round: no-cache time / cache time, and transformers' time / ours (both: how much faster ours is)
    speedups, vs_hfs = ([o / c for o, c in zip(times[other], times["cache"], strict=True)]
                        for other in ("no cache", "transformers"))  # fmt: skip
    speedup, vs_hf = statistics.median(speedups), statistics.median(vs_hfs)
    rows = [
        "| decoder | new tokens/s | ratio |",
        "|---|---|---|",
        f"| ours, no KV cache (recompute every step) | {tps['no cache']:,.1f} | 1.00 |",
        f"| ours, preallocated KV cache | {tps['cache']:,.1f} | {speedup:.1f}x no cache |",
        f"| transformers `generate` | {tps['transformers']:,.1f} | ours / transformers = {vs_hf:.2f} |",
    ]
    floor, weight_bytes = products_alone(ours, args.device)
    t_cache, t_none = new / tps["cache"], new / tps["no cache"]  # median seconds per run
    ceiling = t_none / (new * floor)  # prefill left out of the cached side: a ceiling, not an estimate
    floor_line = (
        f"The matrix products alone (one token through every weight, {weight_bytes / 1e6:,.0f} MB read, "
        f"{weight_bytes / floor / 1e9:.1f} GB/s) take {1000 * floor:.1f} ms; a cached step takes "
        f"{1000 * t_cache / new:.1f} ms (prefill included), so the products are {new * floor / t_cache:.0%} "
        f"of it. With nothing but the products, the cache could be at most {ceiling:.1f}x no cache here."
    )
    print("\n".join(rows))
    print(floor_line)
    print(f"KV cache speedup: {speedup:.1f}x (goal >= 8x); ours / transformers: {vs_hf:.2f} (goal >= 1.0)")
    if not args.quick:
        append_section(
            f"## Greedy decoding, SmolLM2-135M, {args.device} ({datetime.date.today()})\n\n"
            f"Machine: {machine('torch', 'transformers')}.\n"
            f"Script: `bench/decode.py`. {weights}; prompt of {len(prompt)} tokens (chat template), "
            f"{new} new tokens, batch 1, fp32, {torch.get_num_threads()} threads. Tokens checked identical "
            f"first (cache, no cache, transformers); {rounds} rounds timing all three in rotating order; "
            "tokens/s are medians, ratios the medians of each round's ratios.\n\n"
            + "\n".join(rows)
            + "\n\nThe rounds' cache / no-cache ratios: "
            + ", ".join(f"{x:.1f}" for x in speedups)
            + "; ours / transformers: "
            + ", ".join(f"{x:.2f}" for x in vs_hfs)
            + ".\n\n"
            + floor_line
            + "\n"
        )


if __name__ == "__main__":
    main()
