"""Readers for model file formats that are not tokenizer-specific (GGUF)."""

from llmlab.formats.gguf import GGUFFile, GGUFFormatError, GGUFTensorInfo, GGUFValueType, read_gguf

__all__ = ["GGUFFile", "GGUFFormatError", "GGUFTensorInfo", "GGUFValueType", "read_gguf"]
