"""Where a compiled GPT-2 training step spends its GPU time: kernel time by kind, and the MFU.

    python bench/train_profile.py                      # gpt2, bf16, batch 32, vocab padded to 50,304
    python bench/train_profile.py --batch 64
    python bench/train_profile.py --compile-mode max-autotune-no-cudagraphs

Runs ``train()`` (forward, backward, clip, AdamW) with ``compile=True`` and bf16 autocast on CUDA,
times steps 15..24 as ``bench/train_step.py`` does (median; FLOPs = tokens * (6N + 12 L d T),
padded vocabulary rows not counted), and records the CUDA kernels of steps 12..14 with
``torch.profiler``. Kernels are sorted into matrix products (cuBLAS/CUTLASS), attention
(cuDNN/flash SDPA), the loss (log-softmax + NLL), the optimizer (multi-tensor kernels) and the
rest (Inductor's fused GELU, LayerNorm, casts and bias sums). The gap between the step time and
the kernel time is the GPU waiting for the host (the loss and gradient-norm reads each step).
Appends a section to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).parent))
from common import append_section, machine  # noqa: E402
from train_step import gpu_peak_tflops  # noqa: E402

from llmlab.data.batches import RandomWindows  # noqa: E402
from llmlab.models.gpt2 import GPT2, GPT2Config  # noqa: E402
from llmlab.training.trainer import TrainConfig, train  # noqa: E402

KINDS = {  # substrings of kernel names, first match wins
    "matrix products": ("gemm", "sm90_xmma", "cutlass", "nvjet", "triton_mm", "matmul"),
    "attention": ("flash", "fmha", "sdpa", "attention", "compute_dot_do_o", "convert_dq"),
    "optimizer": ("multi_tensor", "foreach"),
    "loss": ("log_softmax", "nll_loss", "cross_entropy"),
}
PROFILED = (12, 15)  # steps 12, 13, 14
TIMED_FROM = 15


def kind(name: str) -> str:
    low = name.lower()
    return next((k for k, keys in KINDS.items() if any(s in low for s in keys)), "other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="sequences of 1,024 tokens per step")
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    if args.compile_mode != "default":  # the trainer calls torch.compile(model): give it the mode
        compile_ = torch.compile
        torch.compile = lambda model, **kw: compile_(model, mode=args.compile_mode, **kw)
    torch.manual_seed(0)
    real_vocab = GPT2Config.from_name("gpt2").vocab_size
    cfg_model = dataclasses.replace(GPT2Config.from_name("gpt2"), vocab_size=50_304)
    model = GPT2(cfg_model)
    B, T = args.batch, cfg_model.max_seq_len
    n = model.num_parameters() - model.pos_emb.weight.numel() - (50_304 - real_vocab) * cfg_model.d_model
    flops = B * T * (6 * n + 12 * cfg_model.n_layer * cfg_model.d_model * T)
    seen, prof = [], profile(activities=[ProfilerActivity.CUDA])

    def on_step(info) -> None:  # noqa: ANN001
        seen.append(info.tokens_per_s)
        if info.step == PROFILED[0] - 1:
            torch.cuda.synchronize()
            prof.start()
        elif info.step == PROFILED[1] - 1:
            torch.cuda.synchronize()
            prof.stop()

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            steps=TIMED_FROM + 10, batch_size=B, warmup=1, eval_every=0, ckpt_every=0, precision="bf16",
            device="cuda", compile=True, progress=False, out_dir=str(Path(tmp) / "run"),
        )  # fmt: skip
        tokens = torch.randint(
            0, real_vocab, (2_000_000,), generator=torch.Generator().manual_seed(0)
        ).numpy()
        train(model, cfg, RandomWindows(tokens, B, T, seed=0), callbacks=[on_step])
    step_s = statistics.median(B * T / tps for tps in seen[TIMED_FROM:])
    n_steps = PROFILED[1] - PROFILED[0]
    per_kind: dict[str, float] = {}
    for e in prof.key_averages():
        per_kind[kind(e.key)] = per_kind.get(kind(e.key), 0.0) + e.device_time_total / 1000 / n_steps
    kernels = sum(per_kind.values())
    name = torch.cuda.get_device_name()
    peak = gpu_peak_tflops(name) or float("nan")
    mfu = flops / step_s / 1e12 / peak
    rows = [
        f"| {k} | {ms:.1f} | {ms / step_s / 1000:.0%} |"
        for k, ms in sorted(per_kind.items(), key=lambda x: -x[1])
    ]
    rows.append(
        f"| GPU idle (waiting for the host) | {step_s * 1000 - kernels:.1f} | {1 - kernels / step_s / 1000:.0%} |"
    )
    table = ["| kernels | ms / step | share of the step |", "|---|---|---|", *rows]
    head = f"gpt2 bf16 compiled ({args.compile_mode}), batch {B} x {T}: {step_s * 1000:.1f} ms / step, MFU {mfu:.1%}"
    print(head + "\n" + "\n".join(table))
    append_section(
        f"## Training step profile, gpt2 compiled, cuda (batch {B}, compile mode {args.compile_mode}) "
        f"({datetime.date.today()})\n\nMachine: {machine('torch')}; {name}.\n"
        "Script: `bench/train_profile.py`. `train()` step with bf16 autocast and `compile=True`, vocabulary "
        "padded to 50,304; median step time of steps 15-24; CUDA kernel time of steps 12-14 by kind "
        f"(torch.profiler). MFU against the data-sheet bf16 peak of {peak:.0f} TFLOP/s.\n\n"
        f"{head}.\n\n" + "\n".join(table) + "\n"
    )


if __name__ == "__main__":
    main()
