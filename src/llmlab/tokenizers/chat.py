"""Chat templates: how a list of messages becomes the one string a chat model was trained on.

A chat model never sees "messages"; it sees text with special tokens marking the turns.
SmolLM2 uses ChatML::

    <|im_start|>system
    You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
    <|im_start|>user
    Hi!<|im_end|>
    <|im_start|>assistant

The format is not code in the library but a Jinja template shipped with the model
(``tokenizer.chat_template`` in the GGUF metadata or ``tokenizer_config.json``). We render it
exactly as Hugging Face ``transformers`` does (``apply_chat_template``):

* a *sandboxed*, immutable Jinja environment, since the template comes from a file
  (``jinja2.sandbox.ImmutableSandboxedEnvironment``: no attribute tricks, no mutation);
* ``trim_blocks`` and ``lstrip_blocks``, so ``{% ... %}`` lines leave no stray newlines;
* the ``loopcontrols`` extension, a ``tojson`` filter, ``raise_exception`` and
  ``strftime_now`` globals, and the special tokens (``bos_token``, ``eos_token``) as variables;
* ``add_generation_prompt=True`` appends the opening of the assistant's turn, so the model
  writes the answer next.

The rendered string is then encoded with special tokens allowed (:meth:`ChatTemplate.encode`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llmlab import assets
from llmlab.errors import LLMLabError
from llmlab.formats.gguf import read_gguf
from llmlab.tokenizers.base import Tokenizer, TokenizerFormatError

Message = Mapping[str, Any]  # {"role": "user", "content": "Hi!"}


class ChatTemplateError(LLMLabError):
    """The chat template is broken, or refused the messages (``raise_exception`` in the template)."""


class ChatTemplate:
    """A Jinja chat template and the special tokens it may refer to."""

    def __init__(
        self, source: str, *, special_tokens: Mapping[str, str] | None = None, name: str = "chat template"
    ):
        self.source = source
        self.special_tokens = dict(special_tokens or {})  # {"bos_token": "<|im_start|>", ...}
        self.name = name
        try:
            self._template = _environment().from_string(source)
        except jinja2.TemplateSyntaxError as e:
            raise ChatTemplateError(f"{name}, line {e.lineno}: {e.message}") from None

    @classmethod
    def from_gguf(cls, path: str | Path) -> ChatTemplate:
        """The template in ``tokenizer.chat_template``, with the file's BOS and EOS tokens."""
        path = Path(path)
        meta = read_gguf(path).metadata
        source = meta.get("tokenizer.chat_template")
        if not isinstance(source, str):
            raise TokenizerFormatError(path, "the file has no chat template", field="tokenizer.chat_template")
        tokens = meta.get("tokenizer.ggml.tokens") or []
        special = {}
        for role in ("bos", "eos", "unknown", "padding"):
            token_id = meta.get(f"tokenizer.ggml.{role}_token_id")
            if isinstance(token_id, int) and 0 <= token_id < len(tokens):
                special[_HF_NAME[role]] = tokens[token_id]
        return cls(source, special_tokens=special, name=f"{path.name} chat template")

    def apply_chat_template(
        self, messages: Sequence[Message], *, add_generation_prompt: bool = False, **extra: Any
    ) -> str:
        """The conversation as one string; ``extra`` are more template variables (``tools``...)."""
        _check_messages(messages)
        try:
            return self._template.render(
                messages=messages, add_generation_prompt=add_generation_prompt, **self.special_tokens, **extra
            )
        except jinja2.TemplateError as e:  # raise_exception(), undefined names, sandbox refusals
            raise ChatTemplateError(f"{self.name}: {e.message or type(e).__name__}") from None

    def encode(
        self, tokenizer: Tokenizer, messages: Sequence[Message], *, add_generation_prompt: bool = False
    ) -> list[int]:
        """Ids of the rendered conversation; its special-token text becomes special ids."""
        text = self.apply_chat_template(messages, add_generation_prompt=add_generation_prompt)
        return tokenizer.encode(text, allowed_special="all")


def load_chat_template(name: str = "smollm2") -> ChatTemplate:
    """The chat template of a model with a known asset (``"smollm2"``)."""
    if name not in _TEMPLATES:
        raise assets.AssetError(f"no chat template for {name!r}; known: {', '.join(_TEMPLATES)}")
    asset, file = _TEMPLATES[name]
    return ChatTemplate.from_gguf(assets.require(asset) / file)


_TEMPLATES = {"smollm2": ("smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_HF_NAME = {"bos": "bos_token", "eos": "eos_token", "unknown": "unk_token", "padding": "pad_token"}


def _environment() -> ImmutableSandboxedEnvironment:
    """Jinja set up as in transformers' ``_compile_jinja_template``."""

    def raise_exception(message: str) -> None:
        raise jinja2.TemplateError(message)

    def tojson(
        x: Any,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: Any = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def _check_messages(messages: Sequence[Message]) -> None:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise ChatTemplateError("messages must be a list of {'role': ..., 'content': ...} mappings")
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise ChatTemplateError(
                f"message {i} is a {type(m).__name__}, not a mapping with 'role' and 'content'"
            )
        for key in ("role", "content"):
            if not isinstance(m.get(key), str):
                raise ChatTemplateError(f"message {i} needs a string '{key}' (found {m.get(key)!r})")
