"""Checkpoints: a run's whole training state in a folder, written atomically, read with no pickle.

A checkpoint is what exact resume needs, in three files under ``RUN/checkpoints/step_00000500/``:

* ``model.safetensors``: the model weights (our safetensors writer);
* ``state.safetensors``: every other tensor: optimizer moments, the torch/CUDA RNG states, ...;
* ``state.json``: everything else as JSON: the step, optimizer hyperparameters, the Python and
  NumPy RNG states, the data position, the run and model configs, the latest metrics. A tensor
  appears here as ``{"__tensor__": "optimizer.state.3.exp_avg"}``, its key in ``state.safetensors``.

Nothing is pickled, so loading a checkpoint cannot run code (``torch.load`` on an untrusted
``.pt`` can; see :mod:`llmlab.formats.checkpoints`), and ``jq``/any safetensors reader can inspect it.

Writing is atomic, in steps, so a crash or a full disk at any moment leaves the previous
checkpoint whole:

1. write the three files into ``checkpoints/.tmp-step_00000500-<random>/`` and fsync each;
2. fsync the folder, then ``rename`` it to ``step_00000500`` (one atomic directory operation)
   and fsync ``checkpoints/`` so the rename itself is on disk;
3. only then delete the oldest checkpoints beyond ``keep``.

So every ``step_*`` folder is complete by construction, and "latest" is simply the highest step:
:func:`latest_checkpoint` needs no pointer file that could disagree with the folders.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmlab.errors import LLMLabError
from llmlab.formats.safetensors import load_file, save_file

CHECKPOINTS = "checkpoints"  # sub-folder of the run folder
FORMAT = "llmlab-checkpoint"
VERSION = 1


class CheckpointError(LLMLabError):
    """A checkpoint cannot be written (full disk, permissions) or read (missing, corrupt)."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: ``model`` is a state dict for ``load_state_dict``; ``state`` all the rest."""

    path: Path
    step: int
    model: dict[str, torch.Tensor]
    state: dict[str, Any]


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The complete checkpoints of a run, oldest first (temp folders of a crashed write are skipped)."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [
        p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step_") and p.name[5:].isdigit()
    ]
    return sorted(found, key=lambda p: int(p.name[5:]))


