"""SentencePiece normalisation: the precompiled character map, then the whitespace rules.

Before a SentencePiece model segments anything, it rewrites the text in two passes (this is
sentencepiece's ``normalizer.cc``, step for step):

1. **Character map.** The model file carries a ``precompiled_charsmap`` compiled from a rule
   table such as ``nmt_nfkc`` (NFKC plus a few extras: control characters dropped, odd spaces
   turned into " "). The blob is ``<uint32 trie size><double-array trie><replacement strings>``:
   the trie maps UTF-8 keys ("ﬁ", "①", "Ａ", "e" + combining acute) to an offset in the
   replacement area, where NUL-terminated strings ("fi", "1", "A", "é") sit. At each position
   the **longest** key that is a prefix of the rest of the text wins; where none matches, the
   character is copied.
2. **Whitespace.** ``remove_extra_whitespaces`` drops leading and trailing spaces and squeezes
   runs to one; ``add_dummy_prefix`` puts a space in front ("world" then looks like the word
   in "hello world"); ``escape_whitespaces`` writes every space as "▁" (U+2581).

``"  Ｈello   ﬁne "`` becomes ``"▁Hello▁fine"``. Every output character remembers the input
character it came from (the start of the rule that produced it), so tokens can report offsets
into the original text. The trie is darts-clone's double array, read by hand in
:mod:`llmlab.tokenizers.formats.darts`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.formats.darts import DoubleArray
from llmlab.tokenizers.formats.sentencepiece_model import NormalizerSpec

SPACE_SYMBOL = "\u2581"  # ▁, "lower one eighth block": how SentencePiece writes a space
_RUN_OF_SPACES = re.compile(" {2,}")


@lru_cache(maxsize=8)
def _compile(blob: bytes) -> tuple[DoubleArray, bytes, frozenset[str], frozenset[str], frozenset[str]]:
    """Split a precompiled charsmap (cached per blob) and say where a rule may start: at a
    character that is a key by itself (``single``), or at one that begins a longer key
    (``longer``) *and* is followed by a character that can come second in such a key
    (``second``: "e" before a combining accent). Everywhere else the text is copied."""
    (trie_size,) = struct.unpack("<I", blob[:4])
    trie = DoubleArray.from_bytes(blob[4 : 4 + trie_size])
    prefixes = {k.decode("utf-8", "replace"): v for k, v in trie.walk(max_chars=2).items()}
    single = {p for p, (value, _) in prefixes.items() if len(p) == 1 and value >= 0}
    longer = {p for p, (_, more) in prefixes.items() if len(p) == 1 and more}
    second = {p[1] for p in prefixes if len(p) == 2}
    return trie, blob[4 + trie_size :], frozenset(single), frozenset(longer), frozenset(second)


def _class(chars: Iterable[str]) -> str:
    """A regex character class of ``chars``, written as ranges (one that matches nothing when
    empty). subtle: ``re`` checks a class holding characters beyond U+FFFF entry by entry,
    which made every search 15x slower; so all of those are matched as one range instead
    (emoji and friends take the careful path, which copies what no rule rewrites)."""
    chars = set(chars)
    codes = sorted({ord(c) for c in chars if ord(c) < 0x10000})
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    body = "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)
    if any(ord(c) >= 0x10000 for c in chars):
        body += "\U00010000-\U0010ffff"
    return f"[{body}]" if body else "(?!)"


class SpmNormalizer:
    """Normalise text exactly as sentencepiece does, keeping an alignment to the input.

    ``user_defined`` pieces are copied verbatim wherever they occur (sentencepiece's
    prefix matcher); ``treat_whitespace_as_suffix`` moves the dummy space to the end.
    """

    def __init__(
        self,
        spec: NormalizerSpec,
        *,
        treat_whitespace_as_suffix: bool = False,
        user_defined: Iterable[str] = (),
        path: str | Path = "<model>",
        field: str = "normalizer_spec",
    ):
        self.spec = spec
        self.suffix = treat_whitespace_as_suffix
        self.user_defined = sorted(set(user_defined), key=len, reverse=True)
        self.trie: DoubleArray | None = None
        self.replacements = b""
        # where pass 1 must look closer: rules, user-defined pieces, lone surrogates; a "second"
        # character makes it look one character back (see _compile)
        single: set[str] = {s[0] for s in self.user_defined}
        self._longer: frozenset[str] = frozenset()
        self._second: frozenset[str] = frozenset()
        blob = spec.precompiled_charsmap
        if blob:
            if len(blob) <= 4 or struct.unpack("<I", blob[:4])[0] >= len(blob):
                raise TokenizerFormatError(
                    path, "the trie size exceeds the blob", field=f"{field}.precompiled_charsmap"
                )
            self.trie, self.replacements, rule_single, self._longer, self._second = _compile(blob)
            single |= rule_single
        self._starts = re.compile(f"{_class(single | self._second)}|[\ud800-\udfff]")
        self._cache: dict[int, str] = {}

    def normalize(self, text: str) -> str:
        """The normalised text (what the model segments): :meth:`normalize_with_offsets`
        without the offsets, so the whitespace rules become plain string operations."""
        spec = self.spec
        squeeze = prev_space = spec.remove_extra_whitespaces
        parts = []
        only_spaces = True  # so far every rule gave exactly " ": the leading skip eats it all
        for out, _, verbatim in self._map_characters(text):
            if only_spaces and (out.strip(" ") if verbatim else out != " "):
                only_spaces = False
            if squeeze:
                if verbatim:
                    out = _RUN_OF_SPACES.sub(" ", out)  # each copied character is a rule of its own
                if prev_space:
                    out = out.lstrip(" ")
                if out:
                    parts.append(out)
                    prev_space = out.endswith(" ")
            else:
                parts.append(out)
        body = "".join(parts)
        if not text or (squeeze and only_spaces):
            return ""
        space = SPACE_SYMBOL if spec.escape_whitespaces else " "
        if spec.escape_whitespaces:
            body = body.replace(" ", SPACE_SYMBOL)
        if spec.add_dummy_prefix and not self.suffix:
            body = space + body
        if squeeze:
            body = body.rstrip(space)
        if spec.add_dummy_prefix and self.suffix:
            body += space
        return body

    def normalize_with_offsets(self, text: str) -> tuple[str, list[int]]:
        """``(normalized, align)``: ``align[k]`` is the input offset that normalised character
        ``k`` came from, and ``align[len(normalized)]`` the end of the consumed input."""
        segments = list(self._map_characters(text))
        spec = self.spec
        squeeze = spec.remove_extra_whitespaces
        # 1. leading spaces: whole rules that produce exactly " " are skipped (sentencepiece's loop)
        consumed, first = 0, 0
        while squeeze and first < len(segments):
            out, start, verbatim = segments[first]
            if verbatim:
                n = len(out) - len(out.lstrip(" "))
                if n:
                    consumed = start + n
                    if n < len(out):
                        segments[first] = (out[n:], start + n, True)
                        break
                    first += 1
                    continue
                break
            if out != " ":
                break
            consumed = segments[first + 1][1] if first + 1 < len(segments) else len(text)
            first += 1
        if first == len(segments):
            return "", [0]  # (sentencepiece's C++ gives no offsets here, its Python binding [0])
        # 2. the dummy prefix, then each segment with runs of spaces squeezed
        parts: list[str] = []
        align: list[int] = []
        if spec.add_dummy_prefix and not self.suffix:
            parts.append(" ")
            align.append(consumed)
        prev_space = squeeze
        for out, start, verbatim in segments[first:]:
            if verbatim and squeeze:
                out, kept = _squeeze_run(out, prev_space)
                align.extend(start + k for k in kept)
            else:
                if prev_space:
                    out = out.lstrip(" ")
                align.extend([start] * len(out) if not verbatim else range(start, start + len(out)))
            if out:
                parts.append(out)
                prev_space = out.endswith(" ")
            if not squeeze:
                prev_space = False
        normalized = "".join(parts)
        if spec.escape_whitespaces:
            normalized = normalized.replace(" ", SPACE_SYMBOL)
        # 3. trailing spaces go, and the input they came from is not consumed
        consumed = len(text)
        if squeeze:
            space = SPACE_SYMBOL if spec.escape_whitespaces else " "
            stripped = normalized.rstrip(space)
            if len(stripped) < len(normalized):
                consumed = align[len(stripped)]
                normalized, align = stripped, align[: len(stripped)]
        if self.suffix and spec.add_dummy_prefix:
            normalized += SPACE_SYMBOL if spec.escape_whitespaces else " "
            align.append(consumed)
        align.append(consumed)
        return normalized, align

    def _map_characters(self, text: str) -> Iterator[tuple[str, int, bool]]:
        """Pass 1: ``(output, input start, verbatim)`` segments. Verbatim segments are runs
        of characters no rule touches, copied at C speed; the others are one rule each."""
        pos = 0
        while pos < len(text):
            m = self._starts.search(text, pos)
            if m is None:
                yield text[pos:], pos, True
                return
            at = m.start()
            if at > pos and text[at] in self._second and text[at - 1] in self._longer:
                at -= 1  # a rule of two or more characters may start just before
            if at > pos:
                yield text[pos:at], pos, True
            pos = at
            out, length = self._rule_at(text, pos)
            yield out, pos, length == 0
            pos += max(length, 1)

    def _rule_at(self, text: str, pos: int) -> tuple[str, int]:
        """The rule at ``text[pos]``: ``(replacement, characters consumed)``, or
        ``(text[pos], 0)`` when no rule applies (the character is copied)."""
        for symbol in self.user_defined:  # user-defined pieces are never normalised
            if text.startswith(symbol, pos):
                return symbol, 0 if len(symbol) == 1 else len(symbol)
        char = text[pos]
        if "\ud800" <= char <= "\udfff":
            # subtle: a lone surrogate is not Unicode; sentencepiece sees its 3 invalid UTF-8
            # bytes and writes U+FFFD for each
            return "\ufffd" * 3, 1
        if self.trie is None:
            return char, 0
        best_len, best_value = 0, -1
        units, n = self.trie.units, len(self.trie.units)
        node = DoubleArray.offset(units[0])
        for j in range(pos, len(text)):
            unit = 0
            for b in text[j].encode("utf-8", "surrogatepass"):
                node ^= b
                if node >= n or units[node] & 0x800000FF != b:
                    return (self._replacement(best_value), best_len) if best_len else (char, 0)
                unit = units[node]
                node ^= DoubleArray.offset(unit)
            if unit & 0x100 and node < n:
                best_len, best_value = j + 1 - pos, units[node] & 0x7FFFFFFF
        return (self._replacement(best_value), best_len) if best_len else (char, 0)

    def _replacement(self, offset: int) -> str:
        """The NUL-terminated replacement string at ``offset`` (decoded once, then cached)."""
        out = self._cache.get(offset)
        if out is None:
            end = self.replacements.find(b"\0", offset)
            raw = self.replacements[offset : end if end >= 0 else len(self.replacements)]
            out = self._cache[offset] = raw.decode("utf-8", "replace")
        return out

    def rules(self) -> dict[str, str]:
        """Every rule of the character map as ``{key: replacement}`` (for inspection and docs)."""
        if self.trie is None:
            return {}
        return {k.decode("utf-8", "replace"): self._replacement(v) for k, v in self.trie.items().items()}


def _squeeze_run(run: str, prev_space: bool) -> tuple[str, list[int]]:
    """Squeeze each run of spaces in a verbatim run to one space (all of it if the text before
    already ended in a space); return the new text and the kept indices."""
    if " " not in run:
        return run, list(range(len(run)))
    kept: list[int] = []
    for m in re.finditer(r" +|[^ ]+", run):
        if m.group()[0] != " ":
            kept.extend(range(m.start(), m.end()))
        elif not (m.start() == 0 and prev_space):
            kept.append(m.start())
    return "".join(run[k] for k in kept), kept
