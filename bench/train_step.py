"""Benchmark our trainer's step on the quickstart model: FLOP/s vs torch's own matmul, and bf16 vs fp32.

    .venv/bin/python bench/train_step.py            # full run; appends a section to docs/benchmarks.md
    .venv/bin/python bench/train_step.py --quick    # a smaller batch and fewer steps, prints only
    .venv/bin/python bench/train_step.py --device cuda   # the same on a GPU (matmuls in fp32 without TF32)

The model is the ``gpt-mini`` preset (6 layers, 384 wide, context 256, vocab 4096). Each step is
a real ``llmlab.training.train()`` step (forward, backward, clipping, AdamW), timed by the
trainer itself (``StepInfo.tokens_per_s``). Its useful work is counted as in the PaLM paper
(Chowdhery et al. 2022, appendix B)::

    FLOPs/step = tokens * (6 * N + 12 * n_layer * d_model * T)

with N the parameters that do matmuls (every weight except the position table; the tied
embedding counts once, for the output head), 6 = 2 (multiply-add) * 3 (forward + two backward
matmuls), and the second term the attention scores and mix. The yardstick is this run's own
torch matmul in the same dtype (a 2048^3 product, median of several), so the ratio says how close
the whole step gets to the machine's matmul speed. Then the same step under ``precision="bf16"`` autocast;
``torch.backends.cpu.get_cpu_capability()`` says which CPU kernels torch picked (AVX512, AMX...).
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


def step_seconds(
    preset: str, precision: str, batch: int, steps: int, warmup: int, device: str, compile: bool
):  # noqa: ANN201
    """Median seconds per training step (after ``warmup`` steps), and FLOPs per step."""
    torch.manual_seed(0)
    cfg_model = GPT2Config.from_name(preset)
    model = GPT2(cfg_model)
    T = cfg_model.max_seq_len
    n = model.num_parameters() - model.pos_emb.weight.numel()
    flops = batch * T * (6 * n + 12 * cfg_model.n_layer * cfg_model.d_model * T)
    seen: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            steps=warmup + steps, batch_size=batch, warmup=1, eval_every=0, ckpt_every=0, precision=precision,
            device=device, compile=compile, progress=False, out_dir=str(Path(tmp) / "run"),
        )  # fmt: skip
        g = torch.Generator().manual_seed(0)
        tokens = torch.randint(0, cfg_model.vocab_size, (1_000_000,), generator=g).numpy()
        batches = RandomWindows(tokens, batch, T, seed=0)  # uniform tokens: the cost does not depend on them
        train(model, cfg, batches, callbacks=[lambda info: seen.append(info.tokens_per_s)])
    return statistics.median(batch * T / tps for tps in seen[warmup:]), flops, T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller batch, fewer timed steps, print only")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--preset", default="gpt-mini", help="a GPT-2 preset (gpt-mini, gpt2, ...)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = parser.parse_args()
    batch, steps, warmup = (2, 2, 1) if args.quick else (8, 6, 2)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 on both sides
        batch, steps, warmup = (16, 10, 3) if args.quick else (32, 30, 5)
    capability = torch.backends.cpu.get_cpu_capability()
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU capability {capability}"
    print(f"{args.preset}{' compiled' if args.compile else ''} on {where}; threads {torch.get_num_threads()}")
    rows, results = [], {}
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        mm = matmul_gflops(args.device, dtype)
        secs, flops, T = step_seconds(args.preset, precision, batch, steps, warmup, args.device, args.compile)
        results[precision] = secs
        achieved = flops / secs / 1e9
        row = (
            f"| {precision} | {batch} x {T} | {secs * 1000:,.1f} | {batch * T / secs:,.0f} | {achieved:,.1f} "
            f"| {mm:,.1f} | {achieved / mm:.2f} |"
        )
        print(row, flush=True)
        rows.append(row)
    speedup = results["fp32"] / results["bf16"]
    print(f"bf16 autocast speed-up over fp32: {speedup:.2f}x (goal >= 2x where the device has bf16 kernels)")
    if not args.quick:
        header = [
            "| precision | batch x T | ms / step | tokens/s | achieved GFLOP/s | matmul GFLOP/s "
            "| step / matmul |",
            "|---|---|---|---|---|---|---|",
        ]
        append_section(
            f"## Training step, {args.preset}, {args.device} ({datetime.date.today()})\n\n"
            f"Machine: {machine('torch', 'numpy')}; {where}; threads {torch.get_num_threads()}.\n"
            f"Script: `bench/train_step.py`. One `train()` step (forward, backward, clip, AdamW), median of "
            f"{steps} after {warmup} warm-up steps; FLOPs = tokens * (6N + 12 L d T) (PaLM). Yardstick: this "
            "run's torch 2048^3 matmul in the same dtype (goal: the fp32 step at >= 0.9 of it).\n\n"
            + "\n".join(header + rows)
            + f"\n\nbf16 autocast / fp32 step speed: {speedup:.2f}x "
            "(goal >= 2x where the CPU supports bf16).\n"
        )


if __name__ == "__main__":
    main()
