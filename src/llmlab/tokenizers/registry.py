"""Load any tokenizer by a name or a path, and save a trained one in production formats.

One entry point for the CLI and the labs: ``load_tokenizer("gpt2")``,
``load_tokenizer("bert-base-uncased")``, ``load_tokenizer("runs/tok/tokenizer.json")``.

==========================  =====================================================
spec                        what loads
==========================  =====================================================
``gpt2``, ``cl100k_base``,  byte-level BPE from the rank assets (tiktoken's ids)
``o200k_base``, ``smollm2``
``bert-base-uncased``       WordPiece from the ``bert-vocab`` asset
``botchan-bpe``,            SentencePiece models from the ``sentencepiece-models``
``botchan-unigram``,        asset (parsed by us)
``kyoto-ja-unigram``
``path/tokenizer.json``     a Hugging Face tokenizer file (BPE, WordPiece, Unigram)
``path/x.model``            a SentencePiece model
``path/vocab.txt``          a BERT vocabulary
``path/`` (a folder)        the first of ``tokenizer.json``, ``*.model``, ``vocab.txt``
==========================  =====================================================
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from llmlab import assets
from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer, TokenizerFormatError

Impl = Literal["readable", "fast"]


def _pretrained(name: str) -> Callable[[], Tokenizer]:
    def load() -> Tokenizer:
        from llmlab.tokenizers.pretrained import load_pretrained

        return load_pretrained(name)

    return load


def _bert() -> Tokenizer:
    from llmlab.tokenizers.wordpiece import WordPieceTokenizer

    return WordPieceTokenizer.from_vocab_txt(assets.require("bert-vocab") / "vocab.txt")


def _spm(file: str) -> Callable[[], Tokenizer]:
    def load() -> Tokenizer:
        from llmlab.tokenizers.sentencepiece import load_sentencepiece

        return load_sentencepiece(assets.require("sentencepiece-models") / file)

    return load


NAMED: dict[str, tuple[str, Callable[[], Tokenizer]]] = {
    "gpt2": ("GPT-2 byte-level BPE, 50,257 ids", _pretrained("gpt2")),
    "cl100k_base": ("GPT-3.5/GPT-4 byte-level BPE, 100,277 ids", _pretrained("cl100k_base")),
    "o200k_base": ("GPT-4o byte-level BPE, 200,019 ids", _pretrained("o200k_base")),
    "smollm2": ("SmolLM2 byte-level BPE from its GGUF, 49,152 ids", _pretrained("smollm2")),
    "bert-base-uncased": ("BERT WordPiece, uncased, 30,522 ids", _bert),
    "botchan-bpe": ("SentencePiece BPE trained on Botchan, 1,000 ids", _spm("botchan_en_bpe_1000.model")),
    "botchan-unigram": (
        "SentencePiece Unigram trained on Botchan, 1,000 ids",
        _spm("botchan_en_unigram_1000.model"),
    ),
    "kyoto-ja-unigram": ("SentencePiece Unigram, Japanese, 8,000 ids", _spm("kyoto_ja_unigram_8000.model")),
}


def load_tokenizer(spec: str, impl: Impl = "readable") -> Tokenizer:
    """A tokenizer by name (see :data:`NAMED`) or path; ``impl="fast"`` gives the compiled path."""
    if spec in NAMED:
        tok = NAMED[spec][1]()
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            close = difflib.get_close_matches(spec, list(NAMED), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise LLMLabError(
                f"no tokenizer named '{spec}' and no such file: {hint}known names: {', '.join(NAMED)}"
            )
        tok = load_tokenizer_file(path)
    return with_impl(tok, impl)


def with_impl(tok: Tokenizer, impl: Impl) -> Tokenizer:
    """The same tokenizer on the readable or the compiled path (identical ids)."""
    if impl == "readable":
        return tok
    if impl != "fast":
        raise LLMLabError(f"unknown implementation '{impl}': choose readable or fast")
    from llmlab.tokenizers.bpe_regex import RegexBPE

    if not isinstance(tok, RegexBPE):
        raise LLMLabError(f"the fast path covers byte-level BPE only; {tok.name} is a {type(tok).__name__}")
    from llmlab.tokenizers.bpe_fast import FastRegexBPE

    return FastRegexBPE.from_tokenizer(tok)


def load_tokenizer_file(path: Path) -> Tokenizer:
    """A tokenizer from a file (by its suffix) or a folder (by the files it holds)."""
    if path.is_dir():
        for candidate in ("tokenizer.json", *sorted(p.name for p in path.glob("*.model")), "vocab.txt"):
            if (path / candidate).is_file():
                return load_tokenizer_file(path / candidate)
        raise LLMLabError(f"{path} holds no tokenizer.json, .model or vocab.txt")
    if path.suffix == ".json":
        return load_hf_json(path)
    if path.suffix == ".model":
        from llmlab.tokenizers.sentencepiece import load_sentencepiece

        return load_sentencepiece(path)
    if path.name.endswith(".txt"):
        from llmlab.tokenizers.wordpiece import WordPieceTokenizer

        return WordPieceTokenizer.from_vocab_txt(path)
    raise LLMLabError(f"{path}: unknown tokenizer format (expected tokenizer.json, .model or vocab.txt)")


def load_hf_json(path: Path) -> Tokenizer:
    """A Hugging Face ``tokenizer.json``, dispatched on ``model.type``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TokenizerFormatError(path, f"not a readable JSON file ({e})") from None
    kind = (
        data.get("model", {}).get("type")
        if isinstance(data, dict) and isinstance(data.get("model"), dict)
        else None
    )
    if kind == "BPE":
        from llmlab.tokenizers.formats.hf_bpe import bpe_from_hf_json

        return bpe_from_hf_json(data, path)
    if kind == "WordPiece":
        from llmlab.tokenizers.formats.hf_wordpiece import wordpiece_from_hf_json

        return wordpiece_from_hf_json(data, path)
    if kind == "Unigram":
        from llmlab.tokenizers.formats.hf_unigram import unigram_from_hf_json

        return unigram_from_hf_json(data, path)
    raise TokenizerFormatError(
        path, f"unsupported model type {kind!r} (expected BPE, WordPiece or Unigram)", field="model.type"
    )


