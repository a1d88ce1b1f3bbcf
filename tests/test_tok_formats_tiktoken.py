"""tiktoken rank files: read like tiktoken's own loader, written byte for byte like OpenAI's, bad lines named."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
import tiktoken.load

from llmlab.tokenizers import TokenizerFormatError
from llmlab.tokenizers.formats.tiktoken_ranks import load_tiktoken_ranks, save_tiktoken_ranks

Need = Callable[..., list[Path]]


@pytest.mark.parametrize(
    ("asset", "file"), [("gpt2-ranks", "gpt2.tiktoken"), ("cl100k-ranks", "cl100k_base.tiktoken.gz")]
)
def test_load_matches_tiktoken_and_save_gives_the_same_bytes(
    real_assets: Need, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, asset: str, file: str
) -> None:
    [folder] = real_assets(asset)
    original = (folder / file).read_bytes()
    plain = gzip.decompress(original) if file.endswith(".gz") else original
    (tmp_path / "plain.tiktoken").write_bytes(plain)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken: read the local file, cache nothing
    theirs = tiktoken.load.load_tiktoken_bpe(str(tmp_path / "plain.tiktoken"))
    ours = load_tiktoken_ranks(folder / file)
    assert ours == theirs
    assert save_tiktoken_ranks(ours, tmp_path / "again.tiktoken").read_bytes() == plain
    assert load_tiktoken_ranks(save_tiktoken_ranks(ours, tmp_path / "again.tiktoken.gz")) == ours


def write(tmp_path: Path, lines: list[str], name: str = "bad.tiktoken") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def b64(token: bytes) -> str:
    return base64.b64encode(token).decode()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([f"{b64(b'a')} 0", "!!!notbase64 1"], "line 2: '!!!notbase64' is not valid base64"),
        ([f"{b64(b'a')} 0", "YWJj"], "line 2: expected '<base64 token> <rank>', found 'YWJj'"),
        ([f"{b64(b'a')} 0", f"{b64(b'b')} 0"], "line 2: rank 0 is already used on line 1"),
        ([f"{b64(b'a')} 0", f"{b64(b'b')} one"], "line 2: rank 'one' is not a non-negative integer"),
        ([f"{b64(b'a')} -1"], "line 1: rank '-1' is not a non-negative integer"),
        ([f"{b64(b'a')} 0", f"{b64(b'a')} 1"], "line 2: token b'a' already has rank 0"),
        ([f"{b64(b'a')} 0 extra"], "line 1: expected '<base64 token> <rank>', found 'YQ== 0 extra'"),
        (["", "   "], "the file holds no tokens"),
    ],
)
def test_malformed_rank_file(tmp_path: Path, lines: list[str], message: str) -> None:
    path = write(tmp_path, lines)
    with pytest.raises(TokenizerFormatError) as e:
        load_tiktoken_ranks(path)
    assert str(e.value) == (f"{path}, {message}" if message.startswith("line") else f"{path}: {message}")


def test_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "ranks.tiktoken.gz"
    path.write_bytes(gzip.compress(b"YQ== 0\n")[:-6])  # cut off the trailer
    with pytest.raises(TokenizerFormatError, match=r"ranks\.tiktoken\.gz: not a valid gzip file \("):
        load_tiktoken_ranks(path)
