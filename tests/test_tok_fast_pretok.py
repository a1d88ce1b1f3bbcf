"""The C pre-tokenizers and piece counters equal regex.findall and a Counter of it.

Also home of ``varied_strings``, the multilingual test strings the other fast-path tests use.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("llmlab.tokenizers._fastbpe", reason="the C fast path is not built (no C compiler?)")

from llmlab.errors import LLMLabError  # noqa: E402
from llmlab.tokenizers import fast  # noqa: E402
from llmlab.tokenizers import fast_reference as ref  # noqa: E402

# tiktoken's spelling of the GPT-2 pattern (r50k_base); equivalent to GPT2_PATTERN.
R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""

# fmt: off
FRAGMENTS = [
    # Latin, accents (composed and combining), German, French, Vietnamese
    "Hello", "world", "café", "naïve", "Straße", "e\u0301", "Ångström", "Tiếng Việt", "façade", "ŒUVRE",
    # Cyrillic, Greek, Arabic, Hebrew, Devanagari, CJK, Japanese, Korean, Thai
    "Привет", "мир", "Καλημέρα", "κόσμε", "مرحبا", "بالعالم", "שלום", "עולם", "नमस्ते", "दुनिया",
    "你好世界", "こんにちは", "カタカナ", "안녕하세요", "세계", "สวัสดีชาวโลก",
    # emoji: skin tones, ZWJ families, flags, variation selectors
    "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🤖",
    # contractions in every case, curly apostrophes, long s
    "it's", "I'M", "we'LL", "they'Re", "you'VE", "he'D", "don'T", "'s", "'ll", "'ſ", "it’s", "''", "'",
    # numbers: ASCII runs, Arabic-Indic, superscripts, fractions, Roman numerals
    "123456789", "2024", "٣٤٥", "²³", "½", "Ⅻ", "1,000.50", "3.14159", "0x1F",
    # code and punctuation
    "def f(x):\n\treturn x**2  # square\n", "if (a != b) { return; }", "<|endoftext|>", "https://ex.org/a?b=c",
    "...", "!!!", "—", "«»", "@#$%", "\\n", "\x00", "\x1f", "\u200b", "\ufeff", "\u180e",
    # whitespace of every kind
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n ", "\u00a0", "\u3000", "\u2028", "\u0085", "\x0b", "\x0c",
]
# fmt: on
SEPARATORS = ["", " ", "  ", "\n", "\r\n", "\t", " \n", "\n\n", "\u00a0"]


def varied_strings(n: int, seed: int = 0) -> list[str]:
    """``n`` strings of 1-8 fragments from many scripts, joined by varied whitespace."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = rng.choices(FRAGMENTS, k=rng.randint(1, 8))
        out.append("".join(p + rng.choice(SEPARATORS) for p in parts))
    return out


@pytest.mark.parametrize("pattern", fast.PATTERN_NAMES)
def test_pieces_equal_regex_findall_on_varied_strings(pattern: str) -> None:
    compiled = regex.compile(ref.PATTERNS[pattern])
    strings = varied_strings(3000, seed=1)
    mismatches = [s for s in strings if fast.split(s, pattern) != compiled.findall(s)]
    assert mismatches == []
    # the joined strings too: longer texts, pieces across fragment boundaries
    text = "".join(strings)
    assert fast.split(text, pattern) == compiled.findall(text)


def test_r50k_spelling_is_equivalent_to_gpt2() -> None:
    text = "".join(varied_strings(2000, seed=2))
    assert regex.findall(R50K_PATTERN, text) == regex.findall(ref.GPT2_PATTERN, text)


@pytest.fixture(scope="module")
def every_code_point_texts() -> list[str]:
    """Every code point (surrogates cannot be UTF-8) in four contexts, so that every class range
    and case fold is exercised: alone, between spaces, after an apostrophe, before digits."""
    chars = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    return [
        "".join(chars),
        " ".join(chars),
        "".join(f"'{c}{c} {c}1\n" for c in chars[::7]),
        "".join(f"{c}'ll{c}'VE\r\n {c}" for c in chars[3::11]),
    ]


@pytest.mark.parametrize("pattern", fast.PATTERN_NAMES)
def test_every_code_point(pattern: str, every_code_point_texts: list[str]) -> None:
    compiled = regex.compile(ref.PATTERNS[pattern])
    for text in every_code_point_texts:
        assert fast.split(text, pattern) == compiled.findall(text)


