"""GPT-2's original files: ``encoder.json`` (token -> id) and ``vocab.bpe`` (the merge list).

OpenAI released GPT-2's tokenizer as two files, and Hugging Face's ``vocab.json`` +
``merges.txt`` are the same format:

* ``encoder.json``: ``{"!": 0, ..., "Ġthe": 262, ..., "<|endoftext|>": 50256}``, tokens
  written in the printable byte alphabet of ``byte_level.py``;
* ``vocab.bpe``: a ``#version: 0.2`` line, then one merge per line in priority order,
  the two parts separated by a space: ``Ġ t`` (the first merge: " " + "t").

Unlike tiktoken's rank file, the merges are explicit. Loading checks that the two files agree
(each merge makes a token of ``encoder.json``, with ids rising in merge order, so ids can
serve as ranks). Tokens that are neither a byte nor made by a merge (``<|endoftext|>``)
become special tokens. Problems raise :class:`TokenizerFormatError` naming the file and the
line or field.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.bpe_regex import GPT2_PATTERN, RegexBPE
from llmlab.tokenizers.byte_level import str_to_token, token_to_str


def load_gpt2_files(
    encoder_json: str | Path, vocab_bpe: str | Path, *, pattern: str = GPT2_PATTERN, name: str = "gpt2"
) -> RegexBPE:
    """A :class:`RegexBPE` from GPT-2-style ``encoder.json`` and ``vocab.bpe``."""
    encoder_path, merges_path = Path(encoder_json), Path(vocab_bpe)
    encoder = _read_encoder(encoder_path)
    merges = _read_merges(merges_path)
    ranks: dict[bytes, int] = {}
    specials: dict[str, int] = {}
    by_bytes = {}
    for text, token_id in encoder.items():
        try:
            by_bytes[str_to_token(text)] = token_id
        except KeyError:
            specials[text] = token_id  # not byte-level text at all: only a special token can be that
    for token, token_id in by_bytes.items():
        if len(token) == 1:
            ranks[token] = token_id

    def fail(line: int, problem: str) -> TokenizerFormatError:
        return TokenizerFormatError(merges_path, problem, line=line)

    previous = -1
    for n, (left, right) in merges:
        merged = left + right
        for part in (left, right):
            if part not in ranks:
                raise fail(n, f"{token_to_str(part)!r} is neither a byte nor made by an earlier merge")
        if merged not in by_bytes:
            raise fail(n, f"the merge makes {token_to_str(merged)!r}, which is not in {encoder_path.name}")
        if merged in ranks:
            continue  # the same token made by a second pair: the rank rule covers it already
        if by_bytes[merged] <= previous:
            raise fail(
                n,
                f"the merge makes id {by_bytes[merged]}, not above the previous merge's id {previous}; ids must rise in merge order",
            )
        previous = ranks[merged] = by_bytes[merged]
    for token, token_id in by_bytes.items():
        if token not in ranks:
            specials[token.decode("utf-8", errors="replace")] = token_id
    return RegexBPE(ranks, pattern, specials, name=name, merges=[m for _, m in merges])


def save_gpt2_files(tok: RegexBPE, folder: str | Path) -> tuple[Path, Path]:
    """Write ``encoder.json`` and ``vocab.bpe`` for ``tok`` into ``folder``; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    encoder = {token_to_str(t): i for t, i in sorted(tok.ranks.items(), key=lambda kv: kv[1])}
    encoder.update(tok.special_tokens)
    encoder_path, merges_path = folder / "encoder.json", folder / "vocab.bpe"
    encoder_path.write_text(json.dumps(encoder, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{token_to_str(a)} {token_to_str(b)}" for a, b in tok.merges)]
    merges_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return encoder_path, merges_path


def _read_encoder(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise TokenizerFormatError(path, "not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise TokenizerFormatError(
            path, f"not valid JSON: {e.msg} (column {e.colno})", line=e.lineno
        ) from None
    if not isinstance(data, dict):
        raise TokenizerFormatError(
            path, f"expected a JSON object of token -> id, found a {type(data).__name__}"
        )
    seen: dict[int, str] = {}
    for token, token_id in data.items():
        if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id < 0:
            raise TokenizerFormatError(
                path, f"the id {token_id!r} is not a non-negative integer", field=repr(token)
            )
        if token_id in seen:
            raise TokenizerFormatError(
                path, f"id {token_id} is also the id of {seen[token_id]!r}", field=repr(token)
            )
        seen[token_id] = token
    return data


def _read_merges(path: Path) -> list[tuple[int, tuple[bytes, bytes]]]:
    """(line number, (left bytes, right bytes)) for each merge line."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError:
        raise TokenizerFormatError(path, "not valid UTF-8") from None
    merges = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or (n == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise TokenizerFormatError(
                path, f"expected two tokens separated by one space, found {line!r}", line=n
            )
        try:
            merges.append((n, (str_to_token(parts[0]), str_to_token(parts[1]))))
        except KeyError as e:
            raise TokenizerFormatError(
                path, f"character {e.args[0]!r} is not in the byte-level alphabet", line=n
            ) from None
    return merges
