"""WordPiece with BERT's real vocabulary vs HF tokenizers, live, on 5,000 varied strings.

Ids (plain and framed with [CLS]/[SEP], single texts and pairs), type ids, offsets and decoded
text must all equal what ``tokenizers.BertWordPieceTokenizer`` gives for the same vocab.txt;
the same vocabulary loaded from MiniLM's tokenizer.json must agree too, and our export must load
in HF with identical results.
"""

from __future__ import annotations

import json
import random
import unicodedata

import pytest
from tokenizers import BertWordPieceTokenizer, Tokenizer, models, normalizers, pre_tokenizers

from llmlab.tokenizers import SpecialTokenError
from llmlab.tokenizers.formats.hf_wordpiece import wordpiece_to_hf_json
from llmlab.tokenizers.wordpiece import SPECIAL_TOKENS, WordPieceTokenizer

WORDS = (
    "the quick brown fox jumps over lazy dog tokenization is surprisingly subtle unaffable "
    "Transformers BERT attention embeddings HuggingFace playing played runs running "
    "internationalization antidisestablishmentarianism I you we they it was were is"
).split()
ACCENTED = ["café", "naïve", "Ångström", "résumé", "Zoë", "façade", "jalapeño", "São Paulo", "Dvořák",
            "Łódź", "Straße", "İstanbul", "ΣΟΦΊΑ", "ὈΔΥΣΣΕΎΣ", "crème brûlée", "e\u0301le\u0300ve", "Å"]  # fmt: skip
SCRIPTS = ["مرحبا بالعالم", "שָׁלוֹם", "Привет, мир", "नमस्ते दुनिया", "ภาษาไทย", "한국어 문장", "ひらがなとカタカナ",
           "Ελληνικά", "Հայերեն", "ትግርኛ", "ᚠᛇᚻ᛫ᛒᛦᚦ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ⓐⓑⓒ"]  # fmt: skip
EMOJI = ["😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤️", "🤖", "🥰", "🫠", "✨", "☃"]
CONTROL = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\u200b", "\u200d", "\ufeff", "\ufffd", "\u00ad", "\u2028",
           "\x85", "\x0b", "\x0c", "\t", "\r\n", "\x1c", "\x1f", "\U000e0001", "\ue000"]  # fmt: skip
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + list("“”‘’—–…«»¿¡・。、！？【】")
WHITESPACE = [" ", "  ", "\t\t", "\n\n", "\u3000", "\xa0", "\u2009", "   \n "]
SPECIALS = [*SPECIAL_TOKENS, "[mask]", "[CLS", "[[SEP]]", "x[MASK]y"]


def _fragment(rng: random.Random) -> str:
    kind = rng.randrange(12)
    if kind == 0:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
    if kind == 1:
        return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 6)))
    if kind == 2:
        return rng.choice(ACCENTED)
    if kind == 3:
        return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(1, 5)))
    if kind == 4:
        return rng.choice(SCRIPTS)
    if kind == 5:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    if kind == 6:
        return rng.choice(WORDS) + rng.choice(CONTROL) + rng.choice(WORDS)
    if kind == 7:  # long words: over 100 characters is [UNK], at most 100 is split into pieces
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzé") for _ in range(rng.randint(90, 130)))
    if kind == 8:
        return rng.choice(["12345", "3.14159", "1,234.56", "2024-01-01", "1e-10", "0x1F", str(rng.random())])
    if kind == 9:
        return rng.choice(WHITESPACE)
    if kind == 10:
        return rng.choice(SPECIALS)
    return "".join(rng.choice(STABLE_BMP) for _ in range(rng.randint(1, 6)))


# Any BMP character whose category Unicode 3.2 already had: HF's character tables are older than
# Python's, and characters added or recategorised since are out of reach (see test_tok_wordpiece.py).
STABLE_BMP = [
    ch
    for ch in map(chr, range(0x20, 0x10000))
    if unicodedata.ucd_3_2_0.category(ch) == unicodedata.category(ch) not in ("Cn", "Cs")
]


def varied_strings(n: int, seed: int = 1234) -> list[str]:
    rng = random.Random(seed)
    joins = ["", " ", " ", "\n"]
    return ["".join(_fragment(rng) + rng.choice(joins) for _ in range(rng.randint(1, 10))) for _ in range(n)]


@pytest.fixture
def bert(real_assets, monkeypatch: pytest.MonkeyPatch):
    # subtle: HF's worker threads can crawl on an oversubscribed machine; one thread is plenty here.
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    [folder] = real_assets("bert-vocab")
    ours = WordPieceTokenizer.from_vocab_txt(folder / "vocab.txt")
    hf = BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=True)
    return ours, hf, folder


def test_generator_covers_what_it_promises() -> None:
    texts = varied_strings(5000)
    joined = "".join(texts)
    for needle in ["café", "Ångström", "[CLS]", "[MASK]", "\x00", "😀", "مرحبا", "\u3000"]:
        assert needle in joined
    assert any(len(w) > 100 for t in texts for w in t.split())


