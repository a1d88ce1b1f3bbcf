"""load_weights / save_weights: safe formats, HF sharding both ways, and pickles refused."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
import safetensors.torch as st
import torch

from llmlab.formats.checkpoints import PickleRefusedError, load_weights, save_weights
from llmlab.formats.gguf_quants import load_gguf_tensors
from llmlab.formats.safetensors import WeightsFormatError, save_file

REFUSAL = (
    r": refusing to load a pickle checkpoint: unpickling can run arbitrary code hidden in the file\. "
    r"Convert it to safetensors with a tool you trust, "
    r"or pass allow_pickle=True for a file you made yourself$"
)


def state_dict(n: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    sd = {f"layers.{i}.weight": torch.randn(8, 16, generator=g) for i in range(n)}
    sd["norm.bias"] = torch.zeros(16, dtype=torch.bfloat16)
    sd["step"] = torch.tensor(7)
    return sd


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


class Evil:
    """Unpickling this runs Python code (here it only creates a marker file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_malicious_pickle_never_runs(tmp_path, monkeypatch, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2), "x": Evil(marker)}, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(PickleRefusedError, match="model.pt" + REFUSAL):
        load_weights(path)
    # subtle: torch lets this variable turn weights_only off, but only when the caller did not pass it
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    forbidden = r"refused it: UnpicklingError: .*GLOBAL (builtins.)?exec was not an allowed global"
    with pytest.raises(WeightsFormatError, match=r"torch.load\(weights_only=True\) " + forbidden):
        load_weights(path, allow_pickle=True)
    assert not marker.exists()
    # the file really is malicious: an unrestricted unpickler runs it
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_folder_with_only_pytorch_model_bin_is_refused(tmp_path):
    torch.save(state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(PickleRefusedError, match="pytorch_model.bin" + REFUSAL):
        load_weights(tmp_path)
    assert_same(load_weights(tmp_path, allow_pickle=True), state_dict())
    save_file({"a": torch.ones(1)}, tmp_path / "model.safetensors")  # the safe file wins when both exist
    assert list(load_weights(tmp_path)) == ["a"]


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth", ".ckpt"])
def test_plain_state_dict_loads_only_with_allow_pickle(tmp_path, suffix):
    path = tmp_path / f"weights{suffix}"
    torch.save(state_dict(), path)
    with pytest.raises(PickleRefusedError):
        load_weights(path)
    assert_same(load_weights(path, allow_pickle=True), state_dict())


def test_pickle_that_is_not_a_state_dict(tmp_path):
    torch.save({"model": state_dict(), "step": 3}, tmp_path / "ckpt.pt")
    with pytest.raises(
        WeightsFormatError, match=r"expected a flat dict of name -> tensor .*keys \['model', 'step'\]"
    ):
        load_weights(tmp_path / "ckpt.pt", allow_pickle=True)
    torch.save(torch.ones(3), tmp_path / "junk.bin")  # one tensor, not a dict of them
    with pytest.raises(WeightsFormatError, match="got Tensor"):
        load_weights(tmp_path / "junk.bin", allow_pickle=True)
    (tmp_path / "broken.pt").write_bytes(b"not a pickle at all")
    with pytest.raises(
        WeightsFormatError, match=r"broken.pt: torch.load\(weights_only=True\) refused it: \w+"
    ):
        load_weights(tmp_path / "broken.pt", allow_pickle=True)


def test_sharded_round_trip_and_layout(tmp_path):
    sd = state_dict()
    files = save_weights(
        sd, tmp_path, max_shard_bytes=1200
    )  # 512-byte weights, two per shard; small ones fill up
    names = [p.name for p in files]
    assert names == [f"model-0000{i}-of-00003.safetensors" for i in range(1, 4)] + [
        "model.safetensors.index.json"
    ]
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in sd.values())
    assert index["weight_map"]["layers.0.weight"] == "model-00001-of-00003.safetensors"
    assert_same(load_weights(tmp_path), sd)
    merged = {}  # the reference reads every shard the same
    for f in files[:-1]:
        merged |= st.load_file(f)
    assert_same(merged, sd)


def test_changing_layout_removes_stale_files(tmp_path):
    save_weights(state_dict(), tmp_path, max_shard_bytes=1200)
    save_weights({"only": torch.ones(3)}, tmp_path)  # a single file now: the old index must go
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
    assert list(load_weights(tmp_path)) == ["only"]
    save_weights(state_dict(), tmp_path, max_shard_bytes=1200)
    assert "model.safetensors" not in {p.name for p in tmp_path.iterdir()}


