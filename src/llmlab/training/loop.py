"""The training loop behind ``train()``: one optimizer step, evaluation, checkpoints, exact resume.

One optimizer step (:meth:`Trainer._step`):

1. set every group's learning rate to ``schedule.lr_at(step)`` (a pure function of the step);
2. for each of ``grad_accum`` micro-batches: forward under autocast, then backward of
   ``loss / grad_accum``, so the summed gradients are those of the mean over all micro-batches
   (under DDP only the last backward all-reduces);
3. average the loss over micro-batches and processes; NaN/inf stops the run *before* the update,
   so the parameters (and the last checkpoint) stay good;
4. unscale (fp16 only), clip the global gradient norm to ``grad_clip``, then ``optimizer.step()``.

Exact resume rests on one rule: a checkpoint holds *everything* the next step reads. Parameters,
optimizer moments and step count, the GradScaler, the step (the schedule is a function of it),
every RNG state (dropout) and the batch source's position, all taken at the same step boundary.
After each step the loop snapshots the data position and RNG states, so a Ctrl-C that lands
mid-step saves the state of the last *completed* step, never a half-consumed one.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from llmlab.errors import LLMLabError
from llmlab.training import distributed, runtime
from llmlab.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_to_resume,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from llmlab.training.events import JsonlLog, TensorBoardWriter
from llmlab.training.optim import build_optimizer, param_groups
from llmlab.training.trainer import (
    BatchSource,
    Callback,
    StepInfo,
    TrainConfig,
    TrainingDivergedError,
    TrainResult,
)


class Trainer:
    """One call of ``train()``; see :func:`llmlab.training.trainer.train` for the arguments."""

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: TrainConfig,
        train_batches: BatchSource,
        val_batches: BatchSource | None,
        resume: bool | str | Path,
        callbacks: list[Callback],
        bytes_per_token: float | None,
    ) -> None:
        self.cfg, self.raw, self.train_batches, self.val_batches = cfg, model, train_batches, val_batches
        self.resume, self.callbacks, self.bytes_per_token = resume, callbacks, bytes_per_token
        self.run_dir = Path(cfg.out_dir)
        self.schedule = cfg.schedule_fn()
        self.step, self.tokens, self.last_loss, self.updating = 0, 0, None, False
        self.checkpoint: Path | None = None
        self.losses: list[float] = []
        self.evals: list[dict[str, float]] = []
        self.console = Console()
        self.jsonl: JsonlLog | None = None
        self.tb: TensorBoardWriter | None = None

    def run(self) -> TrainResult:
        start = time.perf_counter()
        self.info = distributed.setup(self.cfg.device)
        try:
            with (
                runtime.deterministic(self.cfg.deterministic),
                runtime.reuse_freed_memory(),
                runtime.StopFlag(lambda m: self._say(m, always=True)) as self.stop,
            ):
                self._setup()
                status = self._loop()
        finally:
            for log in (self.jsonl, self.tb):
                if log is not None:
                    log.close()
            # subtle: let go of the wrapper (and the stop flag, whose callback points back here) so
            # that teardown's collection frees it while the process group is still there
            self.model = self.forward = self.opt = self.stop = None
            distributed.teardown(self.info)
        return TrainResult(
            self.run_dir, self.step, status, self.losses, self.evals, self.checkpoint, self.tokens,
            time.perf_counter() - start,
        )  # fmt: skip

    # -- setup -----------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, info = self.cfg, self.info
        self.device = distributed.resolve_device(cfg.device, info)
        ckpt = checkpoint_to_resume(self.run_dir, self.resume)
        if ckpt is None:
            runtime.seed_everything(cfg.seed + info.rank)
        self.raw = self.raw.to(self.device).train()
        self.model = distributed.wrap(self.raw, info, self.device, cfg.fsdp)
        self.opt = build_optimizer(
            cfg.optimizer, param_groups(self.raw, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
            momentum=cfg.momentum, fused=cfg.fused_optimizer,
        )  # fmt: skip
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")
        self.forward = torch.compile(self.model) if cfg.compile else self.model
        if ckpt is not None:
            self._restore(ckpt)
        self.val_start = copy.deepcopy(self.val_batches.state_dict()) if self.val_batches else None
        self.snap = self._snapshot()
        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            JsonlLog.truncate(self.run_dir / "metrics.jsonl", self.step)  # drop the tail a crash left
            self.jsonl = JsonlLog(self.run_dir / "metrics.jsonl")
            self.tb = TensorBoardWriter(self.run_dir / "tensorboard", purge_step=self.step + 1)
            if ckpt is None:
                config = {"train_config": cfg.to_dict(), "model_config": runtime.model_config(self.raw)}
                (self.run_dir / "config.json").write_text(
                    json.dumps(config, indent=2) + "\n", encoding="utf-8"
                )
        n = sum(p.numel() for p in self.raw.parameters())
        self._say(
            f"training {type(self.raw).__name__} ({n / 1e6:.2f}M parameters) on {self.device} "
            f"({info.world_size} process{'es' if info.world_size > 1 else ''}, {cfg.precision}) "
            f"for {cfg.steps} steps, from step {self.step}; run folder {self.run_dir}"
        )

    def _restore(self, ckpt: Checkpoint) -> None:
        st, rank = ckpt.state, self.info.rank
        if st["world_size"] != self.info.world_size:
            raise LLMLabError(
                f"{ckpt.path} was written by {st['world_size']} processes; resume it with the same number "
                f"(got {self.info.world_size}) so each one finds its data position"
            )
        distributed.load_states(self.raw, self.opt, ckpt.model, st["optimizer"], self.cfg.fsdp)
        if st["scaler"] and self.scaler.is_enabled():
            self.scaler.load_state_dict(st["scaler"])
        set_rng_state(st["rng"][rank])
        self.train_batches.load_state_dict(st["data"][rank])
        self.step, self.tokens, self.last_loss = ckpt.step, st["metrics"]["tokens"], st["metrics"]["loss"]
        self.checkpoint = ckpt.path
        old = st["train_config"]
        changed = [
            k for k, v in self.cfg.to_dict().items() if k not in ("out_dir", "progress") and old.get(k) != v
        ]
        note = f" (changed since: {', '.join(changed)})" if changed else ""
        self._say(f"resuming from {ckpt.path} at step {ckpt.step}{note}")

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> str:
        with runtime.progress_bar(self.console, self.cfg.progress and self.info.is_main) as bar:
            task = bar.add_task("train", total=self.cfg.steps, completed=self.step, loss="-", tps="-")
            try:
                while self.step < self.cfg.steps:
                    info, stop = self._step()
                    bar.update(
                        task, completed=self.step, loss=f"{info.loss:.4f}", tps=f"{info.tokens_per_s:,.0f}"
                    )
                    self._after_step(info)
                    if stop:
                        return self._interrupted()
            except KeyboardInterrupt:
                return self._interrupted(from_exception=True)
        loss = f"{self.last_loss:.4f}" if self.last_loss is not None else "-"
        self._say(f"done: {self.step} steps, final loss {loss}; run folder {self.run_dir}")
        return "completed"

    def _after_step(self, info: StepInfo) -> None:
        """Log, evaluate and checkpoint when due, then run the callbacks."""
        cfg, last = self.cfg, self.step == self.cfg.steps
        if self.step % cfg.log_every == 0 or last:
            self._log(
                {k: getattr(info, k) for k in ("step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s")}
            )
        if self.val_batches is not None and (last or cfg.eval_every and self.step % cfg.eval_every == 0):
            info.val = self._evaluate()
            self._say(
                f"step {self.step}: "
                + ", ".join(
                    f"{k} {v:,.1f}" if k == "val_ppl" else f"{k} {v:.4f}"
                    for k, v in info.val.items()
                    if k != "step"
                )
            )
        if last or cfg.ckpt_every and self.step % cfg.ckpt_every == 0:
            self._save()
        for callback in self.callbacks:
            callback(info)

    def _step(self) -> tuple[StepInfo, bool]:
        cfg, opt = self.cfg, self.opt
        t0 = time.perf_counter()
        lr = self.schedule.lr_at(self.step)
        for group in opt.param_groups:
            group["lr"] = lr
        loss_sum, n_tokens = torch.zeros((), device=self.device), 0
        for micro in range(cfg.grad_accum):
            x, y = self._batch(self.train_batches, check=True)
            n_tokens += x.numel()
            with distributed.sync_gradients(self.model, micro == cfg.grad_accum - 1):
                with runtime.autocast(self.device, cfg.precision):
                    loss = self.forward(x, targets=y).loss
                loss_sum += loss.detach()
                self.scaler.scale(loss / cfg.grad_accum).backward()
        # subtle: the stop flag rides with the loss, so every process sees any process's Ctrl-C
        flag = torch.tensor(float(self.stop.requested), device=self.device)
        stats = distributed.all_reduce_mean(torch.stack([loss_sum / cfg.grad_accum, flag]), self.info)
        loss_value, stop = stats[0].item(), stats[1].item() > 0
        if not math.isfinite(loss_value):
            self._diverged("loss", loss_value)
        self.scaler.unscale_(opt)  # a no-op unless fp16
        params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
        if cfg.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        norm_value = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
        if not math.isfinite(norm_value) and not self.scaler.is_enabled():  # fp16: the scaler skips the step
            self._diverged("gradient norm", norm_value)
        self.updating = True
        self.scaler.step(opt)
        self.scaler.update()
        opt.zero_grad(set_to_none=True)
        self.step += 1
        self.updating = False
        self.snap = self._snapshot()
        tokens = n_tokens * self.info.world_size
        self.tokens += tokens
        self.last_loss = loss_value
        self.losses.append(loss_value)
        tps = tokens / (time.perf_counter() - t0)
        return StepInfo(self.step, loss_value, lr, norm_value, self.tokens, tps, self.raw, opt), stop

    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        """Mean loss over the same ``eval_steps`` validation batches every time, plus ppl and bits/byte."""
        self.val_batches.load_state_dict(copy.deepcopy(self.val_start))
        self.model.eval()
        total = torch.zeros((), device=self.device)
        for _ in range(self.cfg.eval_steps):
            x, y = self._batch(self.val_batches)
            with runtime.autocast(self.device, self.cfg.precision):
                total += self.forward(x, targets=y).loss.float()
        self.model.train()
        loss = distributed.all_reduce_mean(total / self.cfg.eval_steps, self.info).item()
        result = {"step": self.step, "val_loss": loss, "val_ppl": math.exp(min(loss, 700.0))}
        if self.bytes_per_token:
            result["val_bpb"] = loss / math.log(2) / self.bytes_per_token  # nats/token -> bits/byte
        self.evals.append(result)
        self._log(result)
        return result

    # -- checkpoints, interrupts, divergence --------------------------------------------------
    def _save(self) -> None:
        """Checkpoint the state at the last completed step (collective: every process calls it)."""
        cfg, info = self.cfg, self.info
        writes = info.is_main or cfg.fsdp  # FSDP gathers full tensors collectively
        weights = distributed.model_state(self.raw, cfg.fsdp) if writes else {}
        optim = distributed.optimizer_state(self.raw, self.opt, cfg.fsdp) if writes else {}
        per_rank = distributed.gather(self.snap, info)
        error: LLMLabError | None = None
        if info.is_main:
            bad = [k for k, t in weights.items() if t.is_floating_point() and not torch.isfinite(t).all()]
            last_val = self.evals[-1] if self.evals else None
            state = {
                "optimizer": optim,
                "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
                "data": [r["data"] for r in per_rank],  # each process's batch-source position
                "rng": [r["rng"] for r in per_rank],  # each process's RNG states
                "world_size": info.world_size,
                "train_config": cfg.to_dict(),
                "model_config": runtime.model_config(self.raw),
                "metrics": {"loss": self.last_loss, "tokens": self.tokens, "val": last_val},
            }
            try:
                if bad:
                    self._diverged(f"weight {bad[0]}", math.nan, at=self.step)
                self.checkpoint = save_checkpoint(
                    self.run_dir, self.step, weights, state, cfg.keep_checkpoints
                )
            except (CheckpointError, TrainingDivergedError) as e:
                error = e
        failed = distributed.all_reduce_mean(torch.tensor(float(error is not None), device=self.device), info)
        if error is not None:
            raise error
        if failed.item() > 0:
            raise LLMLabError(f"rank 0 could not write the checkpoint at step {self.step}; see its error")

    def _interrupted(self, from_exception: bool = False) -> str:
        """Save the last completed step (unless the interrupt hit the update itself) and say how to resume."""
        # subtle: a KeyboardInterrupt exception can land anywhere: mid-update the parameters are half
        # stepped, and under DDP the other processes are not at the same point for the collective save
        if from_exception and (self.updating or self.info.world_size > 1):
            self._say(
                f"interrupted at step {self.step} without saving; the last checkpoint is {self.checkpoint}",
                always=True,
            )
        else:
            if self.checkpoint is None or self.checkpoint.name != f"step_{self.step:08d}":
                self._save()
            self._say(
                f"interrupted at step {self.step}/{self.cfg.steps}; checkpoint saved to {self.checkpoint}",
                always=True,
            )
        if self.checkpoint is not None:
            self._say(f"resume with:  llmlab train --resume {self.run_dir}", always=True)
        return "interrupted"

    def _diverged(self, what: str, value: float, at: int | None = None) -> None:
        cfg, step = self.cfg, self.step + 1 if at is None else at
        last = f"{self.last_loss:.4f} at step {self.step}" if self.last_loss is not None else "none yet"
        causes = [
            f"the learning rate is too high (peak lr {cfg.lr:g}: try {cfg.lr / 3:g} or a longer warmup)"
        ]
        if cfg.precision == "fp16":
            causes.append("fp16 overflow (values beyond 65504: use precision 'bf16' or 'fp32')")
        if cfg.grad_clip == 0:
            causes.append("no gradient clipping (set grad_clip=1.0)")
        causes.append("a bad batch or a bug in the model")
        kept = (
            f"The last good checkpoint is {self.checkpoint}: change the settings and resume it with "
            f"`llmlab train --resume {self.run_dir}`"
            if self.checkpoint
            else "No checkpoint had been written yet"
        )
        self._log({"step": step, "event": "diverged", "what": what, "value": value}, tensorboard=False)
        raise TrainingDivergedError(
            f"training diverged: the {what} became {value} at step {step} (last good loss {last}); "
            f"likely causes: {'; '.join(causes)}. {kept}",
            step, self.last_loss, self.checkpoint,
        )  # fmt: skip

    # -- small helpers -----------------------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        return {"data": copy.deepcopy(self.train_batches.state_dict()), "rng": rng_state()}

    def _batch(self, source: Any, check: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        batch = source.next_batch() if hasattr(source, "next_batch") else next(source)
        x, y = (torch.as_tensor(t) for t in batch)
        if check and x.shape[0] != self.cfg.batch_size:
            raise LLMLabError(
                f"the batch source gives {x.shape[0]} sequences per batch but "
                f"batch_size={self.cfg.batch_size}; build both with the same batch size"
            )
        return x.to(self.device, torch.long), y.to(self.device, torch.long)

    def _log(self, record: dict[str, Any], tensorboard: bool = True) -> None:
        if self.jsonl is not None and self.tb is not None:
            self.jsonl.write(record)
            if not tensorboard:
                return
            prefix = "val/" if "val_loss" in record else "train/"
            numbers = {k.removeprefix("val_"): v for k, v in record.items() if isinstance(v, (int, float))}
            self.tb.scalars(record["step"], {prefix + k: v for k, v in numbers.items() if k != "step"})

    def _say(self, message: str, always: bool = False) -> None:
        """Print for the main process; ``progress=False`` silences all but what an interrupt must say."""
        if not (self.cfg.progress or always):
            return
        if getattr(self, "info", None) is None or self.info.is_main:
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)
