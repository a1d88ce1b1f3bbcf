"""Our SentencePiece models against the ``sentencepiece`` library, live, on varied text.

For each shipped model (BPE and Unigram on Botchan, Unigram on Japanese) and 5,000 strings
from a seeded generator, everything sentencepiece reports must be equal: the normalised text
and its offsets, the ids, the pieces, the decoded text, and each token's span in the input.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab.tokenizers.formats.protobuf import iter_fields
from llmlab.tokenizers.sentencepiece import load_sentencepiece
from llmlab.tokenizers.spm_base import SpmTokenizer

MODELS = ["botchan_en_bpe_1000.model", "botchan_en_unigram_1000.model", "kyoto_ja_unigram_8000.model"]
POOLS = {
    "cjk": "日本語の文章です。東京都、ひらがなカタカナ漢字ｶﾀｶﾅ〜ー",
    "emoji": "😀🎉👍🏽❤️‍🔥🇯🇵✨",
    "accents": "éèêëàâäôöûüçñÉÀ" + "e\u0301a\u0300o\u0308",
    "compat": "ＡＢＣａｂｃ１２３ﬁﬂ①②㍿㌔™½ⅷ\u00a0\u3000\u2000\u200b\ufeff",
    "space": " \t\n\r  \u3000",
    "unknown": "ΩЖשقअ한∑≈√ӂ\x00\x01\x7f\ufffd",
    "ascii": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()[]{}<>-_/\\@#$%^&*+=~`|",
}
FIXED = ["", " ", "  ", "\t", "\n", "▁", "▁▁a▁", "<s>", "</s>", "<unk>", "a", "hello world", "Hotta......."]


def varied_strings(n: int, seed: int, lines: list[str]) -> list[str]:
    """``n`` strings: prose lines and pieces of them, random mixes of the pools above, runs of
    whitespace, leading and trailing spaces; deterministic for a seed."""
    rng = random.Random(seed)
    out = list(FIXED)
    keys = list(POOLS)
    while len(out) < n:
        kind = rng.random()
        if kind < 0.35:
            s = rng.choice(lines)
        elif kind < 0.55:
            line = rng.choice(lines)
            i = rng.randrange(len(line) + 1)
            s = line[i : rng.randrange(i, len(line) + 1)]
        else:
            s = "".join(
                rng.choice(POOLS[rng.choice(keys)])
                if rng.random() < 0.7
                else rng.choice(["  ", " ", "▁", "\t", "\n"])
                for _ in range(rng.randrange(1, 30))
            )
        if rng.random() < 0.2:
            s = rng.choice(["", " ", "  ", "\t", "\n "]) + s + rng.choice(["", " ", "   ", "\n", "\t"])
        out.append(s)
    return out


def botchan_lines(folder: Path) -> list[str]:
    return [ln for ln in (folder / "botchan.txt").read_text(encoding="utf-8").splitlines() if ln.strip()]


def reference_spans(sp: spm.SentencePieceProcessor, text: str) -> list[tuple[int, int, int]]:
    """sentencepiece's ``(id, begin, end)`` per token, read from its serialized SentencePieceText
    (with our protobuf reader: the package would need ``protobuf`` to parse it) and turned from
    byte offsets into character offsets."""
    data = text.encode("utf-8")
    out = []
    for f in iter_fields(sp.encode(text, out_type="serialized_proto")):
        if f.number == 2:  # SentencePieceText.pieces: id = 2, begin = 4, end = 5
            d = {g.number: g.value for g in iter_fields(f.value)}
            begin, end = (len(data[: d.get(k, 0)].decode("utf-8", "ignore")) for k in (4, 5))
            out.append((d.get(2, 0), begin, end))
    return out


@functools.cache
def load_both(path: Path) -> tuple[spm.SentencePieceProcessor, SpmTokenizer]:
    """sentencepiece's processor and ours for one model file (loaded once per test run)."""
    return spm.SentencePieceProcessor(model_file=str(path)), load_sentencepiece(path)


@pytest.mark.parametrize("name", MODELS)
def test_everything_equals_sentencepiece_on_5000_strings(real_assets, name: str) -> None:
    models, botchan = real_assets("sentencepiece-models", "botchan")
    sp, tok = load_both(models / name)
    assert tok.vocab_size == sp.get_piece_size()
    for text in varied_strings(5000, 0, botchan_lines(botchan)):
        normalized, offsets = sp.Normalize(text, with_offsets=True)
        assert tok.normalizer.normalize_with_offsets(text) == (normalized, list(offsets)), text
        ids = sp.encode(text)
        assert tok.encode_ordinary(text) == ids, text
        assert tok.encode_pieces(text) == sp.encode(text, out_type=str), text
        assert tok.decode(ids) == sp.decode(ids), text
        assert tok.encode_with_offsets(text) == reference_spans(sp, text), text


@pytest.mark.parametrize("name", MODELS)
def test_vocabulary_lookups_equal_sentencepiece(real_assets, name: str) -> None:
    [folder] = real_assets("sentencepiece-models")
    sp, tok = load_both(folder / name)
    for i in range(sp.get_piece_size()):
        assert tok.id_to_token(i) == sp.id_to_piece(i)
        assert tok.token_to_id(sp.id_to_piece(i)) == i
    assert tok.token_to_id("no such piece") is None
    assert tok.special_tokens == {"<s>": 1, "</s>": 2}
    assert (tok.unk_id, tok.bos_id, tok.eos_id) == (sp.unk_id(), sp.bos_id(), sp.eos_id())


@pytest.mark.parametrize("name", MODELS)
def test_arbitrary_text_equals_sentencepiece(real_assets, name: str) -> None:
    [folder] = real_assets("sentencepiece-models")
    sp, tok = load_both(folder / name)

    @settings(max_examples=200, deadline=None)
    @given(text=st.text(max_size=40))
    def check(text: str) -> None:
        ids = sp.encode(text)
        assert tok.encode_ordinary(text) == ids
        assert (
            tok.normalizer.normalize_with_offsets(text)
            == tuple((n, list(o)) for n, o in [sp.Normalize(text, with_offsets=True)])[0]
        )
        assert tok.decode(ids) == sp.decode(ids)

    check()


@pytest.mark.parametrize("name", MODELS)
def test_streaming_equals_encoding_at_once(real_assets, name: str) -> None:
    """``encode_iterable`` over chunks (cut anywhere) gives the ids of the whole text."""
    models, botchan = real_assets("sentencepiece-models", "botchan")
    sp, tok = load_both(models / name)
    text = " ".join(botchan_lines(botchan)[:300])
    rng = random.Random(7)
    cuts = sorted(rng.sample(range(1, len(text)), 200))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    assert list(tok.encode_iterable(chunks)) == sp.encode(text)
    assert tok.safe_split("Hello big world") == ("Hello big ", "world")
