"""tiktoken's rank files: one token per line, ``<base64 of the token's bytes> <rank>``.

This is how OpenAI ships GPT-2 (``gpt2.tiktoken``, also called r50k), cl100k and o200k. The
rank is both the token's id and its merge priority (see ``bpe_regex.py``). Special tokens and
the split pattern are *not* in the file; :mod:`llmlab.tokenizers.pretrained` supplies them.

    IQ== 0           <- b"!" has rank 0
    IGhlbGxv 31373   <- b" hello" has rank 31373

Files ending in ``.gz`` are gzip-compressed. A malformed line raises a one-line
:class:`TokenizerFormatError` naming the file and the line.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Mapping
from pathlib import Path

from llmlab.tokenizers.base import TokenizerFormatError


def load_tiktoken_ranks(path: str | Path) -> dict[bytes, int]:
    """Token bytes -> rank, from a ``.tiktoken`` or ``.tiktoken.gz`` file."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise TokenizerFormatError(path, f"not a valid gzip file ({e})") from None
    ranks: dict[bytes, int] = {}
    line_of_rank: dict[int, int] = {}
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue  # blank lines (the final newline) carry nothing
        fields = line.split()
        if len(fields) != 2:
            raise TokenizerFormatError(path, f"expected '<base64 token> <rank>', found {_show(line)}", line=n)
        token_b64, rank_text = fields
        try:
            token = base64.b64decode(token_b64, validate=True)
        except (binascii.Error, ValueError):
            raise TokenizerFormatError(path, f"{_show(token_b64)} is not valid base64", line=n) from None
        if not rank_text.isdigit():
            raise TokenizerFormatError(path, f"rank {_show(rank_text)} is not a non-negative integer", line=n)
        rank = int(rank_text)
        if rank in line_of_rank:
            raise TokenizerFormatError(
                path, f"rank {rank} is already used on line {line_of_rank[rank]}", line=n
            )
        if token in ranks:
            raise TokenizerFormatError(path, f"token {token!r} already has rank {ranks[token]}", line=n)
        ranks[token] = rank
        line_of_rank[rank] = n
    if not ranks:
        raise TokenizerFormatError(path, "the file holds no tokens")
    return ranks


def save_tiktoken_ranks(ranks: Mapping[bytes, int], path: str | Path) -> Path:
    """Write ``ranks`` in rank order (gzip-compressed if ``path`` ends in ``.gz``)."""
    path = Path(path)
    text = b"".join(
        base64.b64encode(t) + b" %d\n" % r for t, r in sorted(ranks.items(), key=lambda kv: kv[1])
    )
    path.write_bytes(gzip.compress(text, mtime=0) if path.suffix == ".gz" else text)
    return path


def _show(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return repr(text if len(text) <= 40 else text[:40] + "...")
