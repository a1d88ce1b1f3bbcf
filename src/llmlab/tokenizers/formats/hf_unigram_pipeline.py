"""Run a Unigram ``tokenizer.json`` the way Hugging Face ``tokenizers`` runs it.

:func:`~llmlab.tokenizers.formats.hf_unigram.unigram_from_hf_json` returns the
:class:`HfUnigramTokenizer` defined here. Unlike :class:`~llmlab.tokenizers.unigram.UnigramTokenizer`,
which reproduces sentencepiece, it follows the file's own pipeline step by step, quirks
included, so that its ids equal ``tokenizers``':

1. ``added_tokens`` that are not special are cut out of the raw text first; the text between
   them is processed piece by piece;
2. the ``normalizer`` steps (``Precompiled``, ``Replace``, ``Prepend``, ``Strip``,
   ``Lowercase``), each carrying every character's span in the input for the offsets.
   ``Precompiled`` looks up whole graphemes and keeps only the rule of the shortest matching
   prefix, so "Ｂ" + combining diaeresis becomes "B" (sentencepiece: "B" + diaeresis);
3. the ``Metaspace`` pre-tokenizer: spaces to "▁", a dummy "▁" in front, and a cut before
   every "▁" when ``split`` is on;
4. Viterbi in double precision over *every* vocabulary entry (sentencepiece leaves control
   and byte pieces out and adds in float32), a run of unknown characters fused into one
   ``<unk>``, spelt in byte pieces with ``byte_fallback``;
5. ``decode`` drops special tokens and applies the ``decoder`` steps (``Metaspace``, or
   ``Replace`` + ``ByteFallback`` + ``Fuse`` + ``Strip``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import regex

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.formats.sentencepiece_model import ModelProto, NormalizerSpec
from llmlab.tokenizers.spm_normalizer import SPACE_SYMBOL, SpmNormalizer
from llmlab.tokenizers.unigram import UNK_PENALTY, UnigramTokenizer, build_trie

Spans = list[tuple[int, int]]  # per normalised character: the input span it came from


_SUPPORTED = {
    "normalizer": {"Precompiled", "Replace", "Prepend", "Strip", "Lowercase"},
    "pre_tokenizer": {"Metaspace"},
    "decoder": {"Metaspace", "Replace", "ByteFallback", "Fuse", "Strip"},
}


def flatten(step: Any, part: str, path: str | Path, field: str = "") -> list[dict[str, Any]]:
    """The steps of the ``normalizer``, ``pre_tokenizer`` or ``decoder`` (``part``), with
    ``Sequence`` unpacked; an unsupported step is an error naming its field."""
    field = field or part
    if step is None:
        return []
    kind = step.get("type") if isinstance(step, dict) else None
    if kind == "Sequence":
        inner = step.get("normalizers") or step.get("pretokenizers") or step.get("decoders") or []
        return [s for i, sub in enumerate(inner) for s in flatten(sub, part, path, f"{field}[{i}]")]
    if kind not in _SUPPORTED[part]:
        supported = ", ".join(sorted(_SUPPORTED[part]))
        raise TokenizerFormatError(
            path, f"{kind!r} is not supported (supported: {supported})", field=f"{field}.type"
        )
    for key, wanted in _NEEDS.get(kind, {}).items():
        if not isinstance(step.get(key), wanted):
            raise TokenizerFormatError(
                path, f"expected a {wanted.__name__}, found {step.get(key)!r}", field=f"{field}.{key}"
            )
    if kind == "Replace":
        pattern = step["pattern"]
        try:
            regex.compile(_python_regex(pattern))
        except (KeyError, TypeError, regex.error) as e:
            raise TokenizerFormatError(
                path, f"not a String or a valid Regex ({e})", field=f"{field}.pattern"
            ) from None
    return [step]


_NEEDS = {  # the fields each step reads, and their types
    "Precompiled": {"precompiled_charsmap": str},
    "Replace": {"pattern": dict, "content": str},
    "Prepend": {"prepend": str},
}


def _python_regex(pattern: dict[str, str]) -> str:
    """A ``Replace`` pattern as a Python regex (Oniguruma's end-of-text ``\\z`` is ``\\Z``)."""
    return pattern["Regex"].replace(r"\z", r"\Z") if "Regex" in pattern else regex.escape(pattern["String"])


class HfUnigramTokenizer(UnigramTokenizer):
    """A Unigram ``tokenizer.json`` run as ``tokenizers`` runs it: its normalizer steps, its
    pre-tokenizer, Viterbi in double precision over every vocabulary entry, its decoder."""

    name = "unigram-hf"

    def __init__(self, model: ModelProto, data: dict[str, Any], *, path: str | Path = "<tokenizer.json>"):
        super().__init__(model, path=path)
        self.data = data
        self.steps = flatten(data.get("normalizer"), "normalizer", path)
        self.pre = flatten(data.get("pre_tokenizer"), "pre_tokenizer", path)
        self.decoders = flatten(data.get("decoder"), "decoder", path)
        charsmap = model.normalizer_spec.precompiled_charsmap
        self.charmap = (
            SpmNormalizer(NormalizerSpec(precompiled_charsmap=charsmap), path=path) if charsmap else None
        )
        self.hf_trie = build_trie(
            {p: i for i, p in enumerate(self.pieces)}
        )  # tokenizers' trie holds every entry
        self.hf_unk_score = min(self.scores) - UNK_PENALTY
        added = data.get("added_tokens") or []
        self.always = sorted((t["content"] for t in added if not t.get("special")), key=len, reverse=True)
        self.skip = {t["id"] for t in added if t.get("special")}
        self.special_tokens = {t["content"]: t["id"] for t in added if t.get("special")}

    # -- the pipeline -----------------------------------------------------------------------
    def normalize(self, text: str, start: int = 0) -> tuple[str, Spans]:
        """The ``normalizer`` steps, with each output character's input span."""
        spans = [(start + i, start + i + 1) for i in range(len(text))]
        for step in self.steps:
            text, spans = _NORMALIZERS[step["type"]](self, step, text, spans)
        return text, spans

    def _pieces(self, text: str) -> list[tuple[int, int, int]]:
        """``(id, start, end)`` for text without special tokens: added tokens cut out first,
        then normalise, pre-tokenise and segment each piece in between."""
        out: list[tuple[int, int, int]] = []
        cut = regex.compile("|".join(regex.escape(t) for t in self.always)) if self.always else None
        pos = 0
        for m in [*(cut.finditer(text) if cut else []), None]:
            end = m.start() if m else len(text)
            if end > pos:
                normalized, spans = self.normalize(text[pos:end], pos)
                for word, word_spans in self._pre_tokenize(normalized, spans):
                    out += [(i, word_spans[s][0], word_spans[e - 1][1]) for i, s, e in self._segment_hf(word)]
            if m:
                out.append((self.piece_ids.get(m.group(), self.unk_id), m.start(), m.end()))
                pos = m.end()
        return out

    def _pre_tokenize(self, text: str, spans: Spans) -> list[tuple[str, Spans]]:
        for step in self.pre:  # Metaspace (the only supported pre-tokenizer)
            rep = step.get("replacement", SPACE_SYMBOL)
            text = text.replace(" ", rep)
            scheme = step.get("prepend_scheme", "always" if step.get("add_prefix_space", True) else "never")
            first = not spans or spans[0][0] == 0
            if text and not text.startswith(rep) and (scheme == "always" or (scheme == "first" and first)):
                text, spans = rep + text, [spans[0], *spans]
            if step.get("split", True):
                cuts = [i for i, c in enumerate(text) if c == rep and i > 0]
                return [(text[a:b], spans[a:b]) for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        return [(text, spans)] if text else []

    def _segment_hf(self, text: str) -> list[tuple[int, int, int]]:
        """Viterbi like :meth:`UnigramTokenizer.segment`, in double precision over the trie of
        all entries; a run of unknown characters is one token (``fuse_unk``), spelt in bytes
        when ``byte_fallback`` and every byte piece exists."""
        n = len(text)
        best = [0.0] * (n + 1)
        start_of = [-1] * (n + 1)
        ids = [0] * (n + 1)
        for s in range(n):
            node, single = self.hf_trie, False
            for e in range(s + 1, n + 1):
                node = node.get(text[e - 1])
                if node is None:
                    break
                i = node.get("")
                if i is not None and (start_of[e] == -1 or self.scores[i] + best[s] > best[e]):
                    best[e], start_of[e], ids[e] = self.scores[i] + best[s], s, i
                single |= i is not None and e == s + 1
            if not single and (start_of[s + 1] == -1 or self.hf_unk_score + best[s] > best[s + 1]):
                best[s + 1], start_of[s + 1], ids[s + 1] = self.hf_unk_score + best[s], s, self.unk_id
        out: list[tuple[int, int, int]] = []
        e = n
        while e > 0:
            s = start_of[e]
            if ids[e] == self.unk_id and out and out[-1][0] == self.unk_id:
                out[-1] = (self.unk_id, s, out[-1][2])
            else:
                out.append((ids[e], s, e))
            e = s
        out.reverse()
        result: list[tuple[int, int, int]] = []
        for i, s, e in out:
            if i == self.unk_id and self.byte_fallback:
                data = text[s:e].encode("utf-8", "surrogatepass")
                byte_ids = [self.token_to_id(f"<0x{b:02X}>") for b in data]
                if None not in byte_ids:
                    result += [(b, s, e) for b in byte_ids]  # type: ignore[misc]
                    continue
            result.append((i, s, e))
        return result

    # -- the Tokenizer interface ------------------------------------------------------------
    def safe_split(self, text: str) -> tuple[str, str]:
        """Never cut: without sentencepiece's stripping, "a " + "b" gives an extra "▁" token
        here, so ``encode_iterable`` keeps the whole text (correct, not streaming)."""
        return "", text

    def encode_ordinary(self, text: str) -> list[int]:
        return [i for i, _, _ in self._pieces(text)]

    def encode_with_offsets(self, text: str) -> list[tuple[int, int, int]]:
        return self._pieces(text)

    def encode_pieces(self, text: str) -> list[str]:
        return [self.pieces[i] for i, _, _ in self._pieces(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """``tokenizers``' decode with ``skip_special_tokens=True``, through the ``decoder`` steps."""
        tokens = [self.id_to_token(i) for i in ids if i not in self.skip]
        for step in self.decoders:
            tokens = _DECODERS[step["type"]](step, tokens)
        return "".join(tokens)


def _precompiled(tok: HfUnigramTokenizer, step: dict, text: str, spans: Spans) -> tuple[str, Spans]:
    """``tokenizers``' Precompiled: each grapheme under 6 bytes is looked up whole, and the rule
    of its *shortest* matching prefix replaces all of it; longer graphemes go by character.
    The k-th new character keeps the span of the k-th old one (the last, when there are more)."""
    out, out_spans = [], []
    for m in regex.finditer(r"\X", text):
        g = m.group()
        units = [(m.start(), g)] if len(g.encode("utf-8", "surrogatepass")) < 6 else []
        if not units or _shortest_rule(tok.charmap, g) is None:
            units = [(m.start() + k, c) for k, c in enumerate(g)]
        for start, unit in units:
            rule = _shortest_rule(tok.charmap, unit)
            new = unit if rule is None else rule
            out.append(new)
            out_spans += [spans[start + min(j, len(unit) - 1)] for j in range(len(new))]
    return "".join(out), out_spans


def _shortest_rule(charmap: SpmNormalizer | None, chunk: str) -> str | None:
    if charmap is None or charmap.trie is None:
        return None
    for _, value in charmap.trie.prefixes(chunk.encode("utf-8", "surrogatepass")):
        return charmap._replacement(value)
    return None


def _replace_step(tok: HfUnigramTokenizer, step: dict, text: str, spans: Spans) -> tuple[str, Spans]:
    out, out_spans, pos = [], [], 0
    for m in regex.finditer(_python_regex(step["pattern"]), text):
        if m.end() == m.start():
            continue
        out.append(text[pos : m.start()])
        out_spans += spans[pos : m.start()]
        out.append(step["content"])
        out_spans += [spans[m.end() - 1]] * len(
            step["content"]
        )  # new characters: the last replaced one's span
        pos = m.end()
    out.append(text[pos:])
    out_spans += spans[pos:]
    return "".join(out), out_spans


def _prepend(tok: HfUnigramTokenizer, step: dict, text: str, spans: Spans) -> tuple[str, Spans]:
    return (step["prepend"] + text, [spans[0]] * len(step["prepend"]) + spans) if text else (text, spans)


def _strip(tok: HfUnigramTokenizer, step: dict, text: str, spans: Spans) -> tuple[str, Spans]:
    left = len(text) - len(regex.sub(r"^\p{White_Space}+", "", text)) if step.get("strip_left", True) else 0
    right = len(text) - len(regex.sub(r"\p{White_Space}+$", "", text)) if step.get("strip_right", True) else 0
    end = max(len(text) - right, left)
    return text[left:end], spans[left:end]


def _lowercase(tok: HfUnigramTokenizer, step: dict, text: str, spans: Spans) -> tuple[str, Spans]:
    out = [(c.lower(), span) for c, span in zip(text, spans, strict=True)]
    return "".join(c for c, _ in out), [span for c, span in out for _ in c]


_NORMALIZERS = {"Precompiled": _precompiled, "Replace": _replace_step, "Prepend": _prepend, "Strip": _strip,
                "Lowercase": _lowercase}  # fmt: skip


def _metaspace_decoder(step: dict, tokens: list[str]) -> list[str]:
    rep = step.get("replacement", SPACE_SYMBOL)
    keep_first = (
        step.get("prepend_scheme", "always" if step.get("add_prefix_space", True) else "never") == "never"
    )
    return [t.replace(rep, "" if i == 0 and not keep_first else " ") for i, t in enumerate(tokens)]


def _byte_fallback_decoder(step: dict, tokens: list[str]) -> list[str]:
    out, pending = [], bytearray()
    for t in [*tokens, None]:
        if t is not None and len(t) == 6 and regex.fullmatch(r"<0x[0-9A-Fa-f]{2}>", t):
            pending.append(int(t[3:5], 16))
            continue
        if pending:
            try:
                out.append(bytes(pending).decode("utf-8"))
            except UnicodeDecodeError:
                out += ["\ufffd"] * len(pending)  # tokenizers: one U+FFFD per byte of a bad run
            pending.clear()
        if t is not None:
            out.append(t)
    return out


def _strip_decoder(step: dict, tokens: list[str]) -> list[str]:
    c, start, stop = step["content"], step.get("start", 0), step.get("stop", 0)
    out = []
    for t in tokens:
        a = next((k for k in range(min(start, len(t))) if t[k] != c), min(start, len(t)))
        b = next((k for k in range(min(stop, len(t) - a)) if t[len(t) - 1 - k] != c), min(stop, len(t) - a))
        out.append(t[a : len(t) - b])
    return out


_DECODERS = {
    "Metaspace": _metaspace_decoder,
    "Replace": lambda step, tokens: [_replace_step(None, step, t, [(0, 0)] * len(t))[0] for t in tokens],  # type: ignore[arg-type]
    "ByteFallback": _byte_fallback_decoder,
    "Fuse": lambda step, tokens: ["".join(tokens)],
    "Strip": _strip_decoder,
}