def test_ids_offsets_and_decode_match_hf_on_5000_strings(bert) -> None:
    ours, hf, _ = bert
    texts = varied_strings(5000)
    n_unk = 0
    for text in texts:
        plain = hf.encode(text, add_special_tokens=False)
        assert ours.encode(text, allowed_special="all") == plain.ids, text
        assert ours.encode_with_offsets(text, allowed_special="all") == [
            (i, s, e) for i, (s, e) in zip(plain.ids, plain.offsets, strict=True)
        ], text
        framed = hf.encode(text)
        inputs = ours.encode_for_model(text, allowed_special="all")
        assert (inputs.ids, inputs.type_ids, inputs.attention_mask, inputs.offsets) == (
            framed.ids, framed.type_ids, framed.attention_mask, framed.offsets)  # fmt: skip
        assert ours.decode(framed.ids) == hf.decode(framed.ids), text
        assert ours.decode(framed.ids, skip_special_tokens=False) == hf.decode(
            framed.ids, skip_special_tokens=False
        )
        n_unk += plain.ids.count(ours.unk_id)
    assert n_unk > 100  # the generator really produced words that must become [UNK]


def test_pairs_and_truncation_match_hf(bert) -> None:
    ours, hf, _ = bert
    texts = varied_strings(600, seed=7)
    for a, b in zip(texts[::2], texts[1::2], strict=True):
        for max_length, strategy in [(None, "longest_first"), (12, "longest_first"), (9, "only_first"),
                                     (3, "longest_first"), (20, "only_second")]:  # fmt: skip
            if max_length is None:
                hf.no_truncation()
            else:
                hf.enable_truncation(max_length, strategy=strategy)
            try:
                want = hf.encode(a, b)
            except Exception:  # HF cannot cut as asked: we must refuse too
                with pytest.raises(Exception, match="cannot cut"):
                    ours.encode_for_model(
                        a, b, max_length=max_length, truncation=strategy, allowed_special="all"
                    )
                continue
            got = ours.encode_for_model(
                a, b, max_length=max_length, truncation=strategy, allowed_special="all"
            )
            assert (got.ids, got.type_ids, got.offsets) == (want.ids, want.type_ids, want.offsets), (a, b)
    hf.no_truncation()


def test_special_token_text_as_ordinary_text_matches_hf_without_added_tokens(bert) -> None:
    ours, _, folder = bert
    plain = Tokenizer(models.WordPiece.from_file(str(folder / "vocab.txt"), unk_token="[UNK]"))
    plain.normalizer = normalizers.BertNormalizer(lowercase=True)
    plain.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    for text in varied_strings(1000, seed=99):
        assert ours.encode(text, disallowed_special=()) == plain.encode(text).ids
        if any(s in text for s in SPECIAL_TOKENS):
            with pytest.raises(SpecialTokenError):
                ours.encode(text)


def test_minilm_tokenizer_json_equals_vocab_txt_and_export_reloads_in_hf(bert, real_assets) -> None:
    ours_txt, hf, _ = bert
    [folder] = real_assets("all-minilm-l6-v2")
    ours_json = WordPieceTokenizer.from_tokenizer_json(folder / "tokenizer.json")
    hf_minilm = Tokenizer.from_file(str(folder / "tokenizer.json"))
    exported = Tokenizer.from_str(json.dumps(wordpiece_to_hf_json(ours_json)))
    for text in varied_strings(1000, seed=5):
        ids = ours_txt.encode(text, allowed_special="all")
        assert ours_json.encode(text, allowed_special="all") == ids
        framed = exported.encode(text)
        inputs = ours_json.encode_for_model(text, allowed_special="all")
        assert (framed.ids, framed.offsets) == (inputs.ids, inputs.offsets)
        # MiniLM's file asks HF to cut at 128 and pad to 128; we do that per call.
        want = hf_minilm.encode(text)
        got = ours_json.encode_for_model(text, max_length=128, padding=True, allowed_special="all")
        assert (got.ids, got.type_ids, got.attention_mask, got.offsets) == (
            want.ids, want.type_ids, want.attention_mask, want.offsets)  # fmt: skip


def test_reordered_combining_marks_keep_hf_offsets(bert) -> None:
    """NFD sorts runs of combining marks across characters; the offsets must follow HF's."""
    ours, hf, _ = bert
    for text in [
        "a\U0001d16d\U0001d165",
        "x \U0001d16d\U0001d165 y",
        "q\u0301\U0001d16d\u0323\U0001d165 z",
        "e\u0301\u0323",
    ]:
        want = hf.encode(text, add_special_tokens=False)
        assert ours.encode_with_offsets(text) == [
            (i, s, e) for i, (s, e) in zip(want.ids, want.offsets, strict=True)
        ]