def latest_checkpoint(path: str | Path) -> Path | None:
    """The checkpoint ``path`` names: a checkpoint folder itself, or the newest one of a run folder."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    run_dir = path.parent if path.name == CHECKPOINTS else path
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def checkpoint_to_resume(run_dir: str | Path, resume: bool | str | Path) -> Checkpoint | None:
    """What a run starts from: ``None`` for a fresh run, else the checkpoint ``resume`` points at.

    ``resume=True`` means the newest checkpoint of ``run_dir``; a path names a run or checkpoint
    folder. A fresh run into a folder that already holds checkpoints is refused (it would mix two
    runs' logs and checkpoints), and so is a resume with nothing to resume.
    """
    run_dir = Path(run_dir)
    if not resume:
        found = latest_checkpoint(run_dir) if run_dir.exists() else None
        if found is not None:
            raise LLMLabError(
                f"{run_dir} already holds a run (checkpoint {found.name}); continue it with "
                f"`llmlab train --resume {run_dir}` (resume=True) or choose another out_dir"
            )
        return None
    path = run_dir if resume is True else Path(resume)
    if latest_checkpoint(path) is None:
        raise LLMLabError(f"nothing to resume: no checkpoint in {path}; start the run without --resume")
    return load_checkpoint(path)


def save_checkpoint(
    run_dir: str | Path, step: int, model_state: dict[str, torch.Tensor], state: dict[str, Any], keep: int = 2
) -> Path:
    """Write ``RUN/checkpoints/step_<step>/`` atomically (see the module docstring); return its path.

    ``keep`` > 0 deletes all but the newest ``keep`` checkpoints once the new one is in place;
    checkpoints *after* ``step`` (an abandoned branch, when a run was resumed from an older one)
    are deleted too, so "latest" stays this run's timeline.
    """
    folder = Path(run_dir) / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / checkpoint_name(step)
    tmp = folder / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    previous = latest_checkpoint(run_dir)
    for stale in folder.glob(".tmp-*"):  # left by a writer that was killed mid-checkpoint
        shutil.rmtree(stale, ignore_errors=True)
    try:
        tmp.mkdir()
        tensors: dict[str, torch.Tensor] = {}
        meta = {"format": FORMAT, "version": VERSION, "step": step, "state": encode(state, "", tensors)}
        save_file(model_state, tmp / "model.safetensors")
        save_file(tensors, tmp / "state.safetensors")
        _write_synced(tmp / "state.json", json.dumps(meta, indent=1).encode())
        _fsync_dir(tmp)
        if final.exists():  # a re-run of the same step: move the old one aside, never delete first
            final.rename(folder / f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        tmp.rename(final)
        _fsync_dir(folder)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = f"the previous checkpoint {previous} is intact" if previous else "no earlier checkpoint exists"
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise CheckpointError(
                f"the disk is full (no space left on device) while writing checkpoint {final}; {kept}. "
                f"Free some space on the disk holding {folder} and resume the run"
            ) from e
        raise CheckpointError(f"could not write checkpoint {final}: {e.strerror or e}; {kept}") from e
    for old in folder.glob(".old-*"):
        shutil.rmtree(old, ignore_errors=True)
    done = list_checkpoints(run_dir)
    stale = [p for p in done if int(p.name[5:]) > step]
    kept_ones = [p for p in done if int(p.name[5:]) <= step]
    for p in stale + (kept_ones[:-keep] if keep > 0 else []):
        shutil.rmtree(p, ignore_errors=True)
    return final


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint folder, or the newest checkpoint of a run folder (tensors land on the CPU)."""
    found = latest_checkpoint(path)
    if found is None:
        raise CheckpointError(f"no checkpoint in {path} (looked for {Path(path) / CHECKPOINTS}/step_*)")
    try:
        meta = json.loads((found / "state.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{found}/state.json is not an llmlab checkpoint")
        tensors = load_file(found / "state.safetensors")
        model = load_file(found / "model.safetensors")
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {found} is unreadable: {e}") from e
    return Checkpoint(found, int(meta["step"]), model, decode(meta["state"], tensors))


# -- RNG states ------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Every random generator a training step may draw from: Python, NumPy, torch CPU, CUDA."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(legacy=False),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`; CUDA states are restored only onto the same number of devices."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# -- nested state <-> JSON + tensors ---------------------------------------------------------
def encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    """``obj`` as JSON, moving each tensor into ``tensors`` under its dotted ``path``.

    Tuples, NumPy arrays and dicts with non-string keys (an optimizer's ``{0: {...}}``) are tagged
    so :func:`decode` gives back exactly what went in; anything else unknown is an error.
    """
    if isinstance(obj, torch.Tensor):
        key = path or "tensor"
        tensors[key] = obj.detach().cpu()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.dtype.str, "shape": list(obj.shape), "data": obj.ravel().tolist()}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        sub = (path + ".") if path else ""
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode(v, sub + k, tensors) for k, v in obj.items()}
        return {"__items__": [[encode(k, "", {}), encode(v, f"{sub}{k}", tensors)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    raise CheckpointError(f"cannot store a {type(obj).__name__} at {path or 'the top'} in a checkpoint")


def decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(obj, list):
        return [decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return np.array(obj["data"], dtype=np.dtype(obj["__ndarray__"])).reshape(obj["shape"])
    if "__tuple__" in obj:
        return tuple(decode(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {decode(k, tensors): decode(v, tensors) for k, v in obj["__items__"]}
    return {k: decode(v, tensors) for k, v in obj.items()}


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make a folder's entries (new files, a rename) durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
