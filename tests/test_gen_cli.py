"""`llmlab generate` and `llmlab chat` as a user runs them."""

from __future__ import annotations

import io

import pytest

from llmlab.cli.main import main
from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.hf import save_pretrained


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_greedy_with_candidates(real_assets, capsys) -> None:
    real_assets("smollm2-135m-instruct")
    code, out, _ = run(
        capsys,
        "generate",
        "The capital of France is",
        "--temperature",
        "0",
        "--max-tokens",
        "3",
        "--show-top",
        "3",
    )
    assert code == 0
    assert out.startswith("The capital of France is Paris")
    assert "' Paris' 0.77" in out  # the model's own probability, shown per step


def test_generate_candidates_mark_the_tokens_a_knob_removed(real_assets, capsys) -> None:
    real_assets("smollm2-135m-instruct")
    args = ("generate", "The capital of France is", "--temperature", "0.7", "--top-p", "0.9", "--seed", "1")
    code, out, _ = run(capsys, *args, "--max-tokens", "1", "--show-top", "4")
    assert code == 0
    rows = {line.split("│")[3].strip(): line for line in out.splitlines() if line.count("│") >= 4}
    assert "' Paris' 1.00  (+3 removed)" in rows["top_p"]  # top-p kept only ' Paris' of the four
    assert "' London' 3e-03" in rows["temperature"]  # small but not zero: not printed as 0.00


def test_generate_seeded_samples_repeat(real_assets, capsys) -> None:
    real_assets("smollm2-135m-instruct")
    args = ("generate", "Once upon a time", "--max-tokens", "8", "-n", "2", "--seed", "3", "--top-p", "0.9")
    code, first, _ = run(capsys, *args)
    code2, second, _ = run(capsys, *args)
    assert code == code2 == 0
    assert first == second and "sample 2" in first


def test_chat_one_message_and_interactive(real_assets, capsys, monkeypatch) -> None:
    real_assets("smollm2-135m-instruct")
    code, out, _ = run(capsys, "chat", "--message", "What is the capital of France?", "--temperature", "0")
    assert code == 0 and "Paris" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("What is the capital of France?\n/reset\n/quit\n"))
    code, out, err = run(capsys, "chat", "--temperature", "0", "--max-tokens", "12")
    assert code == 0 and "Paris" in out and "/reset to start over" in err


def test_generate_needs_a_tokenizer_for_an_unknown_vocabulary(capsys, tmp_path) -> None:
    save_pretrained(GPT2(GPT2Config.from_name("gpt2-debug")), tmp_path / "tiny")
    code, _, err = run(capsys, "generate", "hello", "--model", str(tmp_path / "tiny"))
    assert code == 1
    assert "which tokenizer goes with this model (vocabulary 512)? pass --tokenizer NAME or PATH" in err


def test_chat_refuses_a_model_without_a_chat_template(capsys, tmp_path) -> None:
    save_pretrained(GPT2(GPT2Config.from_name("gpt2-debug")), tmp_path / "tiny")
    code, _, err = run(capsys, "chat", "--model", str(tmp_path / "tiny"), "--message", "hi")
    assert code == 1
    assert "chat needs a model with SmolLM2's vocabulary and chat template" in err


def test_bad_knob_is_one_line(real_assets, capsys) -> None:
    real_assets("smollm2-135m-instruct")
    code, _, err = run(capsys, "generate", "hi", "--top-p", "1.5")
    assert code == 1 and err.startswith("error: ") and "top_p" in err
