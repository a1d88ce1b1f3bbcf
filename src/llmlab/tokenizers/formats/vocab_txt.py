"""``vocab.txt``: BERT's vocabulary file, one token per line, the line number (from 0) is the id.

The whole of a WordPiece tokenizer's learned state fits in this file: WordPiece needs no merges
or scores, only the set of pieces. The reader is strict where HF is lenient, because a silent
mistake here shifts every id after it:

* an empty line is an error (HF would add the empty string as a token);
* a token that appears twice is an error (HF keeps the later line and leaves a hole in the ids);
* ``[UNK]``, ``[CLS]`` and ``[SEP]`` must be present: without them BERT can neither mark unknown
  words nor frame its input.

Trailing whitespace and ``\\r`` are dropped from each line, as HF's reader does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llmlab.tokenizers.base import TokenizerFormatError

REQUIRED_SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]")


def read_vocab_txt(path: str | Path, *, required: Sequence[str] = REQUIRED_SPECIAL_TOKENS) -> list[str]:
    """The tokens of ``path`` in id order; a malformed file raises :class:`TokenizerFormatError`."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise TokenizerFormatError(path, f"not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise TokenizerFormatError(path, f"cannot read the file ({e.strerror})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        token = line.rstrip()
        if not token:
            raise TokenizerFormatError(path, "empty token (every line must hold one token)", line=number)
        if token in first_line:
            raise TokenizerFormatError(
                path, f"token {token!r} already appears on line {first_line[token]}", line=number
            )
        first_line[token] = number
    missing = [t for t in required if t not in first_line]
    if missing:
        raise TokenizerFormatError(
            path, f"missing the special token{'s' * (len(missing) > 1)} {', '.join(missing)}"
        )
    return list(first_line)


def write_vocab_txt(tokens: Sequence[str], path: str | Path) -> None:
    """Write ``tokens`` one per line (id = line number); refuses tokens a reader could not read back."""
    for i, token in enumerate(tokens):
        if not token or token != token.rstrip() or "\n" in token:
            raise ValueError(f"token {i} ({token!r}) cannot be written to vocab.txt")
    Path(path).write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")
