"""What every tokenizer in llmlab can do: the shared interface and the special-token policy.

A tokenizer maps text to a list of integer ids and back. Families differ in *how* (bytes,
words, BPE merges, WordPiece, Unigram), not in what callers can ask, so each family
implements three small methods and inherits the rest:

* ``encode_ordinary(text)``: ids for text that holds no special tokens (or where special-token
  text should be treated as ordinary text);
* ``decode(ids)``: the text back;
* ``id_to_token(id)`` / ``token_to_id(token)`` and ``vocab_size``.

Special tokens (``<|endoftext|>``, ``[CLS]``, ``<|im_start|>``) follow tiktoken's policy,
which callers choose per call:

* ``allowed_special``: special tokens that, when they appear in the text, become their id;
  ``"all"`` or a set of strings; default none.
* ``disallowed_special``: special tokens whose appearance in the text is an error;
  ``"all"`` (the default: every special token not allowed) or a set; pass ``()`` to encode
  special-token text as ordinary text instead.

Errors are :class:`llmlab.errors.LLMLabError` subclasses with one-line messages:
:class:`SpecialTokenError` for the policy above, :class:`TokenizerFormatError` for a bad file
(it names the file and the line or field).
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from llmlab.errors import LLMLabError

SpecialPolicy = Literal["all"] | Collection[str]


class TokenizerFormatError(LLMLabError):
    """A tokenizer file (ranks, vocab, merges, tokenizer.json, .model) is malformed."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None, field: str | None = None):
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field}"
        super().__init__(f"{where}: {problem}")


class SpecialTokenError(LLMLabError):
    """The text contains a special token that the caller did not allow."""


class Tokenizer(ABC):
    """Base class: subclasses implement ``encode_ordinary``, ``decode`` and the vocab lookups."""

    name: str = "tokenizer"
    special_tokens: dict[str, int]  # special-token text -> id (may be empty)

    # -- what each family implements ------------------------------------------------------
    @abstractmethod
    def encode_ordinary(self, text: str) -> list[int]:
        """Ids of ``text``, treating any special-token text in it as ordinary text."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``; byte-level tokenizers replace invalid UTF-8 with U+FFFD."""

    @abstractmethod
    def id_to_token(self, token_id: int) -> str:
        """The token's surface as the family writes it (byte-level tokens in the GPT-2
        printable-byte alphabet, WordPiece continuations with ``##``, Unigram with ``▁``)."""

    @abstractmethod
    def token_to_id(self, token: str) -> int | None:
        """The id of a token written as :meth:`id_to_token` writes it, or None."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids, special tokens included (``max id + 1``)."""

    # -- shared behaviour -----------------------------------------------------------------
    def encode(
        self,
        text: str,
        *,
        allowed_special: SpecialPolicy = (),
        disallowed_special: SpecialPolicy = "all",
    ) -> list[int]:
        """Ids of ``text`` under the special-token policy described in the module docstring."""
        allowed, disallowed = self._policy(allowed_special, disallowed_special)
        if disallowed:
            found = _special_pattern(disallowed).search(text)
            if found:
                raise SpecialTokenError(
                    f"the text contains the special token {found.group()!r} at character {found.start()}; "
                    "pass allowed_special to encode it as a special token, or disallowed_special=() "
                    "to encode it as ordinary text"
                )
        if not allowed:
            return self.encode_ordinary(text)
        ids: list[int] = []
        start = 0
        for m in _special_pattern(allowed).finditer(text):
            ids += self.encode_ordinary(text[start : m.start()])
            ids.append(self.special_tokens[m.group()])
            start = m.end()
        ids += self.encode_ordinary(text[start:])
        return ids

    def encode_batch(
        self, texts: Sequence[str], *, num_threads: int = 1, **policy: SpecialPolicy
    ) -> list[list[int]]:
        """``encode`` for many texts, in order; ``num_threads > 1`` spreads them over threads."""
        if num_threads <= 1:
            return [self.encode(t, **policy) for t in texts]  # type: ignore[arg-type]
        with ThreadPoolExecutor(num_threads) as pool:
            return list(pool.map(lambda t: self.encode(t, **policy), texts))  # type: ignore[arg-type]

    def encode_iterable(
        self, chunks: Iterable[str], *, batch_chars: int = 1 << 16, **policy: SpecialPolicy
    ) -> Iterator[int]:
        """Ids of the concatenation of ``chunks`` (e.g. a file's lines) in bounded memory.

        Chunks are gathered until about ``batch_chars`` characters (so per-call costs are paid
        once per batch, not once per line), then text is encoded up to the last point where
        :meth:`safe_split` says the tokenization cannot change; the rest waits for more text.
        The ids equal ``encode("".join(chunks))``. Memory stays around ``batch_chars`` plus the
        longest stretch without a safe cut.
        """
        buffer = ""
        pending: list[str] = []
        size = 0
        for chunk in chunks:
            pending.append(chunk)
            size += len(chunk)
            if size >= batch_chars:
                head, buffer = self.safe_split(buffer + "".join(pending))
                pending, size = [], 0
                if head:
                    yield from self.encode(head, **policy)  # type: ignore[arg-type]
        buffer += "".join(pending)
        if buffer:
            yield from self.encode(buffer, **policy)  # type: ignore[arg-type]

    def safe_split(self, text: str) -> tuple[str, str]:
        """Split ``text`` into (head, tail) so that encoding them apart equals encoding them
        together, whatever text later follows the tail. The default cuts after the last
        newline that has a non-whitespace character on both sides ("...end.\nNext"), which
        no family's pre-tokenizer merges across; families with a sharper rule override it."""
        cut = None
        for m in _SAFE_NEWLINE.finditer(text):
            cut = m.end()
        return (text[:cut], text[cut:]) if cut else ("", text)

    def encode_with_offsets(self, text: str) -> list[tuple[int, int, int]]:
        """``(id, start, end)`` per token: character offsets into ``text``. Families that can
        map tokens to characters override this; the default raises."""
        raise NotImplementedError(f"{type(self).__name__} does not report offsets")

    def _policy(self, allowed: SpecialPolicy, disallowed: SpecialPolicy) -> tuple[set[str], set[str]]:
        specials = set(self.special_tokens)
        allowed_set = specials if allowed == "all" else set(allowed)
        unknown = allowed_set - specials
        if unknown:
            raise SpecialTokenError(f"not special tokens of {self.name}: {', '.join(sorted(unknown))}")
        disallowed_set = specials - allowed_set if disallowed == "all" else set(disallowed)
        return allowed_set, disallowed_set


_SAFE_NEWLINE = re.compile(r"(?<=\S)\n(?=\S)")


def _special_pattern(tokens: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of ``tokens`` (compiled once per set of tokens)."""
    return _compile_specials(frozenset(tokens))


@functools.lru_cache(maxsize=64)
def _compile_specials(tokens: frozenset[str]) -> re.Pattern[str]:
    # Longest first, so "<|endoftext|>" wins over a shorter special token that prefixes it.
    return re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))
