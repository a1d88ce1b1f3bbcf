"""The one safe way to read weights from disk: safetensors and GGUF yes, pickles only on request.

Unlike :mod:`llmlab.formats.safetensors` (one file format), this file decides *which* reader a
path needs and refuses the dangerous one. A ``.bin``/``.pt``/``.pth``/``.ckpt`` checkpoint made by
``torch.save`` is a Python pickle, and unpickling runs whatever the file says to run: a
``__reduce__`` method can make it call ``os.system`` the moment you load it. So a pickle is refused
unless the caller passes ``allow_pickle=True`` (for a file they made themselves), and even then it
goes only through ``torch.load(weights_only=True)``, whose restricted unpickler builds tensors and
plain containers and rejects any other global. Safetensors and GGUF files are data only.

What :func:`load_weights` accepts:

* ``model.safetensors`` (or any ``.safetensors`` file): read by our safetensors reader;
* a folder in the Hugging Face layout: ``model.safetensors``, or shards listed in
  ``model.safetensors.index.json`` (``{"metadata": {"total_size": N}, "weight_map": {name: shard}}``);
* a ``.gguf`` file: every tensor dequantised to float32, under its GGUF name (``blk.0.attn_q.weight``);
* a pickle checkpoint or a folder holding ``pytorch_model.bin``: refused unless ``allow_pickle``.

:func:`save_weights` writes the HF layout: one ``model.safetensors``, or shards + index.json.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import torch

from llmlab.formats.gguf import read_gguf
from llmlab.formats.gguf_quants import load_gguf_tensors
from llmlab.formats.safetensors import WeightsFormatError, load_file, save_file

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_FILE = "pytorch_model.bin"
PICKLE_INDEX = "pytorch_model.bin.index.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
_SHARD = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")  # the HF shard file name pattern


class PickleRefusedError(WeightsFormatError):
    """A pickle checkpoint was not loaded because loading it could run code from the file."""


def load_weights(path: str | Path, *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Every tensor stored at ``path`` (a file or an HF-style folder), on the CPU, keyed by name."""
    path = Path(path)
    if path.is_dir():
        return _load_folder(path, allow_pickle)
    if not path.is_file():
        raise WeightsFormatError(path, "no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return load_file(path)
    if suffix == ".gguf":
        return load_gguf_tensors(read_gguf(path))
    if suffix in PICKLE_SUFFIXES:
        return _load_pickle(path, allow_pickle)
    expected = (
        ".safetensors, .gguf, a folder with model.safetensors, or a pickle ("
        + ", ".join(PICKLE_SUFFIXES)
        + ")"
    )
    raise WeightsFormatError(
        path, f"unknown weights file type {suffix or '(no suffix)'!r} (expected {expected})"
    )


def _load_folder(folder: Path, allow_pickle: bool) -> dict[str, torch.Tensor]:
    # the safe formats win when a folder holds both (HF repos often ship both)
    if (folder / SAFETENSORS_INDEX).is_file():
        return _load_sharded(folder / SAFETENSORS_INDEX, load_file)
    if (folder / SAFETENSORS_FILE).is_file():
        return load_file(folder / SAFETENSORS_FILE)
    if (folder / PICKLE_INDEX).is_file():
        _refuse_unless(folder / PICKLE_INDEX, allow_pickle)
        return _load_sharded(folder / PICKLE_INDEX, lambda p: _load_pickle(p, allow_pickle))
    if (folder / PICKLE_FILE).is_file():
        return _load_pickle(folder / PICKLE_FILE, allow_pickle)
    looked_for = ", ".join([SAFETENSORS_INDEX, SAFETENSORS_FILE, PICKLE_INDEX, PICKLE_FILE])
    raise WeightsFormatError(folder, f"no weights found (looked for {looked_for})")


def _load_sharded(
    index_path: Path, load_shard: Callable[[Path], dict[str, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """Load the shards named in an index.json and check that every name is found exactly once."""
    folder = index_path.parent
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise WeightsFormatError(index_path, f"not valid JSON ({e})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise WeightsFormatError(
            index_path, "must be an object mapping tensor names to shard files", "weight_map"
        )
    shards = list(dict.fromkeys(weight_map.values()))  # each shard once, in order of appearance
    for shard in shards:
        # subtle: a shard is a file *in this folder*; "../x" or "/etc/x" must not send us elsewhere
        if shard in ("", ".", "..") or Path(shard).name != shard or "\\" in shard:
            raise WeightsFormatError(index_path, f"shard {shard!r} is not a plain file name", "weight_map")
    missing = [s for s in shards if not (folder / s).is_file()]
    if missing:
        raise WeightsFormatError(index_path, f"missing shard file(s) {', '.join(missing)} in {folder}")
    tensors: dict[str, torch.Tensor] = {}
    found_in: dict[str, str] = {}
    for shard in shards:
        for name, tensor in load_shard(folder / shard).items():
            if name in found_in:
                raise WeightsFormatError(folder / shard, f"tensor {name!r} is also in shard {found_in[name]}")
            if weight_map.get(name) != shard:
                listed = weight_map.get(name)
                where = f"listed under {listed}" if listed else "not listed"
                raise WeightsFormatError(folder / shard, f"tensor {name!r} is {where} in {index_path.name}")
            tensors[name], found_in[name] = tensor, shard
    absent = [name for name in weight_map if name not in tensors]
    if absent:
        shown = ", ".join(repr(n) for n in absent[:5]) + (", ..." if len(absent) > 5 else "")
        raise WeightsFormatError(
            index_path, f"{len(absent)} tensor(s) listed in weight_map are in no shard: {shown}"
        )
    return tensors


def _refuse_unless(path: Path, allow_pickle: bool) -> None:
    if not allow_pickle:
        raise PickleRefusedError(
            path,
            "refusing to load a pickle checkpoint: unpickling can run arbitrary code hidden in the file. "
            "Convert it to safetensors with a tool you trust, "
            "or pass allow_pickle=True for a file you made yourself",
        )


def _load_pickle(path: Path, allow_pickle: bool) -> dict[str, torch.Tensor]:
    _refuse_unless(path, allow_pickle)
    try:
        # never weights_only=False: even for the caller's own file, only tensors and containers
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError (a forbidden global), a bad zip, a truncated file, ...
        raise WeightsFormatError(path, f"torch.load(weights_only=True) refused it: {_summary(e)}") from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        keys = list(state)[:5] if isinstance(state, dict) else []
        got = f"a dict with keys {keys}" if isinstance(state, dict) else type(state).__name__
        raise WeightsFormatError(path, f"expected a flat dict of name -> tensor (a state_dict), got {got}")
    return dict(state)


def _summary(e: Exception) -> str:
    """One line from torch's long multi-line error: the WeightsUnpickler reason when there is one."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    reason = next((line for line in lines if "WeightsUnpickler error" in line), lines[0] if lines else "")
    return f"{type(e).__name__}: {reason.split('. ')[0]}"


def save_weights(
    tensors: dict[str, torch.Tensor], folder: str | Path, *, max_shard_bytes: int | None = None
) -> list[Path]:
    """Write ``tensors`` into ``folder`` in the HF layout; returns the files written.

    With ``max_shard_bytes`` and more bytes than that, tensors are cut (in order) into shards
    ``model-00001-of-0000N.safetensors`` of at most that size (a bigger tensor gets a shard of its
    own) plus ``model.safetensors.index.json``. Each file carries ``{"format": "pt"}`` metadata,
    which transformers checks for.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {name: t.numel() * t.dtype.itemsize for name, t in tensors.items()}
    total = sum(sizes.values())
    if max_shard_bytes is None or total <= max_shard_bytes:
        save_file(tensors, folder / SAFETENSORS_FILE, metadata={"format": "pt"})
        _remove_stale(folder, keep={SAFETENSORS_FILE})
        return [folder / SAFETENSORS_FILE]
    groups: list[list[str]] = [[]]
    used = 0
    for name, size in sizes.items():  # greedy, in the caller's order
        if groups[-1] and used + size > max_shard_bytes:
            groups.append([])
            used = 0
        groups[-1].append(name)
        used += size
    files = [f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors" for i in range(len(groups))]
    for file, names in zip(files, groups, strict=True):
        save_file({n: tensors[n] for n in names}, folder / file, metadata={"format": "pt"})
    weight_map = {name: file for file, names in zip(files, groups, strict=True) for name in names}
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    # the index goes last and atomically: a reader never sees it before its shards exist
    tmp = folder / f".{SAFETENSORS_INDEX}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        tmp.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder / SAFETENSORS_INDEX)
    finally:
        tmp.unlink(missing_ok=True)
    _remove_stale(folder, keep={*files, SAFETENSORS_INDEX})
    return [folder / f for f in files] + [folder / SAFETENSORS_INDEX]


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Delete weights left from an earlier save in another layout.

    subtle: a leftover index.json would win over a fresh model.safetensors at the next load.
    """
    for p in folder.iterdir():
        stale = p.name in (SAFETENSORS_FILE, SAFETENSORS_INDEX) or _SHARD.fullmatch(p.name)
        if stale and p.name not in keep:
            p.unlink()