def test_transformers_reads_our_shards_and_we_read_theirs(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=16)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    sd = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}  # tied to wte
    ours = tmp_path / "ours"
    save_weights(sd, ours, max_shard_bytes=20_000)
    cfg.save_pretrained(ours)
    assert len(list(ours.glob("model-*.safetensors"))) > 1
    back = transformers.GPT2LMHeadModel.from_pretrained(ours).eval()
    assert_same({k: v for k, v in back.state_dict().items() if k != "lm_head.weight"}, sd)
    theirs = tmp_path / "theirs"
    model.save_pretrained(theirs, max_shard_size="20KB")
    assert (theirs / "model.safetensors.index.json").is_file()
    assert_same(load_weights(theirs), sd)


def test_missing_shard_is_named(tmp_path):
    save_weights(state_dict(), tmp_path, max_shard_bytes=1200)
    (tmp_path / "model-00003-of-00003.safetensors").unlink()
    with pytest.raises(
        WeightsFormatError, match=r"index.json: missing shard file\(s\) model-00003-of-00003.safetensors"
    ):
        load_weights(tmp_path)


def edit_index(tmp_path, change) -> None:
    path = tmp_path / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    change(index["weight_map"])
    path.write_text(json.dumps(index))


def test_every_name_must_be_found_exactly_once(tmp_path):
    sd = state_dict()
    save_weights(sd, tmp_path, max_shard_bytes=1200)
    edit_index(tmp_path, lambda wm: wm.update({"ghost.weight": "model-00001-of-00003.safetensors"}))
    with pytest.raises(
        WeightsFormatError, match=r"1 tensor\(s\) listed in weight_map are in no shard: 'ghost.weight'"
    ):
        load_weights(tmp_path)
    edit_index(tmp_path, lambda wm: wm.pop("ghost.weight"))
    edit_index(tmp_path, lambda wm: wm.pop("layers.0.weight"))
    with pytest.raises(
        WeightsFormatError, match=r"00001-of-00003.safetensors: tensor 'layers.0.weight' is not listed"
    ):
        load_weights(tmp_path)
    save_file({"layers.0.weight": sd["layers.0.weight"]}, tmp_path / "model-00002-of-00003.safetensors")
    edit_index(tmp_path, lambda wm: wm.update({"layers.0.weight": "model-00001-of-00003.safetensors"}))
    with pytest.raises(
        WeightsFormatError, match=r"tensor 'layers.0.weight' is also in shard model-00001-of-00003"
    ):
        load_weights(tmp_path)


def test_shard_names_cannot_leave_the_folder(tmp_path):
    (tmp_path / "m").mkdir()
    save_file({"a": torch.ones(1)}, tmp_path / "outside.safetensors")
    (tmp_path / "m" / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "../outside.safetensors"}})
    )
    with pytest.raises(
        WeightsFormatError, match=r"weight_map: shard '../outside.safetensors' is not a plain file name"
    ):
        load_weights(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors.index.json").write_text("{oops")
    with pytest.raises(WeightsFormatError, match=r"index.json: not valid JSON"):
        load_weights(tmp_path / "m")


def test_single_file_gguf_and_unknown_paths(tmp_path):
    sd = state_dict()
    save_weights(sd, tmp_path / "single")
    assert_same(load_weights(tmp_path / "single" / "model.safetensors"), sd)
    assert_same(load_weights(tmp_path / "single"), sd)
    writer = gguf.GGUFWriter(tmp_path / "m.gguf", "llama")
    writer.add_tensor("blk.0.w", np.arange(64, dtype=np.float32).reshape(2, 32))
    q8 = gguf.GGMLQuantizationType.Q8_0
    writer.add_tensor("blk.0.q", gguf.quants.quantize(np.full((2, 32), 127, np.float32), q8), raw_dtype=q8)
    for step in (
        writer.write_header_to_file,
        writer.write_kv_data_to_file,
        writer.write_tensors_to_file,
        writer.close,
    ):
        step()
    got = load_weights(tmp_path / "m.gguf")
    assert_same(got, load_gguf_tensors(tmp_path / "m.gguf"))
    assert got["blk.0.w"].shape == (2, 32) and torch.equal(got["blk.0.q"], torch.full((2, 32), 127.0))
    with pytest.raises(WeightsFormatError, match=r"nowhere: no such file or folder"):
        load_weights(tmp_path / "nowhere")
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(
        WeightsFormatError, match=r"w.npz: unknown weights file type '.npz' \(expected .safetensors"
    ):
        load_weights(tmp_path / "w.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        WeightsFormatError, match=r"empty: no weights found \(looked for model.safetensors.index.json"
    ):
        load_weights(tmp_path / "empty")
