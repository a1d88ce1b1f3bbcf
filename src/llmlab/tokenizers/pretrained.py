"""Production byte-level BPE tokenizers by name: GPT-2, cl100k, o200k and SmolLM2.

Each one is a :class:`~llmlab.tokenizers.bpe_regex.RegexBPE` built from an offline asset:

==============  ======================  ==================  =========================
name            asset (file)            split pattern       special tokens
==============  ======================  ==================  =========================
``gpt2``        ``gpt2-ranks``          ``GPT2_PATTERN``    ``<|endoftext|>`` = 50256
``cl100k_base`` ``cl100k-ranks``        ``CL100K_PATTERN``  5 (``<|endoftext|>``, FIM)
``o200k_base``  ``o200k-ranks``         ``O200K_PATTERN``   2
``smollm2``     ``smollm2-135m-         ``SMOLLM2_PATTERN`` the 17 control tokens
                instruct`` (GGUF)                           (``<|im_start|>`` = 1, ...)
==============  ======================  ==================  =========================

The OpenAI rank files carry neither the pattern nor the special tokens; they are tiktoken's
(``tiktoken_ext/openai_public.py``). SmolLM2's tokenizer lives in its GGUF metadata:
``tokenizer.ggml.tokens`` (id -> token, byte-level alphabet), ``.merges`` (``"Ġ t"``),
``.token_type`` (3 = control: a special token) and ``.pre`` (``"smollm"``: digits split one
by one before the GPT-2 regex, see ``SMOLLM2_PATTERN``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from llmlab import assets
from llmlab.formats.gguf import read_gguf
from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.bpe_regex import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN, SMOLLM2_PATTERN, RegexBPE
from llmlab.tokenizers.formats.hf_bpe import bpe_from_vocab_and_merges
from llmlab.tokenizers.formats.tiktoken_ranks import load_tiktoken_ranks

ENDOFTEXT, ENDOFPROMPT = "<|endoftext|>", "<|endofprompt|>"
FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"


@dataclass(frozen=True)
class Pretrained:
    """Where a named tokenizer comes from."""

    asset: str  # catalogue name of the asset holding the file
    file: str  # path inside the asset folder
    pattern: str = GPT2_PATTERN  # the split (rank files only; GGUF files name theirs)
    special_tokens: tuple[tuple[str, int], ...] = ()  # (text, id) (rank files only)


PRETRAINED: dict[str, Pretrained] = {
    "gpt2": Pretrained("gpt2-ranks", "gpt2.tiktoken", GPT2_PATTERN, ((ENDOFTEXT, 50256),)),
    "cl100k_base": Pretrained(
        "cl100k-ranks",
        "cl100k_base.tiktoken.gz",
        CL100K_PATTERN,
        (
            (ENDOFTEXT, 100257),
            (FIM_PREFIX, 100258),
            (FIM_MIDDLE, 100259),
            (FIM_SUFFIX, 100260),
            (ENDOFPROMPT, 100276),
        ),
    ),
    "o200k_base": Pretrained(
        "o200k-ranks", "o200k_base.tiktoken.gz", O200K_PATTERN, ((ENDOFTEXT, 199999), (ENDOFPROMPT, 200018))
    ),
    "smollm2": Pretrained("smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

# llama.cpp's name for a pre-tokenizer (tokenizer.ggml.pre) -> our pattern
GGUF_PRE_PATTERNS = {"gpt2": GPT2_PATTERN, "smollm": SMOLLM2_PATTERN}


def list_pretrained() -> list[str]:
    """Names that :func:`load_pretrained` accepts."""
    return list(PRETRAINED)


def load_pretrained(name: str) -> RegexBPE:
    """The named tokenizer, from its asset (pulled on first use unless offline)."""
    if name not in PRETRAINED:
        raise assets.AssetError(f"unknown tokenizer {name!r}; choose one of: {', '.join(PRETRAINED)}")
    spec = PRETRAINED[name]
    return _load(name, assets.require(spec.asset) / spec.file)


@cache
def _load(name: str, path: Path) -> RegexBPE:
    # subtle: cached per file, so every caller shares one tokenizer (and its piece cache);
    # loading o200k's 200,000 ranks takes about a second.
    spec = PRETRAINED[name]
    if path.suffix == ".gguf":
        return bpe_from_gguf(path, name=name)
    return RegexBPE(load_tiktoken_ranks(path), spec.pattern, dict(spec.special_tokens), name=name)


def bpe_from_gguf(path: str | Path, *, name: str | None = None) -> RegexBPE:
    """A byte-level BPE tokenizer from the ``tokenizer.ggml.*`` metadata of a GGUF file."""
    path = Path(path)
    meta = read_gguf(path).metadata

    def need(key: str) -> object:
        if key not in meta:
            raise TokenizerFormatError(path, "the key is missing", field=key)
        return meta[key]

    if need("tokenizer.ggml.model") != "gpt2":
        raise TokenizerFormatError(
            path,
            f"tokenizer model {meta['tokenizer.ggml.model']!r} is not byte-level BPE ('gpt2')",
            field="tokenizer.ggml.model",
        )
    pre = meta.get("tokenizer.ggml.pre", "gpt2")
    if pre not in GGUF_PRE_PATTERNS:
        raise TokenizerFormatError(
            path,
            f"pre-tokenizer {pre!r} is not supported (known: {', '.join(GGUF_PRE_PATTERNS)})",
            field="tokenizer.ggml.pre",
        )
    tokens, merges = need("tokenizer.ggml.tokens"), need("tokenizer.ggml.merges")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise TokenizerFormatError(path, "expected an array of strings", field="tokenizer.ggml.tokens")
    token_types = meta.get("tokenizer.ggml.token_type", [1] * len(tokens))
    if not isinstance(token_types, list) or len(token_types) != len(tokens):
        raise TokenizerFormatError(
            path, "expected one token type per token", field="tokenizer.ggml.token_type"
        )
    # CONTROL (3) and USER_DEFINED (4) tokens are matched as whole strings: our special tokens
    specials = {t: i for i, (t, kind) in enumerate(zip(tokens, token_types, strict=True)) if kind in (3, 4)}
    unk_id = meta.get("tokenizer.ggml.unknown_token_id")
    tok = bpe_from_vocab_and_merges(
        {t: i for i, t in enumerate(tokens)},
        merges,
        specials,
        GGUF_PRE_PATTERNS[pre],
        path=path,
        unk_token=tokens[unk_id] if isinstance(unk_id, int) and 0 <= unk_id < len(tokens) else None,
        vocab_field="tokenizer.ggml.tokens",
        merges_field="tokenizer.ggml.merges",
    )
    tok.name = name or path.stem
    return tok
