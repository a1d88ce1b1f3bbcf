"""The fast path's build stays in step with its sources: the Unicode tables with the installed
``regex``, the compiled module with the C files, and its memory use flat under repeated calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_unicode_tables_match_the_installed_regex() -> None:
    """Regenerates the tables in memory (from regex itself) and compares with the committed header."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_unicode_tables.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_built_extension_is_compiled_from_the_current_sources() -> None:
    pytest.importorskip("llmlab.tokenizers._fastbpe", reason="the C fast path is not built (no C compiler?)")
    from llmlab.tokenizers import _fastbpe, fast

    if not (Path(fast.__file__).parent / "_fastbpe.c").exists():
        pytest.skip("the C sources are not installed next to the module (not an editable install)")
    assert _fastbpe.SOURCE_SHA256 == fast.source_digest(), (
        "the C sources changed since the extension was built: run `.venv/bin/pip install -e . --no-deps`"
    )


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4  # resident pages; 4 KiB pages on Linux x86-64 and arm64


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc (Linux)")
def test_repeated_calls_do_not_leak() -> None:
    pytest.importorskip("llmlab.tokenizers._fastbpe", reason="the C fast path is not built (no C compiler?)")
    from llmlab.tokenizers import fast
    from test_tok_fast_pretok import varied_strings

    text = "".join(varied_strings(300, seed=20))
    ranks = {bytes([b]): b for b in range(256)}
    for token in fast.merges_to_tokens(fast.train_merges(fast.count_pieces(text), 300))[256:]:
        ranks.setdefault(token, len(ranks))

    def work() -> None:
        counter = fast._fastbpe.PieceCounter("cl100k")
        counter.add(text)
        fast.train_merges(counter, 200)
        fast.train_merges(fast.count_pieces(text, "gpt2"), 200)
        encoder = fast.RankEncoder(ranks)
        encoder.encode(text)
        encoder.encode_piece(text.encode()[:5000])
        fast.split(text, "cl100k")
        for bad in ({b"a": 0}, {"x": 1}):
            try:
                fast.RankEncoder(bad).encode("abc")
            except (ValueError, TypeError):
                pass

    for _ in range(20):  # warm up: allocator pools and caches settle
        work()
    before = _rss_kib()
    for _ in range(200):
        work()
    assert _rss_kib() - before < 8 * 1024, "RSS grew by more than 8 MiB over 200 rounds"
