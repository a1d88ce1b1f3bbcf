"""Lab commands record their runs in the learning path: tokenizer train and compare, generate.

Each test runs the real command in a private data home (the conftest gives every test one) and
reads the runs table back; the figures must be the ones the command computed.
"""

from __future__ import annotations

import dataclasses
import json

import torch

from llmlab.cli.main import main
from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.hf import save_pretrained
from llmlab.path import store
from llmlab.tokenizers.registry import load_tokenizer


def runs() -> list[dict]:
    with store.opened() as db:
        rows = db.execute("SELECT lab, command, figures FROM runs ORDER BY id").fetchall()
    return [{"lab": r["lab"], "command": r["command"], "figures": json.loads(r["figures"])} for r in rows]


def test_tokenizer_labs_and_generate_are_recorded(tmp_path, capsys) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. the dog sat on the log.\n" * 200, encoding="utf-8")
    args = ["tokenizer", "train", "--algo", "bpe", "--file", str(corpus), "--vocab-size", "300",
            "--special", "<|endoftext|>", "--out", str(tmp_path / "tok")]  # fmt: skip
    assert main(args) == 0
    tok_file = str(tmp_path / "tok" / "tokenizer.json")
    tok = load_tokenizer(tok_file)
    assert main(["tokenizer", "compare", "the cat sat", "--tokenizers", tok_file]) == 0
    torch.manual_seed(0)  # fixed weights: greedy decoding then gives the same tokens every run
    model = GPT2(dataclasses.replace(GPT2Config.from_name("gpt2-debug"), vocab_size=tok.vocab_size))
    save_pretrained(model, tmp_path / "tiny")
    args = ["generate", "the cat", "--model", str(tmp_path / "tiny"), "--tokenizer", tok_file,
            "--max-tokens", "3", "--temperature", "0"]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()

    trained, compared, generated = runs()
    assert trained["lab"] == "tokenizer-train" and trained["figures"]["vocab_size"] == tok.vocab_size
    assert compared["lab"] == "tokenizer-compare"
    assert compared["figures"] == {f"{tok_file} tokens": len(tok.encode("the cat sat")), "bytes": 11}
    assert generated["lab"] == "generate" and generated["figures"]["new_tokens"] == 3
    assert generated["figures"]["temperature"] == 0.0 and "--temperature 0.0" in generated["command"]


def test_models_info_is_recorded(capsys) -> None:
    assert main(["models", "info", "gpt2-debug", "--seq-len", "64"]) == 0
    capsys.readouterr()
    [run] = runs()
    model = GPT2(GPT2Config.from_name("gpt2-debug"))
    assert run["lab"] == "models-info" and run["command"] == "llmlab models info gpt2-debug --seq-len 64"
    assert run["figures"]["parameters"] == sum(p.numel() for p in model.parameters())
