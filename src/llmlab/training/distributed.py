"""Devices and multi-process training: pick the device, and wrap the model for DDP or FSDP under torchrun.

``torchrun --nproc-per-node 4 ...`` starts 4 copies of the same program and tells each who it is
through environment variables: ``RANK`` (0..3 over all machines), ``LOCAL_RANK`` (0..3 on this
machine, the GPU to use) and ``WORLD_SIZE`` (4). Each process then:

1. joins the group (:func:`setup`): ``nccl`` between GPUs, ``gloo`` between CPU processes;
2. wraps its model (:func:`wrap`):
   * **DDP** (``DistributedDataParallel``): every process holds the whole model; after each
     backward the gradients are averaged across processes (all-reduce), so every copy takes the same
     step. With gradient accumulation, only the last micro-step needs the all-reduce:
     :func:`sync_gradients` turns it off for the others.
   * **FSDP** (``fully_shard``, FSDP2): each process holds 1/N of every parameter, gradient and
     optimizer moment; a block's full weights are gathered just before it runs and freed after.
     Slower per step than DDP, but fits models N times larger.
3. reads a *different* stream of batches (the caller builds each rank's batch source with its own
   seed), and only rank 0 writes logs and checkpoints.

Without ``torchrun`` (and with no process group set up by the caller) everything here is a no-op.
"""

from __future__ import annotations

import gc
import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from llmlab.errors import LLMLabError

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class DistInfo:
    """Who this process is: its rank among ``world_size`` processes (0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False  # a process group is active (even of size 1)
    owned: bool = False  # we created the group, so we destroy it at the end

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> DistInfo:
    """Join the torchrun group named by ``RANK``/``WORLD_SIZE``, or use one the caller set up."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", 0))
        return DistInfo(dist.get_rank(), dist.get_world_size(), local, enabled=True)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo()
    rank, world, local = (
        int(os.environ["RANK"]),
        int(os.environ["WORLD_SIZE"]),
        int(os.environ.get("LOCAL_RANK", 0)),
    )
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local)  # subtle: before init, so NCCL binds this process to its own GPU
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local, enabled=True, owned=True)


def teardown(info: DistInfo) -> None:
    """End of a distributed run: free what holds the group, then leave it (together) if we joined it.

    DDP's reducer holds the process group and sits in reference cycles, so only a garbage
    collection frees it; left to chance, that can happen at interpreter exit, where gloo's
    threads may abort the finished process. The caller drops its own references first. The
    barrier keeps a rank from closing its connections while another still talks to it.
    """
    if not info.enabled:
        return
    gc.collect()
    if info.owned and dist.is_initialized():
        barrier(info)
        dist.destroy_process_group()


def resolve_device(name: str, info: DistInfo) -> torch.device:
    """``"auto"`` -> CUDA, else MPS, else CPU; an explicit device that is missing is an error."""
    if name not in DEVICES:
        raise LLMLabError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise LLMLabError(
            "device 'cuda' was asked for but torch sees no CUDA GPU; use device='auto' or 'cpu'"
        )
    if name == "mps" and not has_mps:
        raise LLMLabError("device 'mps' was asked for but this is not an Apple-silicon Mac with MPS")
    return torch.device("cuda", info.local_rank) if name == "cuda" else torch.device(name)


def wrap(model: nn.Module, info: DistInfo, device: torch.device, fsdp: bool) -> nn.Module:
    """DDP (or FSDP2 with ``fsdp``) around ``model`` when a process group is active; else ``model``.

    FSDP shards each block of ``model.blocks`` (if any) separately, then the rest, so only one
    block's full weights are in memory at a time. It changes the model in place and returns it.
    """
    if not info.enabled:
        if fsdp:
            raise LLMLabError("fsdp=True needs several processes: launch with torchrun --nproc-per-node N")
        return model
    if fsdp:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(device.type, (info.world_size,))
        for block in getattr(model, "blocks", []):
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def sync_gradients(model: nn.Module, sync: bool) -> AbstractContextManager[Any]:
    """A context for one micro-step's backward: all-reduce gradients only when ``sync`` (the last)."""
    if hasattr(model, "set_requires_gradient_sync"):  # FSDP2
        model.set_requires_gradient_sync(sync)
        return nullcontext()
    if hasattr(model, "no_sync") and not sync:  # DDP
        return model.no_sync()
    return nullcontext()


def all_reduce_mean(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of ``t`` over all processes (``t`` itself when alone)."""
    if info.enabled and info.world_size > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t = t / info.world_size
    return t


def barrier(info: DistInfo) -> None:
    """Wait until every process gets here (nothing to wait for when alone)."""
    if info.enabled and info.world_size > 1:
        dist.barrier()


def broadcast(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` (a Python object), on every rank: one decision that all processes follow."""
    if not (info.enabled and info.world_size > 1):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj`` (Python objects, e.g. data positions and RNG states), in rank order."""
    if not (info.enabled and info.world_size > 1):
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def _options(**kwargs: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **kwargs)


def model_state(model: nn.Module, fsdp: bool) -> dict[str, torch.Tensor]:
    """The full (unsharded) weights, on the CPU under FSDP; the raw model's own names either way."""
    if fsdp:
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return get_model_state_dict(model, options=_options(cpu_offload=True))
    return model.state_dict()


def optimizer_state(model: nn.Module, opt: torch.optim.Optimizer, fsdp: bool) -> dict[str, Any]:
    if fsdp:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return get_optimizer_state_dict(model, opt, options=_options(cpu_offload=True))
    return opt.state_dict()


def load_states(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    weights: dict[str, torch.Tensor],
    optim: dict[str, Any],
    fsdp: bool,
) -> None:
    """Put full weights and optimizer state back (sharding them again under FSDP)."""
    if fsdp:
        from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

        set_model_state_dict(model, weights, options=_options())
        set_optimizer_state_dict(model, opt, optim, options=_options())
        return
    model.load_state_dict(weights)
    opt.load_state_dict(optim)
