"""Build llmlab's one C extension; all other packaging metadata is in pyproject.toml.

``llmlab.tokenizers._fastbpe`` is the compiled fast path for BPE (pre-tokenizing, counting,
encoding, training; see ``src/llmlab/tokenizers/fast.py``). It is ``optional``: on a machine
without a C compiler the build prints a warning, llmlab installs anyway, and only the readable
Python tokenizers are there (``llmlab.tokenizers.fast.available()`` is then False).

After editing the C files, rebuild with ``.venv/bin/pip install -e . --no-deps --no-build-isolation``
(the tests check ``_fastbpe.SOURCE_SHA256`` against the sources, so a stale build is caught).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).resolve().parent
FOLDER = Path("src", "llmlab", "tokenizers")  # relative to ROOT, as setuptools wants


def source_digest(folder: Path) -> str:
    """SHA-256 over the extension's C sources and headers (same function in fast.py)."""
    files = sorted([folder / "_fastbpe.c", folder / "_unicode_tables.h", *folder.glob("csrc/*.[ch]")])
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


fastbpe = Extension(
    "llmlab.tokenizers._fastbpe",
    sources=[
        (FOLDER / "_fastbpe.c").as_posix(),
        *(p.as_posix() for p in sorted((FOLDER / "csrc").glob("*.c"))),
    ],
    depends=[(FOLDER / "_unicode_tables.h").as_posix(), (FOLDER / "csrc" / "fastbpe.h").as_posix()],
    # An unquoted token that the C code turns into a string (quoting differs between compilers).
    define_macros=[("FASTBPE_SOURCE_SHA256", source_digest(ROOT / FOLDER))],
    extra_compile_args=[] if sys.platform == "win32" else ["-std=c11", "-O3"],
    optional=True,
)

setup(ext_modules=[fastbpe])
