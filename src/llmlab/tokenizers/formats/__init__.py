"""Tokenizer file formats: tiktoken rank files, GPT-2's encoder.json + vocab.bpe, HF tokenizer.json (BPE)."""

from llmlab.tokenizers.formats.gpt2_files import load_gpt2_files, save_gpt2_files
from llmlab.tokenizers.formats.hf_bpe import bpe_from_hf_json, bpe_to_hf_json
from llmlab.tokenizers.formats.tiktoken_ranks import load_tiktoken_ranks, save_tiktoken_ranks

__all__ = [
    "bpe_from_hf_json",
    "bpe_to_hf_json",
    "load_gpt2_files",
    "load_tiktoken_ranks",
    "save_gpt2_files",
    "save_tiktoken_ranks",
]
