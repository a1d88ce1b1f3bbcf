"""Benchmark the forward pass of our GPT-2 124M and SmolLM2-135M against transformers, on CPU, fp32.

    .venv/bin/python bench/models_forward.py            # full run; appends a section to docs/benchmarks.md
    .venv/bin/python bench/models_forward.py --quick    # one shape, fewer rounds, prints only
    .venv/bin/python bench/models_forward.py --device cuda   # the same on a GPU (also fp32)

Both sides run the same weights: GPT-2 124M with random weights copied into transformers'
``GPT2LMHeadModel`` through our converter, and SmolLM2-135M-Instruct dequantised from its GGUF
by us and handed to ``LlamaForCausalLM`` through ``save_pretrained``. Correctness first: the
logits must agree (assert_close) before anything is timed. Then each shape is timed as
alternating rounds (ours, theirs, theirs, ours, ...) of ``torch.no_grad`` forward passes with the
same thread count; the medians give tokens/s, and the ratio ours / transformers is the median
of the per-round ratios (with their range), so that slow drift of a shared machine cancels.
Needs the asset smollm2-135m-instruct (``llmlab assets pull smollm2-135m-instruct``).
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
from torch.testing import assert_close

sys.path.insert(0, str(Path(__file__).parent))
from common import append_section, machine  # noqa: E402

from llmlab import assets  # noqa: E402
from llmlab.models.gguf_llama import load_llama_gguf  # noqa: E402
from llmlab.models.gpt2 import GPT2, GPT2Config  # noqa: E402
from llmlab.models.hf import hf_config, save_pretrained, to_hf_state_dict  # noqa: E402
from llmlab.models.llama import Llama, LlamaConfig  # noqa: E402


def gpt2_pair(device: str):
    torch.manual_seed(0)
    ours = GPT2(GPT2Config.from_name("gpt2")).eval()
    cfg = {k: v for k, v in hf_config(ours).items() if k not in ("architectures", "model_type")}
    theirs = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg)).eval()
    theirs.load_state_dict(to_hf_state_dict(ours), strict=False)  # lm_head is tied to wte
    return ours.to(device), theirs.to(device)


def smollm2_pair(device: str, folder: Path):
    if assets.AssetStore().check(assets.get_asset("smollm2-135m-instruct"), deep=False).ok:
        ours = load_llama_gguf(assets.require("smollm2-135m-instruct") / "SmolLM2-135M-Instruct.Q4_1.gguf")
    else:  # a bare GPU machine: same architecture and compute, random weights
        print("(smollm2-135m-instruct not pulled here: timing the same architecture with random weights)")
        torch.manual_seed(0)
        ours = Llama(LlamaConfig.from_name("smollm2-135m")).eval()
    save_pretrained(ours, folder)
    theirs = transformers.LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return ours.to(device), theirs.to(device)


def forward_seconds(model, idx: torch.Tensor) -> float:
    if idx.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        model(idx)
    if idx.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def compare(name: str, ours, theirs, shapes, rounds: int, device: str) -> list[str]:
    vocab = ours.config.vocab_size
    check = torch.randint(0, vocab, (2, 64), device=device)
    with torch.no_grad():  # correctness first
        assert_close(ours(check).logits, theirs(check).logits, rtol=1e-4, atol=1e-4)
    rows = []
    for B, T in shapes:
        idx = torch.randint(0, vocab, (B, T), device=device)
        for model in (ours, theirs):  # warm-up: allocator, kernels, caches
            forward_seconds(model, idx)
        times = {"ours": [], "transformers": []}
        for r in range(rounds):
            order = (("ours", ours), ("transformers", theirs))
            for label, model in order if r % 2 == 0 else order[::-1]:
                times[label].append(forward_seconds(model, idx))
        ours_tps = B * T / statistics.median(times["ours"])
        theirs_tps = B * T / statistics.median(times["transformers"])
        # the ratio of each round's pair, then the median: drift of the machine cancels within a pair
        pairs = [t / o for o, t in zip(times["ours"], times["transformers"], strict=True)]
        row = (
            f"| {name} | {B} x {T} | {ours_tps:,.0f} | {theirs_tps:,.0f} | {statistics.median(pairs):.2f} "
            f"({min(pairs):.2f}-{max(pairs):.2f}) |"
        )
        print(row, flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one shape, 3 rounds, print only")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per side and shape")
    args = parser.parse_args()
    shapes = [(1, 256)] if args.quick else [(1, 128), (1, 512), (4, 256)]
    rounds = 3 if args.quick else args.rounds
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 on both sides
        shapes = [(1, 512), (8, 512), (32, 512)] if not args.quick else [(8, 512)]
    header = [
        f"threads: {torch.get_num_threads()}; device: {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""),
        "",
        "| model | batch x tokens | ours tokens/s | transformers tokens/s | ours / transformers (range) |",
        "|---|---|---|---|---|",
    ]
    print("\n".join(header), flush=True)
    rows = compare("GPT-2 124M", *gpt2_pair(args.device), shapes, rounds, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        rows += compare("SmolLM2-135M", *smollm2_pair(args.device, Path(tmp)), shapes, rounds, args.device)
    if not args.quick:
        append_section(
            f"## Model forward pass, fp32, {args.device} ({datetime.date.today()})\n\n"
            f"Machine: {machine('torch', 'transformers')}.\n"
            "Script: `bench/models_forward.py`. Same weights on both sides (logits checked equal first), "
            f"same threads, {rounds} alternating rounds per shape; tokens/s are medians, the ratio is the median per-round ratio (range).\n\n"
            + "\n".join(header + rows)
            + "\n"
        )


if __name__ == "__main__":
    main()
