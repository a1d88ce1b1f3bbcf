"""Online-only sources (the Hugging Face hub), against a fake hub on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_servers import FakeServer
from llmlab.assets import AssetStore, get_asset
from llmlab.errors import AssetError

MODEL_FILES = {
    "config.json": json.dumps({"model_type": "llama"}).encode(),
    "model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
    "tokenizer.json": b"{}",
    "pytorch_model.bin": b"PICKLE: must never be fetched",
    "training_args.pkl": b"PICKLE",
    ".gitattributes": b"*.bin lfs",
}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as s:
        s.add_repo("model", "tiny-org/tiny-llama", MODEL_FILES, {"cardData": {"license": "apache-2.0"}})
        s.add_repo(
            "dataset", "roneneldan/TinyStories",
            {"TinyStoriesV2-GPT4-valid.txt": b"Once upon a time.\n<|endoftext|>\n",
             "TinyStoriesV2-GPT4-train.txt": b"A cat sat.\n<|endoftext|>\n"},
        )  # fmt: skip
        monkeypatch.setenv("LLMLAB_HF_ENDPOINT", s.url)
        yield s


def test_catalogued_hub_dataset_pulls_listed_files(hub: FakeServer, isolated: Path) -> None:
    [r] = AssetStore().pull(["tinystories"])
    folder = isolated / "assets" / "tinystories"
    assert (folder / "TinyStoriesV2-GPT4-valid.txt").read_text().startswith("Once upon a time.")
    assert r.manifest.source["type"] == "hub" and r.manifest.source["repo"] == "roneneldan/TinyStories"
    assert r.manifest.source["commit"] == "1" * 40  # from X-Repo-Commit
    assert "/datasets/roneneldan/TinyStories/resolve/main/TinyStoriesV2-GPT4-train.txt" in hub.requests
    assert AssetStore().verify(["tinystories"])[0].ok


def test_model_by_id_skips_pickles_and_records_licence(hub: FakeServer, isolated: Path) -> None:
    [r] = AssetStore().pull(["hf:tiny-org/tiny-llama"])
    folder = isolated / "assets" / "hf--tiny-org--tiny-llama"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "manifest.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    assert r.manifest.licence == "apache-2.0"
    assert not any("pytorch_model.bin" in q or ".pkl" in q for q in hub.requests)
    # a repo pulled by id shows up among the known assets and verifies like any other
    names = [a.name for a in AssetStore().known()]
    assert "hf:tiny-org/tiny-llama" in names
    assert AssetStore().verify(["hf:tiny-org/tiny-llama"])[0].ok


def test_hub_sha_mismatch_is_refused(hub: FakeServer, isolated: Path) -> None:
    hub.etags["model.safetensors"] = "a" * 64
    with pytest.raises(AssetError, match="model.safetensors does not match the sha256 the hub published"):
        AssetStore().pull(["hf:tiny-org/tiny-llama"])
    assert not (isolated / "assets" / "hf--tiny-org--tiny-llama").exists()


def test_hub_unknown_repo_and_bad_ids(hub: FakeServer) -> None:
    with pytest.raises(AssetError, match=r"answered HTTP 404"):
        AssetStore().pull(["hf:tiny-org/nope"])
    with pytest.raises(AssetError, match=r"^'hf:not a repo' is not a hub repo id; expected hf:owner/name"):
        get_asset("hf:not a repo")


def test_hub_offline_error_names_asset_and_command(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLAB_HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(AssetError) as e:
        AssetStore().pull(["imdb"])
    msg = str(e.value)
    assert msg.startswith(
        "asset 'imdb': cannot reach the server (no network?); when online, run `llmlab assets pull imdb`"
    )
    assert "\n" not in msg
