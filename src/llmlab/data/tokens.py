"""Token files: a corpus tokenized once, stored as raw ids on disk and memory-mapped for training.

Tokenizing is slow and training reads the same tokens for many epochs, so we do it once, the way
nanoGPT's ``prepare.py`` does, and keep the result as two flat arrays of ids::

    out_dir/
      train.bin   raw little-endian uint16 ids (uint32 when the vocabulary has more than 65,536 ids)
      val.bin     the same, for the validation split
      meta.json   dtype, vocab_size, token and document counts, tokenizer name and fingerprint, source

``TokenFile.open(out_dir)`` maps both files with ``numpy.memmap``: opening is instant whatever the
size, and the operating system pages in only the windows a batch reads.

How ``TokenFile.build`` works:

1. stream the documents through the tokenizer (``encode_ordinary``: special-token *text* in the
   corpus stays ordinary text), appending ``eot_id`` after each document when given, and write the
   ids to one temporary file as they come, so memory stays bounded whatever the corpus size;
2. choose the cut: with several documents, at the document boundary closest to
   ``(1 - val_fraction)`` of the tokens (the last documents become validation, so no document is
   split between train and validation); with one document, at that token position;
3. copy the tail into ``val.bin``, truncate the temporary file to the head and rename it to
   ``train.bin``, then write ``meta.json`` last. Every file appears by ``os.replace``, and the
   old ``meta.json`` is removed first, so a build killed half-way never leaves a folder that
   opens as a valid token file with mixed contents.

The split is deterministic: the same corpus and tokenizer give byte-identical files.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from llmlab.assets.files import atomic_write, atomic_write_bytes
from llmlab.data.batches import check_enough
from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer

FORMAT = "llmlab-token-file"
VERSION = 1
DTYPES = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}  # explicit little-endian on every host
_FLUSH = 1 << 20  # write ids to disk every ~1M tokens
_PROBE = "Hello, world! It's 2024: ½ café, 日本語 and   spaces\n\tdone."  # catches a changed split rule


def dtype_for(vocab_size: int) -> Literal["uint16", "uint32"]:
    """uint16 holds ids 0..65535, so a vocabulary of up to 65,536 ids fits in two bytes per token."""
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def tokenizer_fingerprint(tokenizer: Tokenizer) -> str:
    """16 hex digits of sha256 over the vocabulary (every id's token), the special tokens and the
    ids of a probe text: equal fingerprints mean the same ids for the same text, in practice."""
    h = hashlib.sha256(f"{tokenizer.vocab_size}\0{sorted(tokenizer.special_tokens.items())}\0".encode())
    for i in range(tokenizer.vocab_size):
        try:
            h.update(tokenizer.id_to_token(i).encode("utf-8", "surrogatepass") + b"\0")
        except (KeyError, IndexError, ValueError):
            h.update(b"\1")  # subtle: some vocabularies have unused ids (cl100k_base has gaps)
    h.update(str(tokenizer.encode_ordinary(_PROBE)).encode())
    return h.hexdigest()[:16]


@dataclass
class TokenFile:
    """The two splits of a built token file, memory-mapped read-only, and its ``meta.json``."""

    folder: Path
    meta: dict[str, Any]
    train: np.ndarray  # (n_train,) ids, uint16 or uint32
    val: np.ndarray  # (n_val,)

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def eot_id(self) -> int | None:
        return self.meta["eot_id"]

    def split(self, name: str) -> np.ndarray:
        """``"train"`` or ``"val"`` (``"validation"`` is accepted too)."""
        if name == "train":
            return self.train
        if name in ("val", "validation"):
            return self.val
        raise LLMLabError(f"unknown split '{name}' of token file {self.folder}: choose train or val")

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"TokenFile({str(self.folder)!r}, train={len(self.train):,}, val={len(self.val):,} tokens, "
            f"{m['dtype']}, vocab_size={m['vocab_size']}, tokenizer={m['tokenizer']['name']!r})"
        )

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        texts: Iterable[str] | str | os.PathLike[str],
        tokenizer: Tokenizer,
        out_dir: str | os.PathLike[str],
        *,
        val_fraction: float = 0.1,
        eot_id: int | None = None,
        seq_len: int | None = None,
        progress: bool = True,
        source: str | None = None,
    ) -> TokenFile:
        """Tokenize ``texts`` (documents, or a path: a text file is one document, a folder gives
        one document per ``*.txt`` file in name order) into ``out_dir`` and open the result.

        ``eot_id`` (e.g. GPT-2's ``<|endoftext|>`` = 50256) is appended after every document;
        ``seq_len``, when given, checks now that both splits can hold one training window;
        ``progress`` shows a bar on stderr when it is a terminal.
        """
        if not 0.0 < val_fraction < 1.0:
            raise LLMLabError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
        vocab = tokenizer.vocab_size
        if eot_id is not None and not 0 <= eot_id < vocab:
            raise LLMLabError(f"eot_id {eot_id} is not an id of {tokenizer.name} (vocab_size {vocab})")
        docs, total_docs, source = _documents(texts, source)
        dtype = dtype_for(vocab)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "meta.json").unlink(missing_ok=True)  # subtle: invalidate first (see module docstring)
        fd, tmp = tempfile.mkstemp(prefix=".tokens.", suffix=".part", dir=out)
        try:
            with os.fdopen(fd, "wb") as f, _Bar(progress, total_docs, f"tokenizing {source}") as bar:
                ends = _write_ids(f, docs, tokenizer, eot_id, DTYPES[dtype], bar)
                f.flush()
                os.fsync(f.fileno())
            n = ends[-1] if ends else 0
            if n == 0:
                raise LLMLabError(f"the corpus is empty: {len(ends)} documents from {source} gave no tokens")
            cut, how = _cut(ends, n, val_fraction)
            if seq_len is not None:
                check_enough(cut, seq_len, "the train split")
                check_enough(n - cut, seq_len, "the val split")
            itemsize = DTYPES[dtype].itemsize
            with open(tmp, "rb") as src, atomic_write(out / "val.bin") as dst:
                src.seek(cut * itemsize)
                while chunk := src.read(_FLUSH * itemsize):
                    dst.write(chunk)
            with open(tmp, "r+b") as f:  # the head stays: cut the tail off and rename it into place
                f.truncate(cut * itemsize)
                os.fsync(f.fileno())
            os.replace(tmp, out / "train.bin")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        n_docs_train = sum(1 for e in ends if e <= cut) if how == "documents" else 1
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "dtype": dtype,
            "vocab_size": vocab,
            "eot_id": eot_id,
            "tokens": {"train": cut, "val": n - cut},
            "documents": {
                "train": n_docs_train,
                "val": len(ends) - n_docs_train if how == "documents" else 1,
            },
            "val_fraction": val_fraction,
            "split_at": how,
            "tokenizer": {"name": tokenizer.name, "fingerprint": tokenizer_fingerprint(tokenizer)},
            "source": source,
        }
        atomic_write_bytes(out / "meta.json", (json.dumps(meta, indent=1) + "\n").encode())
        return cls.open(out)

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        tokenizer: Tokenizer | None = None,
        vocab_size: int | None = None,
        seq_len: int | None = None,
    ) -> TokenFile:
        """Memory-map a built token file, checking it against ``meta.json``.

        ``tokenizer``: must be the one it was built with (same vocab_size and fingerprint);
        ``vocab_size``: a model's embedding rows, which must cover every id (a padded 50,304 is fine);
        ``seq_len``: both splits must hold at least ``seq_len + 1`` tokens.
        """
        folder = Path(folder)
        meta = _read_meta(folder)
        dtype = meta["dtype"]
        if dtype != dtype_for(meta["vocab_size"]):
            raise LLMLabError(
                f"{folder}/meta.json: dtype {dtype} does not match vocab_size {meta['vocab_size']} "
                f"(expected {dtype_for(meta['vocab_size'])}); rebuild the token file"
            )
        arrays = {}
        for split in ("train", "val"):
            path, n = folder / f"{split}.bin", meta["tokens"][split]
            want = n * DTYPES[dtype].itemsize
            have = path.stat().st_size if path.is_file() else None
            if have != want:
                found = "is missing" if have is None else f"has {have:,} bytes"
                raise LLMLabError(
                    f"{path} {found}, but meta.json says {n:,} {dtype} tokens ({want:,} bytes): "
                    "the token file is incomplete or corrupt; rebuild it"
                )
            arrays[split] = np.memmap(path, dtype=DTYPES[dtype], mode="r", shape=(n,))
        tf = cls(folder, meta, arrays["train"], arrays["val"])
        if tokenizer is not None:
            tf.check_tokenizer(tokenizer)
        if vocab_size is not None and vocab_size < tf.vocab_size:
            raise LLMLabError(
                f"token file {folder} has vocab_size {tf.vocab_size} but the model has {vocab_size} "
                "embedding rows: ids would fall outside the table; use the tokenizer the model was made for"
            )
        if seq_len is not None:
            check_enough(len(tf.train), seq_len, f"the train split of {folder}")
            check_enough(len(tf.val), seq_len, f"the val split of {folder}")
        return tf

    def check_tokenizer(self, tokenizer: Tokenizer) -> None:
        """Raise unless ``tokenizer`` gives the ids this file was built with."""
        built = self.meta["tokenizer"]
        if (
            tokenizer.vocab_size != self.vocab_size
            or tokenizer_fingerprint(tokenizer) != built["fingerprint"]
        ):
            raise LLMLabError(
                f"token file {self.folder} was built with tokenizer '{built['name']}' "
                f"(vocab_size {self.vocab_size}, fingerprint {built['fingerprint']}), not with "
                f"'{tokenizer.name}' (vocab_size {tokenizer.vocab_size}); rebuild it or load that tokenizer"
            )


# -- helpers --------------------------------------------------------------------------------------
def _documents(
    texts: Iterable[str] | str | os.PathLike[str], source: str | None
) -> tuple[Iterable[str | Path], int | None, str]:
    """(documents, how many if known, source name). A document is a str, or a Path read line by line."""
    if isinstance(texts, (str, os.PathLike)):
        path = Path(texts)
        if path.is_dir():
            files = sorted(path.glob("*.txt"), key=lambda p: p.name)
            if not files:
                raise LLMLabError(f"the corpus is empty: {path} holds no *.txt files")
            return files, len(files), source or str(path)
        if not path.is_file():
            raise LLMLabError(f"no such corpus file or folder: {path} (to tokenize a text, pass [text])")
        return [path], 1, source or str(path)
    return texts, len(texts) if isinstance(texts, Sized) else None, source or "texts"


def _encode_chunks(doc: str | Path, tokenizer: Tokenizer) -> Iterator[list[int]]:
    """A document's ids in lists; a file is streamed line by line (``encode_iterable`` gives the
    same ids as encoding the whole text), so a file of gigabytes never sits in memory."""
    if isinstance(doc, str):
        yield tokenizer.encode_ordinary(doc)
        return
    ids = tokenizer.encode_iterable(_lines(doc), disallowed_special=())
    while chunk := list(itertools.islice(ids, _FLUSH)):
        yield chunk


def _lines(path: Path) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            yield from f
    except UnicodeDecodeError as e:
        raise LLMLabError(f"cannot read {path}: not valid UTF-8 ({e.reason})") from None


def _write_ids(
    f: BinaryIO,
    docs: Iterable[str | Path],
    tokenizer: Tokenizer,
    eot_id: int | None,
    dtype: np.dtype,
    bar: Any,
) -> list[int]:
    """Write every document's ids (then ``eot_id``) to ``f``; returns the cumulative end of each
    non-empty document, in tokens."""
    ends: list[int] = []
    pending: list[int] = []
    written = 0
    for doc in docs:
        start = written + len(pending)
        for ids in _encode_chunks(doc, tokenizer):
            pending += ids
            bar(len(ids), 0)
            if len(pending) >= _FLUSH:
                written += _flush(f, pending, dtype, tokenizer)
        bar(0, 1)
        if written + len(pending) == start:
            continue  # an empty document would add a lone eot_id and count as a document
        if eot_id is not None:
            pending.append(eot_id)
        ends.append(written + len(pending))
    written += _flush(f, pending, dtype, tokenizer)
    return ends


def _flush(f: BinaryIO, ids: list[int], dtype: np.dtype, tokenizer: Tokenizer) -> int:
    if not ids:
        return 0
    arr = np.asarray(ids, dtype=np.int64)
    if arr.min() < 0 or arr.max() >= tokenizer.vocab_size:  # else the cast would wrap silently
        raise LLMLabError(
            f"{tokenizer.name} produced id {int(arr.max())} outside its vocab_size {tokenizer.vocab_size}"
        )
    f.write(arr.astype(dtype).tobytes())
    n = len(ids)
    ids.clear()
    return n


def _cut(ends: list[int], n: int, val_fraction: float) -> tuple[int, str]:
    """Where train ends: the document boundary nearest ``(1 - val_fraction) * n``, or that position."""
    target = (1.0 - val_fraction) * n
    if len(ends) >= 2:
        return min(ends[:-1], key=lambda e: (abs(e - target), e)), "documents"
    if n < 2:
        raise LLMLabError(f"the corpus is too small to split: {n} token")
    return min(max(round(target), 1), n - 1), "position"


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / "meta.json"
    if not path.is_file():
        raise LLMLabError(
            f"{folder} is not a token file: meta.json is missing (build it with TokenFile.build)"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise LLMLabError(f"{path} is corrupt ({e}); rebuild the token file") from None
    problem = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        problem = f"not an llmlab token file (format should be '{FORMAT}')"
    elif meta.get("version") != VERSION:
        problem = f"version {meta.get('version')} is not the one this llmlab reads ({VERSION})"
    elif meta.get("dtype") not in DTYPES:
        problem = f"unknown dtype {meta.get('dtype')!r} (expected uint16 or uint32)"
    elif not isinstance(meta.get("tokens"), dict) or not all(
        isinstance(meta["tokens"].get(s), int) and meta["tokens"][s] > 0 for s in ("train", "val")
    ):
        problem = "tokens must give positive train and val counts"
    elif not isinstance(meta.get("vocab_size"), int) or not isinstance(meta.get("tokenizer"), dict):
        problem = "vocab_size or tokenizer is missing"
    if problem:
        raise LLMLabError(f"{path} is corrupt: {problem}; rebuild the token file")
    return meta


class _Bar:
    """A rich progress bar on stderr over documents (tokens counted in the description); shown
    only when asked and stderr is a terminal, so logs and tests stay clean."""

    def __init__(self, show: bool, total: int | None, what: str):
        from llmlab.cli.console import err_console

        self.show, self.total, self.what, self.console = (
            show and err_console.is_terminal,
            total,
            what,
            err_console,
        )
        self.tokens = 0

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.show:
            return lambda n_tokens, n_docs: None
        from rich.progress import Progress

        self.bar = Progress(console=self.console, transient=True)
        self.bar.start()
        task = self.bar.add_task(self.what, total=self.total)

        def advance(n_tokens: int, n_docs: int) -> None:
            self.tokens += n_tokens
            self.bar.update(task, advance=n_docs, description=f"{self.what}: {self.tokens:,} tokens")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.stop()
