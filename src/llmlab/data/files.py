"""Small helpers the loaders share: decode a text file strictly, and report a bad file in one line.

Every loader reads bytes that came out of a registry package. When a file is not what the
loader expects, the user gets one line naming the file and, where it helps, the line number:
``cannot read /.../movieReviewSnippets_GroundTruth.txt, line 3: expected 3 tab-separated
fields ...``. The few records a loader leaves out on purpose are named in its docstring.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from llmlab.errors import LLMLabError


def malformed(path: Path, line: int | None, problem: str) -> LLMLabError:
    """The one-line error a loader raises when a file does not have the expected format."""
    where = f"{path}, line {line}" if line is not None else str(path)
    return LLMLabError(f"cannot read {where}: {problem}")


def read_utf8(path: Path) -> str:
    """The whole file as text: UTF-8 (a leading byte-order mark is dropped), newlines -> "\\n"."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise malformed(path, line, f"not valid UTF-8 (byte {data[e.start]:#04x})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def iter_utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` pairs of a UTF-8 file without reading it all at once (newline
    stripped); meant for files of gigabytes."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise malformed(path, number, f"not valid UTF-8 (byte {raw[e.start]:#04x})") from None
            yield number, line.rstrip("\r\n")


def decode_lenient(raw: bytes) -> str:
    """Decode one line that is meant to be UTF-8 but may come from an older Windows tool.

    Tries UTF-8, then Windows-1252 (curly quotes, dashes), then Latin-1, which maps every
    byte to a character and so never fails. Used where a source is known to mix encodings.
    """
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")
