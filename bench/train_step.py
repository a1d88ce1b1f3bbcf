"""Benchmark our trainer's step on the quickstart model: FLOP/s vs torch's own matmul, and bf16 vs fp32.

    .venv/bin/python bench/train_step.py            # full run; appends a section to docs/benchmarks.md
    .venv/bin/python bench/train_step.py --quick    # a smaller batch, fewer steps, one round, prints only
    .venv/bin/python bench/train_step.py --device cuda   # the same on a GPU (matmuls in fp32 without TF32)

The model is the ``gpt-mini`` preset (6 layers, 384 wide, context 256, vocab 4096). Each step is
a real ``llmlab.training.train()`` step (forward, backward, clipping, AdamW), timed by the
trainer itself (``StepInfo.tokens_per_s``). Its useful work is counted as in the PaLM paper
(Chowdhery et al. 2022, appendix B)::

    FLOPs/step = tokens * (6 * N + 12 * n_layer * d_model * T)

with N the parameters that do matmuls (every weight except the position table; the tied
embedding counts once, for the output head), 6 = 2 (multiply-add) * 3 (forward + two backward
matmuls), and the second term the attention scores and mix. Two yardsticks, both this run's own
torch matmuls in the same dtype:

- **at the model's shapes** (the goal's yardstick): every product the step does with a weight,
  forward ``(BT, in) @ (in, out)`` and the two backward ones ``(BT, out) @ (out, in)`` and
  ``(in, BT) @ (BT, out)``, timed alone with ``torch.mm``; their FLOPs over their time is the
  best the step could do if nothing but its matmuls ran;
- **peak**: a 2048^3 product, the machine's best matmul speed at a comfortable size.

The ratio says how close the whole step (attention, norms, GELU, loss, optimizer included) gets
to its own matmuls' speed. On a GPU the script also prints the model FLOPs utilisation (MFU):
achieved FLOP/s over the GPU's dense bf16 peak from its data sheet. Then the same step under ``precision="bf16"`` autocast;
``torch.backends.cpu.get_cpu_capability()`` says which CPU kernels torch picked (AVX512, AMX...).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import append_section, machine  # noqa: E402

from llmlab.data.batches import RandomWindows  # noqa: E402
from llmlab.models.gpt2 import GPT2, GPT2Config  # noqa: E402
from llmlab.training.trainer import TrainConfig, train  # noqa: E402


def matmul_gflops(device: str, dtype: torch.dtype, n: int = 2048, rounds: int = 5) -> float:
    """Median GFLOP/s of an n x n x n product (2 n^3 FLOPs) in ``dtype``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    times = []
    for _ in range(rounds + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times[1:]) / 1e9  # the first one warms up


def shaped_matmul_gflops(
    model: torch.nn.Module, tokens: int, device: str, dtype: torch.dtype, rounds: int = 7
):
    """GFLOP/s of the step's own weight products (forward + both backward ones), timed alone.

    Each product's time is the median of ``rounds`` runs: on a shared machine a mean of three
    moved this yardstick by 30% between rounds."""
    shapes = sorted(
        {(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)}
    )
    count = {s: 0 for s in shapes}
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            count[(m.in_features, m.out_features)] += 1
    flops, seconds = 0.0, 0.0
    for (i, o), n in count.items():
        x, w, dy = (torch.randn(*s, device=device, dtype=dtype) for s in ((tokens, i), (i, o), (tokens, o)))
        for a, b in ((x, w), (dy, w.t()), (x.t(), dy)):  # forward, grad of the input, grad of the weight
            a = a.contiguous()
            c = a @ b  # warm up; then write into the same output, so no allocation is timed
            if device == "cuda":
                torch.cuda.synchronize()
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                torch.mm(a, b, out=c)
                if device == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
            seconds += n * statistics.median(times)
            flops += n * 2 * tokens * i * o
    return flops / seconds / 1e9


# Dense bf16 tensor-core peaks from the data sheets, TFLOP/s (no sparsity)
GPU_PEAK_BF16 = {"H100 SXM": 989.4, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H100": 989.4, "H200": 989.4,
                 "A100": 312.0, "L4": 121.0, "A10": 125.0, "4090": 165.2}  # fmt: skip


def gpu_peak_tflops(name: str) -> float | None:
    """The data-sheet peak of the first table entry named in ``name`` (longest names first)."""
    for key in sorted(GPU_PEAK_BF16, key=len, reverse=True):
        if all(part in name for part in key.split()):
            return GPU_PEAK_BF16[key]
    return None


