"""Unigram ``tokenizer.json`` both ways, live against Hugging Face ``tokenizers``."""

from __future__ import annotations

import json
import re

import pytest
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import Unigram

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.formats.hf_unigram import HfUnigramTokenizer, unigram_from_hf_json, unigram_to_hf_json
from llmlab.tokenizers.spm_base import SpmTokenizer
from llmlab.tokenizers.train_unigram import train_unigram
from test_tok_spm_parity import botchan_lines, load_both, varied_strings

UNIGRAM_MODELS = ["botchan_en_unigram_1000.model", "kyoto_ja_unigram_8000.model"]
SPECIAL_TEXT = ("<s>", "</s>", "<unk>")


def from_spm_json(tok: SpmTokenizer) -> dict:
    """What ``tokenizers``' own ``SentencePieceUnigramTokenizer.from_spm`` builds (same steps;
    that function needs the protobuf package to read the file, so we hand it our parse)."""
    hf = Tokenizer(Unigram(list(zip(tok.pieces, tok.scores, strict=True)), tok.unk_id, tok.byte_fallback))
    precompiled = normalizers.Precompiled(tok.model.normalizer_spec.precompiled_charsmap)
    hf.normalizer = normalizers.Sequence([precompiled, normalizers.Replace(Regex(" {2,}"), " ")])
    hf.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    hf.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return json.loads(hf.to_str())


@pytest.mark.parametrize("name", UNIGRAM_MODELS)
def test_tokenizers_gives_our_ids_for_our_export(real_assets, name: str) -> None:
    """Where ``tokenizers``' Precompiled step normalises like sentencepiece, the ids are equal.
    It does not on graphemes whose first character a rule rewrites: the rest is dropped. And
    ``tokenizers`` adds scores in double precision, sentencepiece in float32: on an exact tie
    ("nion......." is "......" + "." or "." + "......") rounding can pick the other order."""
    models, botchan = real_assets("sentencepiece-models", "botchan")
    _, tok = load_both(models / name)
    hf = Tokenizer.from_str(json.dumps(unigram_to_hf_json(tok)))
    assert (
        hf.normalizer.normalize_str("Ｂ\u0308x")
        == "▁Bx"
        != tok.normalizer.normalize("Ｂ\u0308x")
        == "▁B\u0308x"
    )
    texts = [
        t for t in varied_strings(5000, 0, botchan_lines(botchan)) if not any(s in t for s in SPECIAL_TEXT)
    ]
    same = [t for t in texts if hf.normalizer.normalize_str(t) == tok.normalizer.normalize(t)]
    assert len(same) > 0.98 * len(texts)  # the generator is heavy on combining marks; prose loses none
    ties = 0
    for text in same:
        ids = tok.encode_ordinary(text)
        theirs = hf.encode(text, add_special_tokens=False).ids
        if theirs != ids:
            assert sorted(theirs) == sorted(ids), text  # the same pieces in another order: a tie
            ties += 1
        if tok.unk_id not in ids and not text.lstrip(" ").startswith("▁"):
            assert hf.decode(ids) == tok.decode(ids), text
    assert ties <= 2
    for text in ["<s>Hello</s>", "a<s>b", "<unk>"]:  # special tokens: each side normalised alone, in both
        allowed = tok.encode(text, allowed_special="all") if "<unk>" not in text else [tok.unk_id]
        assert hf.encode(text, add_special_tokens=False).ids == allowed


@pytest.mark.parametrize("name", UNIGRAM_MODELS)
@pytest.mark.parametrize("kind", ["export", "from_spm"])
def test_reading_tokenizer_json_runs_it_like_tokenizers(real_assets, name: str, kind: str) -> None:
    models, botchan = real_assets("sentencepiece-models", "botchan")
    _, tok = load_both(models / name)
    data = unigram_to_hf_json(tok) if kind == "export" else from_spm_json(tok)
    hf = Tokenizer.from_str(json.dumps(data))
    ours = unigram_from_hf_json(data, "tokenizer.json")
    assert isinstance(ours, HfUnigramTokenizer)
    assert unigram_to_hf_json(ours) == data
    for text in varied_strings(2000, 1, botchan_lines(botchan)):
        encoding = hf.encode(text, add_special_tokens=False)
        assert ours.encode(text, allowed_special="all") == encoding.ids, text
        assert ours.decode(encoding.ids) == hf.decode(encoding.ids), text
        if not any(s in text for s in SPECIAL_TEXT):
            assert [(s, e) for _, s, e in ours.encode_with_offsets(text)] == encoding.offsets, text


def test_a_trained_model_with_byte_fallback_exports_exactly(real_assets) -> None:
    [botchan] = real_assets("botchan")
    lines = botchan_lines(botchan)
    tok = train_unigram(
        lines[:1500], 700, byte_fallback=True, user_defined_symbols=["<sep>"], show_progress=False
    )
    data = unigram_to_hf_json(tok)
    hf = Tokenizer.from_str(json.dumps(data))
    read_back = unigram_from_hf_json(data, "t.json")
    for text in varied_strings(1000, 2, lines):
        if "<s>" in text or "</s>" in text or "<unk>" in text:
            continue
        ids = tok.encode_ordinary(text)
        assert hf.encode(text, add_special_tokens=False).ids == ids, (
            text
        )  # identity normaliser: no exclusions
        assert read_back.encode_ordinary(text) == ids, text
    # user-defined pieces are added tokens there: the text after one gets its own dummy "▁"
    assert tok.encode_pieces("a<sep>b")[-1] == "b"
    assert hf.encode("a<sep>b").tokens[-1] == "▁b"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["model"].update(type="BPE"), "field model.type: expected a Unigram model, found 'BPE'"),
        (
            lambda d: d["model"]["vocab"].__setitem__(3, ["x"]),
            "field model.vocab[3]: expected [piece, score], found ['x']",
        ),
        (lambda d: d["model"].update(unk_id=99999), "field model.unk_id: 99999 is not the id of a piece"),
        (
            lambda d: d.update(normalizer={"type": "Sequence", "normalizers": [{"type": "NFKC"}]}),
            "field normalizer[0].type: 'NFKC' is not supported (supported: Lowercase, Precompiled, Prepend, "
            "Replace, Strip)",
        ),
        (
            lambda d: d.update(pre_tokenizer={"type": "ByteLevel"}),
            "field pre_tokenizer.type: 'ByteLevel' is not supported (supported: Metaspace)",
        ),
        (
            lambda d: d["added_tokens"].append("<x>"),
            "field added_tokens[3]: expected {id, content, ...}, found '<x>'",
        ),
        (
            lambda d: d["normalizer"]["normalizers"][0].update(precompiled_charsmap="not base64!"),
            "field normalizer.precompiled_charsmap: is not valid base64",
        ),
        (
            lambda d: d["normalizer"]["normalizers"][1].update(pattern={"Regex": "(unclosed"}),
            "field normalizer[1].pattern: not a String or a valid Regex (missing ) at position 9)",
        ),
        (
            lambda d: d["normalizer"]["normalizers"][3].pop("prepend"),
            "field normalizer[3].prepend: expected a str, found None",
        ),
    ],
)
def test_broken_tokenizer_json_gives_one_line_errors(real_assets, edit, message: str) -> None:
    [models] = real_assets("sentencepiece-models")
    _, tok = load_both(models / "botchan_en_unigram_1000.model")
    data = unigram_to_hf_json(tok)
    edit(data)
    with pytest.raises(TokenizerFormatError, match=f"^{re.escape('tokenizer.json, ' + message)}$"):
        unigram_from_hf_json(data, "tokenizer.json")