def save_tokenizer(tok: Tokenizer, folder: Path) -> list[Path]:
    """Write ``tok`` into ``folder`` in every production format it has; returns the files.

    All: ``tokenizer.json`` (Hugging Face). Byte-level BPE also ``<name>.tiktoken`` (tiktoken
    ranks); WordPiece also ``vocab.txt``; Unigram also ``<name>.model`` (SentencePiece).
    """
    from llmlab.assets.files import atomic_write_bytes
    from llmlab.tokenizers.bpe_regex import RegexBPE
    from llmlab.tokenizers.wordpiece import WordPieceTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        atomic_write_bytes(folder / name, data)
        written.append(folder / name)

    if isinstance(tok, RegexBPE):
        from llmlab.tokenizers.formats.hf_bpe import bpe_to_hf_json
        from llmlab.tokenizers.formats.tiktoken_ranks import save_tiktoken_ranks

        put("tokenizer.json", json.dumps(bpe_to_hf_json(tok), ensure_ascii=False, indent=1).encode())
        save_tiktoken_ranks(tok.ranks, folder / f"{tok.name}.tiktoken")
        written.append(folder / f"{tok.name}.tiktoken")
    elif isinstance(tok, WordPieceTokenizer):
        tok.save_tokenizer_json(folder / "tokenizer.json")
        tok.save_vocab_txt(folder / "vocab.txt")
        written += [folder / "tokenizer.json", folder / "vocab.txt"]
    else:
        from llmlab.tokenizers.formats.hf_unigram import unigram_to_hf_json
        from llmlab.tokenizers.sentencepiece import save_sentencepiece

        put("tokenizer.json", json.dumps(unigram_to_hf_json(tok), ensure_ascii=False, indent=1).encode())
        save_sentencepiece(tok, folder / f"{tok.name}.model")
        written.append(folder / f"{tok.name}.model")
    return written
