"""Benchmark our trainer against transformers' GPT2LMHeadModel trained by a plain torch loop.

    .venv/bin/python bench/train_vs_hf.py            # appends a section to docs/benchmarks.md
    .venv/bin/python bench/train_vs_hf.py --quick    # fewer steps, prints only
    .venv/bin/python bench/train_vs_hf.py --rounds 5 --no-compile   # more rounds, eager only
    .venv/bin/python bench/train_vs_hf.py --device cuda --preset gpt2 --batch 16 --precision bf16

Same model config (the ``gpt-mini`` preset by default: 6 layers, 384 wide, context 256, vocab
4,096, no dropout), same initial weights, same batches, same threads, same optimizer settings
(AdamW, betas (0.9, 0.95), weight decay 0.1 on matrices, clipping at 1.0).

1. Correctness first: our weights go to transformers through our ``save_pretrained``; both models
   must give the same logits and the same loss on a batch (rtol 1e-4), so the two sides compute
   the same function.
2. transformers' side is the loop everyone writes: ``loss = model(input_ids=x, labels=x).loss``,
   ``backward``, ``clip_grad_norm_``, ``torch.optim.AdamW.step``, ``zero_grad``.
3. Our side is ``llmlab.training.train()`` (the trainer the CLI runs: checkpoint-ready snapshots,
   NaN checks, logging), once eager and once with ``compile=True``.
4. Rounds alternate (ours, theirs, theirs, ours ...); each round gives each side's median step
   time and their ratio; the reported ratio is the median of the rounds' ratios, so a slow spell
   of a shared machine, which slows both sides of a round, cancels.

Goal (issue 5): our trainer >= 1.2x transformers' tokens/s.
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

from llmlab.data.batches import RandomWindows  # noqa: E402
from llmlab.models.gpt2 import GPT2, GPT2Config  # noqa: E402
from llmlab.models.hf import save_pretrained  # noqa: E402
from llmlab.training.optim import param_groups  # noqa: E402
from llmlab.training.trainer import TrainConfig, train  # noqa: E402


def models(preset: str, device: str) -> tuple[GPT2, torch.nn.Module]:
    """Ours and transformers', with identical weights (through our converter)."""
    torch.manual_seed(0)
    ours = GPT2(GPT2Config.from_name(preset))
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(ours, tmp)
        theirs = transformers.GPT2LMHeadModel.from_pretrained(tmp, attn_implementation="sdpa")
    return ours.to(device), theirs.to(device)


def check_same_function(ours: GPT2, theirs: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        a = ours(x, targets=y)
        b = theirs(input_ids=x)
        torch.testing.assert_close(a.logits, b.logits, rtol=1e-4, atol=1e-4)
        ref = torch.nn.functional.cross_entropy(b.logits.flatten(0, 1), y.flatten())
        torch.testing.assert_close(a.loss, ref, rtol=1e-4, atol=1e-5)
    return float(a.loss)


def ours_step_times(model: GPT2, batches: RandomWindows, args, steps: int, compile: bool) -> list[float]:
    """Seconds per step of ``train()``, from the trainer's own tokens/s (the first step dropped)."""
    seen: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            steps=steps + 1, batch_size=args.batch, warmup=1, lr=3e-4, weight_decay=0.1, eval_every=0,
            ckpt_every=0, precision=args.precision, device=args.device, compile=compile, progress=False,
            out_dir=str(Path(tmp) / "run"),
        )  # fmt: skip
        train(model, cfg, batches, callbacks=[lambda info: seen.append(info.tokens_per_s)])
    tokens = args.batch * model.config.max_seq_len
    return [tokens / tps for tps in seen[1:]]


def theirs_step_times(model: torch.nn.Module, batches: RandomWindows, args, steps: int, opt) -> list[float]:
    """Seconds per step of the plain loop (the first step dropped)."""
    times = []
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    for _ in range(steps + 1):
        start = time.perf_counter()
        x, _ = (torch.as_tensor(t).to(args.device, torch.long) for t in batches.next_batch())
        with torch.autocast(args.device, dtype=dtype, enabled=dtype is not None):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # the loop prints or logs its loss: that waits for the GPU, as ours does
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds, print only")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="gpt-mini")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled run of ours")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds (a noisy machine wants more)"
    )
    args = parser.parse_args()
    steps, rounds = (3, 1) if args.quick else (6, args.rounds)
    ours, theirs = models(args.preset, args.device)
    T, V = ours.config.max_seq_len, ours.config.vocab_size
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, V, (2_000_000,), generator=g).numpy()
    x, y = (torch.as_tensor(t).to(args.device, torch.long) for t in RandomWindows(tokens, 2, T).next_batch())
    loss = check_same_function(ours, theirs, x, y)
    print(f"same logits and loss on a batch (loss {loss:.4f}); {args.preset}, {args.device}, {args.precision}, "
          f"batch {args.batch} x {T}, threads {torch.get_num_threads()}")  # fmt: skip
    opt = torch.optim.AdamW(param_groups(theirs, 0.1), lr=3e-4, betas=(0.9, 0.95))
    batches = RandomWindows(tokens, args.batch, T, seed=1)
    kinds = ["eager"] + ([] if args.no_compile else ["compiled"])
    # per round, each side's median step time; the two sides of a round ran minutes apart at most
    rounds_ms: dict[str, list[float]] = {"transformers": [], **{k: [] for k in kinds}}
    for r in range(rounds):
        order = ["transformers", *kinds] if r % 2 else [*kinds, "transformers"]
        for who in order:
            if who == "transformers":
                times = theirs_step_times(theirs, batches, args, steps, opt)
            else:
                times = ours_step_times(ours, batches, args, steps, compile=who == "compiled")
            rounds_ms[who].append(statistics.median(times) * 1000)
    rows, per_round = [], []
    for who, label in (("transformers", "transformers GPT2LMHeadModel, plain loop"), ("eager", "ours, train()"),
                       ("compiled", "ours, train(compile=True)")):  # fmt: skip
        if who not in rounds_ms:
            continue
        # the ratio is the median of the rounds' ratios: a slow spell of the machine hits both sides of a round
        ratios = [b / a for a, b in zip(rounds_ms[who], rounds_ms["transformers"], strict=True)]
        ms = statistics.median(rounds_ms[who])
        rows.append(
            f"| {label} | {ms:,.1f} | {args.batch * T / ms * 1000:,.0f} | {statistics.median(ratios):.2f}x |"
        )
        print(rows[-1], flush=True)
        if who != "transformers":
            per_round.append(f"{label}: " + ", ".join(f"{x:.2f}" for x in ratios))
    print("round ratios: " + "; ".join(per_round))
    if not args.quick:
        append_section(
            f"## Trainer vs transformers, {args.preset}, {args.device}, {args.precision} ({datetime.date.today()})\n\n"
            f"Machine: {machine('torch', 'transformers')}; threads {torch.get_num_threads()}.\n"
            f"Script: `bench/train_vs_hf.py`. Same config, initial weights (logits checked equal first), "
            f"batches and AdamW settings; batch {args.batch} x {T}; {rounds} alternating rounds of {steps} "
            "steps; ms/step is the median of the rounds' median step times, the ratio the median of the "
            "rounds' ratios. Goal: ours >= 1.2x.\n\n"
            "| trainer | ms / step | tokens/s | vs transformers |\n|---|---|---|---|\n"
            + "\n".join(rows)
            + "\n\nRatio in each round: "
            + "; ".join(per_round)
            + ".\n"
        )


if __name__ == "__main__":
    main()
