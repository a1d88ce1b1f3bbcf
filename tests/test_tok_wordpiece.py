"""WordPiece pieces, BERT's normaliser, pre-tokenizer and decoder, each against its HF twin, live.

No assets needed: small vocabularies are built here; the real BERT vocabulary is exercised in
test_tok_wordpiece_parity.py.
"""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

from llmlab.errors import LLMLabError
from llmlab.tokenizers import SpecialTokenError
from llmlab.tokenizers.bert_normalizer import BertNormalizer
from llmlab.tokenizers.bert_pretokenizer import pre_tokenize, split_words
from llmlab.tokenizers.wordpiece import SPECIAL_TOKENS, WordPieceTokenizer

TOY = [
    *SPECIAL_TOKENS,
    "un",
    "una",
    "##ff",
    "##ffa",
    "##ble",
    "##able",
    "a",
    "b",
    "##a",
    "##b",
    "aff",
    "!",
    ".",
]
TRICKY = [
    "Héllo,  WORLD!\tNaïve café\u00a0Ångström İstanbul ΣΑΣ Straße",
    "x\x00y\ufffdz\u200bw\x07v\u2028u\r\nt\x1cs\ue000r",
    "中文字符 and 日本語 かな 한국어",
    "e\u0301\u0323 a\u0323\u0301 \u1e0b\u0323 ﬁ ǅ ẞ",
    "emoji 😀👍🏽 \U0001f1eb\U0001f1f7 and [MASK] [cls]",
    "",
    "   ",
]


def _hf_pipeline(vocab: list[str], **normalizer: object) -> Tokenizer:
    hf = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    hf.normalizer = normalizers.BertNormalizer(**normalizer)
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return hf


def test_greedy_longest_match_first_matches_hf() -> None:
    ours = WordPieceTokenizer(TOY)
    hf = _hf_pipeline(TOY)
    assert ours.tokenize("unaffable") == ["una", "##ffa", "##ble"]
    assert ours.tokenize("unaffable!") == ["una", "##ffa", "##ble", "!"]
    assert ours.tokenize("unx ab") == ["[UNK]", "a", "##b"]  # "x" cannot be covered: the whole word
    for text in ["unaffable", "unaffablex", "ab ba aab", "UNAFFABLE. a!", "unable ununable", "ffa"]:
        assert ours.encode(text) == hf.encode(text).ids, text


def test_words_over_100_characters_are_unknown() -> None:
    ours = WordPieceTokenizer(TOY)
    assert ours.encode("a" * 100) == [ours.vocab["a"]] + [ours.vocab["##a"]] * 99
    assert ours.encode("a" * 101) == [ours.unk_id]
    assert ours.encode_with_offsets("b " + "a" * 101) == [(ours.vocab["b"], 0, 1), (ours.unk_id, 2, 103)]


def test_unknown_rate() -> None:
    ours = WordPieceTokenizer(TOY)
    assert ours.unknown_rate("ab xyz ba qq") == pytest.approx(2 / 6)  # a ##b [UNK] b ##a [UNK]
    assert ours.unknown_rate("") == 0.0


@pytest.mark.parametrize(
    "clean_text, handle_chinese_chars, strip_accents, lowercase",
    [
        (c, h, s, low)
        for c, h, s, low in itertools.product(
            [True, False], [True, False], [None, True, False], [True, False]
        )
    ],
)
def test_normalizer_options_match_hf(clean_text, handle_chinese_chars, strip_accents, lowercase) -> None:
    ours = BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase)
    hf = normalizers.BertNormalizer(
        clean_text=clean_text,
        handle_chinese_chars=handle_chinese_chars,
        strip_accents=strip_accents,
        lowercase=lowercase,
    )
    for text in TRICKY:
        assert ours.normalize(text) == hf.normalize_str(text), text
        normalized, sources = ours.normalize_with_sources(text)
        assert normalized == ours.normalize(text)
        assert all(0 <= s < len(text) for s in sources) and sources == sorted(sources)


def test_pre_tokenizer_matches_hf() -> None:
    hf = pre_tokenizers.BertPreTokenizer()
    for text in [*TRICKY, "don't stop!!! (really) $5+3^2", "a\u3000b\u2009c\x85d", "¿Qué? «Oui» — “yes”…"]:
        assert [(w, (s, e)) for w, s, e in pre_tokenize(text)] == hf.pre_tokenize_str(text), text
        assert split_words(text) == [w for w, _, _ in pre_tokenize(text)]


def test_unicode_sweep_agrees_with_hf_wherever_unicode_did_not_change() -> None:
    """Every code point Unicode 3.2 already had, with the same category today, is normalised and
    split exactly as HF does it. The others (added or recategorised since) depend on the Unicode
    version of each library's tables (HF's are older than Python's 14.0, its lowercase newer);
    they are counted here, not required to agree."""
    ours, hf = BertNormalizer(), normalizers.BertNormalizer(lowercase=True)
    hf_pre = pre_tokenizers.BertPreTokenizer()

    def agree(chars: list[str]) -> bool:
        text = "a".join(chars)  # "a" between characters keeps combining marks from stacking
        return ours.normalize(text) == hf.normalize_str(text) and [
            (w, (s, e)) for w, s, e in pre_tokenize(text)
        ] == hf_pre.pre_tokenize_str(text)

    stable, drifted = [], []
    planes = itertools.chain(range(0x40000), range(0xE0000, 0xF0000))  # where Unicode assigns characters
    for ch in map(chr, planes):
        category = unicodedata.category(ch)
        if category != "Cs":  # lone surrogates cannot be handed to HF (not valid UTF-8)
            (stable if unicodedata.ucd_3_2_0.category(ch) == category != "Cn" else drifted).append(ch)
    chunks = [stable[i : i + 2000] for i in range(0, len(stable), 2000)]
    assert all(agree(chunk) for chunk in chunks)
    disagree = [
        ch for i in range(0, len(drifted), 2000) if not agree(drifted[i : i + 2000]) for ch in drifted[i : i + 2000]
        if not agree([ch])
    ]  # fmt: skip
    assert len(stable) > 90_000
    assert 0 < len(disagree) < 1000  # a few hundred of ~100,000 newer or unassigned code points