def step_seconds(
    preset: str,
    precision: str,
    batch: int,
    steps: int,
    warmup: int,
    device: str,
    compile: bool,
    pad_vocab: int = 1,
):  # noqa: ANN201
    """Median seconds per training step (after ``warmup`` steps), and useful FLOPs per step.

    ``pad_vocab`` rounds the vocabulary up to a multiple (nanoGPT's 50,257 -> 50,304 trick: matrix
    sizes that are multiples of 64 get the fast GPU kernels); the padded rows are not counted as
    useful FLOPs, and the batches never use them.
    """
    torch.manual_seed(0)
    cfg_model = GPT2Config.from_name(preset)
    real_vocab = cfg_model.vocab_size
    cfg_model = dataclasses.replace(cfg_model, vocab_size=-(-real_vocab // pad_vocab) * pad_vocab)
    model = GPT2(cfg_model)
    T = cfg_model.max_seq_len
    n = model.num_parameters() - model.pos_emb.weight.numel()
    n -= (cfg_model.vocab_size - real_vocab) * cfg_model.d_model
    flops = batch * T * (6 * n + 12 * cfg_model.n_layer * cfg_model.d_model * T)
    seen: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            steps=warmup + steps, batch_size=batch, warmup=1, eval_every=0, ckpt_every=0, precision=precision,
            device=device, compile=compile, progress=False, out_dir=str(Path(tmp) / "run"),
        )  # fmt: skip
        g = torch.Generator().manual_seed(0)
        tokens = torch.randint(0, real_vocab, (1_000_000,), generator=g).numpy()
        batches = RandomWindows(tokens, batch, T, seed=0)  # uniform tokens: the cost does not depend on them
        train(model, cfg, batches, callbacks=[lambda info: seen.append(info.tokens_per_s)])
    return statistics.median(batch * T / tps for tps in seen[warmup:]), flops, T, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller batch, fewer timed steps, print only")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--preset", default="gpt-mini", help="a GPT-2 preset (gpt-mini, gpt2, ...)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--batch", type=int, help="sequences per step (default 8 on CPU, 32 on CUDA)")
    parser.add_argument("--precisions", default="fp32,bf16", help="comma-separated: fp32, bf16")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--pad-vocab", type=int, default=1, help="round the vocabulary up to a multiple (64)")
    args = parser.parse_args()
    batch, steps, warmup = (2, 2, 1) if args.quick else (8, 6, 2)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 on both sides
        batch, steps, warmup = (16, 10, 3) if args.quick else (32, 20, 5)
    batch = args.batch or batch
    if args.quick:
        args.rounds = 1
    capability = torch.backends.cpu.get_cpu_capability()
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU capability {capability}"
    peak = gpu_peak_tflops(where) if args.device == "cuda" else None
    print(f"{args.preset}{' compiled' if args.compile else ''} on {where}; threads {torch.get_num_threads()}")
    # subtle: on a shared 2-core machine the speed drifts by 20% within minutes, so the precisions
    # alternate for --rounds rounds and every ratio is the median of one round's paired ratios
    per: dict[str, list[dict[str, float]]] = {p: [] for p in args.precisions.split(",")}
    for r in range(args.rounds):
        for precision in per:
            dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
            secs, flops, T, model = step_seconds(
                args.preset, precision, batch, steps, warmup, args.device, args.compile, args.pad_vocab
            )
            shaped = shaped_matmul_gflops(model, batch * T, args.device, dtype)
            mm = matmul_gflops(args.device, dtype)
            per[precision].append(dict(secs=secs, achieved=flops / secs / 1e9, shaped=shaped, mm=mm))
            got = per[precision][-1]
            print(
                f"round {r + 1}/{args.rounds} {precision}: {secs * 1000:,.1f} ms/step, "
                f"{got['achieved'] / shaped:.2f} of its shaped matmuls",
                flush=True,
            )
    rows = []
    for precision, runs in per.items():
        med = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
        to_shaped = statistics.median(run["achieved"] / run["shaped"] for run in runs)
        to_peak = statistics.median(run["achieved"] / run["mm"] for run in runs)
        mfu = (
            f" | {med['achieved'] / 1000 / peak:.1%}"
            if peak and precision == "bf16"
            else (" | -" if peak else "")
        )
        rows.append(
            f"| {precision} | {batch} x {T} | {med['secs'] * 1000:,.1f} | {batch * T / med['secs']:,.0f} "
            f"| {med['achieved']:,.1f} | {med['shaped']:,.1f} | {to_shaped:.2f} | {med['mm']:,.1f} "
            f"| {to_peak:.2f}{mfu} |"
        )
        print(rows[-1])
    speedup = None
    if {"fp32", "bf16"} <= per.keys():
        speedup = statistics.median(
            f["secs"] / b["secs"] for f, b in zip(per["fp32"], per["bf16"], strict=True)
        )
        print(
            f"bf16 autocast speed-up over fp32: {speedup:.2f}x (goal >= 2x where the device has bf16 kernels)"
        )
    if not args.quick:
        header = [
            "| precision | batch x T | ms / step | tokens/s | achieved GFLOP/s | matmul GFLOP/s at the model's "
            "shapes | step / shaped matmul | peak matmul GFLOP/s | step / peak"
            + (" | MFU |" if peak else " |"),
            "|---|---|---|---|---|---|---|---|---|" + ("---|" if peak else ""),
        ]
        compiled = (" compiled" if args.compile else "") + (
            f", vocabulary padded to a multiple of {args.pad_vocab}" if args.pad_vocab > 1 else ""
        )
        append_section(
            f"## Training step, {args.preset}{compiled}, {args.device} ({datetime.date.today()})\n\n"
            f"Machine: {machine('torch', 'numpy')}; {where}; threads {torch.get_num_threads()}.\n"
            f"Script: `bench/train_step.py`. One `train()` step (forward, backward, clip, AdamW), median of "
            f"{steps} after {warmup} warm-up steps, precisions alternating for {args.rounds} rounds (medians; "
            "ratios are medians of each round's ratios); FLOPs = tokens * (6N + 12 L d T) (PaLM). Yardsticks: this "
            "run's torch matmuls in the same dtype, at the model's own weight shapes (forward and backward; "
            "goal: the fp32 step at >= 0.9 of it) and at 2048^3 (peak)"
            + (f"; MFU against the data-sheet bf16 peak of {peak:.0f} TFLOP/s" if peak else "")
            + ".\n\n"
            + "\n".join(header + rows)
            + (
                f"\n\nbf16 autocast / fp32 step speed: {speedup:.2f}x (goal >= 2x where the CPU supports bf16).\n"
                if speedup
                else "\n"
            )
        )


if __name__ == "__main__":
    main()
