"""Checkpoint folders: exact round trip without pickle, atomic writes, "latest", and a full disk."""

from __future__ import annotations

import errno
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import llmlab.training.checkpoint as ckpt
from llmlab.errors import LLMLabError
from llmlab.training.checkpoint import (
    CheckpointError,
    decode,
    encode,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def weights(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(4, 3, generator=g), "b": torch.randn(3, generator=g).to(torch.bfloat16)}


def test_nested_state_round_trips_exactly() -> None:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.randn(3))], lr=0.1)
    opt.param_groups[0]["params"][0].grad = torch.ones(3)
    opt.step()
    state = {
        "optimizer": opt.state_dict(),  # int keys, tuples (betas), tensors (moments and torch's step)
        "python": random.getstate(),  # (3, (625 ints), None)
        "numpy": np.random.get_state(legacy=False),  # a uint32 array inside a dict
        "nested": [1, 2.5, None, "x", {"k": (1, [2, 3])}],
        "big": 2**100,  # NumPy bit-generator states hold 128-bit ints
    }
    tensors: dict[str, torch.Tensor] = {}
    meta = json.loads(json.dumps(encode(state, "", tensors)))  # through real JSON text
    back = decode(meta, tensors)
    assert back["python"] == state["python"] and back["nested"] == state["nested"] and back["big"] == 2**100
    assert np.array_equal(back["numpy"]["state"]["key"], state["numpy"]["state"]["key"])
    assert back["numpy"]["state"]["key"].dtype == np.uint32
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert torch.equal(back["optimizer"]["state"][0]["exp_avg"], state["optimizer"]["state"][0]["exp_avg"])
    assert "optimizer.state.0.exp_avg" in tensors  # readable names in state.safetensors
    with pytest.raises(CheckpointError, match="cannot store a set at nested.0 in a checkpoint"):
        encode({"nested": [{1, 2}]}, "", {})


def test_rng_states_restore_every_generator() -> None:
    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_save_load_latest_and_keep(tmp_path: Path) -> None:
    for step in (5, 10, 15):
        path = save_checkpoint(
            tmp_path, step, weights(step), {"step_info": step, "t": torch.arange(3)}, keep=2
        )
        assert path == tmp_path / "checkpoints" / f"step_{step:08d}"
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000010", "step_00000015"]
    loaded = load_checkpoint(tmp_path)  # a run folder resolves to its newest checkpoint
    assert (
        loaded.step == 15
        and loaded.state["step_info"] == 15
        and torch.equal(loaded.state["t"], torch.arange(3))
    )
    for name, t in weights(15).items():
        assert torch.equal(loaded.model[name], t) and loaded.model[name].dtype == t.dtype
    assert load_checkpoint(tmp_path / "checkpoints" / "step_00000010").step == 10  # or name one
    assert not any(p.name.startswith(".") for p in (tmp_path / "checkpoints").iterdir())  # no temp left
    assert b"pickle" not in (loaded.path / "state.json").read_bytes()


def test_saving_an_earlier_step_drops_the_abandoned_future(tmp_path: Path) -> None:
    for step in (5, 10):
        save_checkpoint(tmp_path, step, weights(step), {}, keep=0)
    save_checkpoint(tmp_path, 7, weights(7), {}, keep=0)  # resumed from 5 with other settings
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000005", "step_00000007"]
    assert latest_checkpoint(tmp_path).name == "step_00000007"


def test_a_crash_mid_write_is_invisible(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, 5, weights(5), {})
    (tmp_path / "checkpoints" / ".tmp-step_00000010-deadbeef").mkdir()  # a writer killed mid-way
    assert latest_checkpoint(tmp_path).name == "step_00000005"
    save_checkpoint(tmp_path, 10, weights(10), {})
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_00000005", "step_00000010"]


def test_full_disk_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_checkpoint(tmp_path, 5, weights(5), {"marker": "five"})
    real_save = ckpt.save_file

    def fill_disk(tensors: dict, path: Path, metadata: dict | None = None) -> None:
        if path.name == "state.safetensors":  # model.safetensors made it, then the disk filled up
            path.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(tensors, path, metadata)

    monkeypatch.setattr(ckpt, "save_file", fill_disk)
    with pytest.raises(CheckpointError) as info:
        save_checkpoint(tmp_path, 10, weights(10), {"marker": "ten"})
    message = str(info.value)
    assert "the disk is full" in message and str(tmp_path / "checkpoints" / "step_00000010") in message
    assert f"the previous checkpoint {tmp_path / 'checkpoints' / 'step_00000005'} is intact" in message
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step_00000005"]  # temp folder gone
    loaded = load_checkpoint(tmp_path)
    assert (
        loaded.step == 5
        and loaded.state["marker"] == "five"
        and torch.equal(loaded.model["w"], weights(5)["w"])
    )


def test_other_write_errors_and_bad_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ckpt, "save_file", denied)
    expected = "could not write checkpoint .*step_00000001: Permission denied; no earlier checkpoint exists"
    with pytest.raises(CheckpointError, match=expected):
        save_checkpoint(tmp_path, 1, weights(1), {})
    with pytest.raises(LLMLabError, match=r"no checkpoint in .*nowhere \(looked for .*checkpoints/step_\*\)"):
        load_checkpoint(tmp_path / "nowhere")
    monkeypatch.undo()
    path = save_checkpoint(tmp_path, 2, weights(2), {})
    (path / "state.json").write_text('{"format": "something else"}')
    with pytest.raises(CheckpointError, match="state.json is not an llmlab checkpoint"):
        load_checkpoint(path)
    (path / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="is unreadable"):
        load_checkpoint(path)