def test_decoder_matches_hf() -> None:
    hf = decoders.WordPiece(prefix="##", cleanup=True)
    ours = WordPieceTokenizer(
        [*SPECIAL_TOKENS, "##a", "b", "##c", ",", "don", "'", "t", ".", "?", "!", "s", "x"]
    )
    for tokens in [["##a", "b", "##c", ",", "don", "'", "t"], ["b", ".", "?", "!", "'", "s"], ["x"], []]:
        assert ours.decode([ours.vocab[t] for t in tokens]) == hf.decode(tokens)
    ours.cleanup = False
    assert ours.decode([ours.vocab[t] for t in ["b", ",", "don", "'", "t"]]) == "b , don ' t"


def test_decode_skips_special_tokens_like_hf_and_rejects_unknown_ids() -> None:
    ours = WordPieceTokenizer(TOY)
    ids = ours.encode_for_model("una [MASK] x", allowed_special="all").ids
    assert ours.decode(ids) == "una"
    assert ours.decode(ids, skip_special_tokens=False) == "[CLS] una [MASK] [UNK] [SEP]"
    with pytest.raises(LLMLabError) as err:
        ours.decode([9999])
    assert str(err.value) == "id 9999 is not in the wordpiece vocabulary"


def test_special_token_policy() -> None:
    ours = WordPieceTokenizer(TOY)
    text = "a[MASK]b [CLS]"
    with pytest.raises(SpecialTokenError) as err:
        ours.encode(text)
    assert str(err.value) == (
        "the text contains the special token '[MASK]' at character 1; pass allowed_special to encode it "
        "as a special token, or disallowed_special=() to encode it as ordinary text"
    )
    with pytest.raises(SpecialTokenError, match="'\\[CLS\\]' at character 9"):
        ours.encode_with_offsets(text, allowed_special={"[MASK]"})
    mask, cls = ours.vocab["[MASK]"], ours.vocab["[CLS]"]
    assert ours.encode(text, allowed_special="all") == [ours.vocab["a"], mask, ours.vocab["b"], cls]
    assert ours.encode_with_offsets(text, allowed_special="all")[1] == (mask, 1, 7)
    ordinary = ours.encode(text, disallowed_special=())
    assert mask not in ordinary and cls not in ordinary
    assert ours.encode(text, allowed_special={"[MASK]"}, disallowed_special=()).count(mask) == 1
    inputs = ours.encode_for_model(text, allowed_special={"[MASK]"}, disallowed_special=())
    assert inputs.ids.count(cls) == 1  # only the one the framing adds


def test_encode_for_model_framing_padding_and_errors() -> None:
    ours = WordPieceTokenizer(TOY)
    cls, sep, pad = (ours.vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]"))
    a, b = ours.vocab["a"], ours.vocab["b"]
    inputs = ours.encode_for_model("a", "b", max_length=7, padding=True)
    assert inputs.ids == [cls, a, sep, b, sep, pad, pad]
    assert inputs.type_ids == [0, 0, 0, 1, 1, 0, 0]
    assert inputs.attention_mask == [1, 1, 1, 1, 1, 0, 0]
    assert inputs.offsets == [(0, 0), (0, 1), (0, 0), (0, 1), (0, 0), (0, 0), (0, 0)]
    with pytest.raises(LLMLabError) as err:
        ours.encode_for_model("a", "b", max_length=2)
    assert str(err.value) == "max_length is too small to hold the 3 added tokens"
    with pytest.raises(LLMLabError) as err:
        ours.encode_for_model("a b", max_length=3, truncation="only_second")
    assert str(err.value) == "truncation='only_second' needs a pair of texts"
    with pytest.raises(LLMLabError) as err:
        ours.encode_for_model("a", "b b b", max_length=4, truncation="only_first")
    assert str(err.value) == "truncation='only_first' cannot cut the text short enough for max_length"
    no_pad = WordPieceTokenizer([t for t in TOY if t != "[PAD]"])
    with pytest.raises(LLMLabError) as err:
        no_pad.encode_for_model("a", max_length=5, padding=True)
    assert str(err.value) == "the vocabulary has no [PAD] token, which BERT's framing needs"


def test_encode_iterable_equals_encode() -> None:
    ours = WordPieceTokenizer(TOY)
    lines = ["unaffable ab\n", "ba\n", "\n", "aab!\n", "x"]
    assert list(ours.encode_iterable(lines)) == ours.encode("".join(lines))


def test_constructor_rejects_a_vocab_without_unk() -> None:
    with pytest.raises(ValueError, match="'\\[UNK\\]' is not in the vocabulary"):
        WordPieceTokenizer(["a", "##b"])
