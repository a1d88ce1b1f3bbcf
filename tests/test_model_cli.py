"""`llmlab models ...` as a user runs it, and the registry of names behind it."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from llmlab.cli.main import main
from llmlab.models import registry
from llmlab.models.base import ModelError
from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.hf import from_pretrained, save_pretrained


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_family_with_sizes(capsys) -> None:
    code, out, _ = run(capsys, "models", "list")
    assert code == 0
    for name in (
        "gpt2-debug",
        "gpt2-xl",
        "smollm2-135m",
        "llama-2-7b",
        "bert-base-uncased",
        "t5-small",
        "lstm-small",
    ):
        assert name in out
    assert "124.4M" in out and "6.74B" in out  # GPT-2 small and Llama 2 7B, counted on the meta device
    code, out, _ = run(capsys, "models", "list", "--family", "rnn")
    assert "gru-small" in out and "gpt2-debug" not in out


def test_list_with_an_unknown_family_is_one_line(capsys) -> None:
    code, _, err = run(capsys, "models", "list", "--family", "mamba")
    assert code == 1
    assert err.strip() == "error: unknown family 'mamba'; families: gpt2, llama, bert, t5, rnn"


def test_info_breaks_down_parameters_and_flops(capsys) -> None:
    code, out, _ = run(capsys, "models", "info", "gpt2-debug", "--seq-len", "32")
    assert code == 0
    assert "n_layer" in out and "feed-forward" in out and "attention" in out
    model = GPT2(GPT2Config.from_name("gpt2-debug"))
    assert f"{model.num_parameters():,}" in out


def test_info_unknown_name_suggests_close_ones(capsys) -> None:
    code, _, err = run(capsys, "models", "info", "smollm-135m")
    assert code == 1
    assert "unknown model 'smollm-135m'; did you mean smollm2-135m" in err


def test_load_refuses_a_preset_with_random_weights(capsys) -> None:
    code, _, err = run(capsys, "models", "load", "gpt2")
    assert code == 1
    assert "'gpt2' is a preset with random weights, not a pretrained model" in err


def test_load_reads_an_hf_folder_and_exports_again(capsys, tmp_path) -> None:
    torch.manual_seed(0)
    model = GPT2(GPT2Config.from_name("gpt2-debug")).eval()
    save_pretrained(model, tmp_path / "in")
    code, out, _ = run(capsys, "models", "load", str(tmp_path / "in"), "--save-hf", str(tmp_path / "out"))
    assert code == 0, out
    assert "loaded GPT2 with 141,056 parameters" in out
    back = from_pretrained(tmp_path / "out")
    idx = torch.randint(0, 512, (1, 9))
    with torch.no_grad():
        torch.testing.assert_close(back(idx).logits, model(idx).logits)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "out")
    assert json.loads((tmp_path / "out" / "config.json").read_text())["architectures"] == ["GPT2LMHeadModel"]
    assert hf.config.n_layer == 2


def test_load_a_folder_without_config_is_one_line(capsys, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "models", "load", str(tmp_path / "empty"))
    assert code == 1
    assert "has no config.json; is it a Hugging Face model folder?" in err


def test_smollm2_chat_and_lens_from_the_cli(real_assets, capsys) -> None:
    real_assets("smollm2-135m-instruct")
    code, out, _ = run(
        capsys, "models", "load", "smollm2-135m-instruct", "--prompt", "What is the capital of France?",
        "--max-new-tokens", "12",
    )  # fmt: skip
    assert code == 0
    assert "loaded Llama with 134,515,008 parameters" in out
    assert "Paris" in out
    code, out, _ = run(capsys, "models", "lens", "smollm2-135m-instruct", "The capital of France is")
    assert code == 0
    assert "layer 30" in out and "' Paris'" in out.splitlines()[-2]


def test_minilm_embeds_a_prompt(real_assets, capsys) -> None:
    real_assets("all-minilm-l6-v2")
    code, out, _ = run(capsys, "models", "load", "all-minilm-l6-v2", "--prompt", "hello world")
    assert code == 0
    assert "embedding: 384 numbers, L2 norm 1.0000" in out


def test_every_name_resolves_and_builds_its_family() -> None:
    for name in registry.all_names():
        family, cfg, _ = registry.resolve(name)
        with torch.device("meta"):
            model = registry.build(name)
        assert isinstance(model, registry.FAMILIES[family][1])
        assert model.config == cfg
    with pytest.raises(ModelError, match="unknown model 'bert-tiny'"):
        registry.resolve("bert-tiny")


def test_lens_refuses_a_model_without_the_smollm2_vocabulary(capsys, tmp_path) -> None:
    save_pretrained(GPT2(GPT2Config.from_name("gpt2-debug")), tmp_path / "gpt")
    code, _, err = run(capsys, "models", "lens", str(tmp_path / "gpt"), "hello")
    assert code == 1
    assert "the lens command reads text with SmolLM2's tokenizer" in err and "is a GPT2" in err


def test_a_built_model_never_shares_its_config_with_the_preset() -> None:
    model = registry.build("gpt2-debug")
    model.config.dropout = 0.5
    assert GPT2Config.PRESETS["gpt2-debug"].dropout == 0.0
    assert registry.build("gpt2-debug").config.dropout == 0.0