TRICKY = "aAsS'’ \t\r\n\x0b\u00a0\u2028\u3000\u0085017٣½.,!-é\u0301ſ中한👍🏽\u200d\U0001d7ce"


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(TRICKY), max_size=40) | st.text(max_size=40))
def test_pieces_property(text: str) -> None:
    for pattern in fast.PATTERN_NAMES:
        pieces = fast.split(text, pattern)
        assert pieces == ref.split(text, pattern)
        assert "".join(pieces) == text  # pieces tile the text


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(TRICKY), max_size=60))
def test_safe_cuts_never_change_the_pieces(text: str) -> None:
    cuts = {m.end() for m in regex.finditer(r"(?<=\S)\n(?=\S)", text)}
    cuts |= {m.start() for m in regex.finditer(r"(?<=\p{L}) ", text)}
    for pattern in fast.PATTERN_NAMES:
        whole = fast.split(text, pattern)
        for cut in cuts:
            assert fast.split(text[:cut], pattern) + fast.split(text[cut:], pattern) == whole, (cut, pattern)
    # the C version finds the same last cut, as a byte offset
    assert fast.safe_cut(text.encode()) == len(text[: ref.safe_cut(text)].encode())


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=12).map(lambda b: b"ok \xc3\xa9" + b) | st.text(max_size=12).map(str.encode))
def test_bytes_are_checked_like_pythons_utf8_decoder(data: bytes) -> None:
    try:
        expected = ref.count_pieces(data.decode("utf-8"), "cl100k")
    except UnicodeDecodeError as e:
        with pytest.raises(UnicodeDecodeError) as got:
            fast.count_pieces(data, "cl100k")
        assert got.value.start == e.start
    else:
        assert fast.count_pieces(data, "cl100k") == expected
    fast.safe_cut(data)  # never reads past the end, whatever the bytes


@pytest.mark.parametrize("pattern", fast.PATTERN_NAMES)
def test_counts_equal_a_counter_of_findall(pattern: str) -> None:
    text = "".join(varied_strings(2000, seed=3))
    expected = {p.encode(): n for p, n in Counter(regex.findall(ref.PATTERNS[pattern], text)).items()}
    assert fast.count_pieces(text, pattern) == expected
    assert ref.count_pieces(text, pattern) == expected
    # adding to an existing dict doubles every count
    assert fast.count_pieces(text, pattern, dict(expected)) == {k: 2 * v for k, v in expected.items()}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_files_counted_in_small_chunks_equal_the_whole_text(tmp_path, newline: str) -> None:
    texts = [
        "".join(varied_strings(400, seed=s)).replace("\r\n", "\n").replace("\n", newline) for s in (4, 5)
    ]
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"part{i}.txt")
        paths[-1].write_bytes(text.encode())
    for pattern in fast.PATTERN_NAMES:
        expected: dict[bytes, int] = {}
        for text in texts:
            ref.count_pieces(text, pattern, expected)
        for workers in (1, 3):
            got = fast.count_pieces_in_files(paths, pattern, chunk_bytes=333, workers=workers)
            assert got == expected, (pattern, workers)


def test_piece_counter_adds_updates_and_reports_totals() -> None:
    a, b = fast._fastbpe.PieceCounter("cl100k"), fast._fastbpe.PieceCounter("cl100k")
    a.add("the cat the")
    b.add(" cat")
    a.update(b)
    assert a.to_dict() == {b"the": 1, b" cat": 2, b" the": 1}
    assert (len(a), a.total, a.pattern) == (3, 4, "cl100k")


def test_bad_input_messages() -> None:
    with pytest.raises(
        LLMLabError, match=r"^unknown pre-tokenizer pattern 'o200k': expected 'gpt2' or 'cl100k'$"
    ):
        fast.split("x", "o200k")
    with pytest.raises(ValueError, match=r"^unknown pattern 'p50k': expected 'gpt2' or 'cl100k'$"):
        fast._fastbpe.count_pieces("x", "p50k")
    with pytest.raises(TypeError, match=r"^text must be str, not bytes$"):
        fast._fastbpe.split(b"x", "gpt2")
    with pytest.raises(TypeError, match=r"^text must be str or UTF-8 bytes, not int$"):
        fast.count_pieces(3)
    with pytest.raises(ValueError, match=r"^cannot add counts of a different pattern$"):
        fast._fastbpe.PieceCounter("gpt2").update(fast._fastbpe.PieceCounter("cl100k"))


@pytest.mark.parametrize("workers", [1, 2])
def test_invalid_utf8_file_names_the_byte(tmp_path, workers: int) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine text\nmore\n" * 300 + b"\xff oops\nthe end")
    with pytest.raises(LLMLabError, match=r"bad\.txt: not valid UTF-8 \(byte 4500\)$"):
        fast.count_pieces_in_files([path], chunk_bytes=100, workers=workers)
