"""Streamed text: multi-byte characters are never split, stop sequences cut the text and are never shown."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from llmlab.generation import GenerationConfig, GenerationError, generate, stream
from llmlab.generation.text import IncrementalDecoder, StopText
from llmlab.tokenizers.chars import ByteTokenizer

TOK = ByteTokenizer(special_tokens=["<|end|>"])  # bytes 0-255, "<|end|>" = 256
END = 256


class Script(nn.Module):
    """A fake recurrent LM that always predicts the next id of a fixed script (its state is the position).

    Fed a one-token prompt, greedy decoding writes the script out; it uses the ``state=`` path of
    the decoding loop, like :class:`~llmlab.models.rnn.RNNLanguageModel`.
    """

    def __init__(self, script: list[int]) -> None:
        super().__init__()
        self.config = SimpleNamespace(vocab_size=257, max_seq_len=8, family="rnn")
        self.script = torch.tensor(script)
        self.unused = nn.Parameter(torch.zeros(1))  # the loop reads the device from the parameters

    def forward(self, idx, targets=None, *, state=None):
        B, T = idx.shape
        start = state if state is not None else torch.zeros(1, B, dtype=torch.long)  # (1, B)
        pos = (start[0][:, None] + torch.arange(T)).clamp(max=len(self.script) - 1)  # (B, T)
        logits = torch.full((B, T, 257), -30.0)
        logits.scatter_(2, self.script[pos][..., None], 30.0)
        return SimpleNamespace(logits=logits, cache=start + T)


def script(text: str, *extra: int) -> Script:
    return Script(TOK.encode(text) + list(extra))


def test_incremental_decoder_never_splits_a_character():
    text = "héllo wörld 😀 ✓ done"
    decoder = IncrementalDecoder(TOK)
    pieces = [decoder.push(i) for i in TOK.encode(text)] + [decoder.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    # each multi-byte character comes out whole, once its last byte has arrived (😀 is 4 bytes)
    assert {"é", "ö", "😀", "✓"} <= set(pieces)
    assert pieces.count("") == (2 - 1) + (2 - 1) + (4 - 1) + (3 - 1) + 1  # the waits, and an empty flush


def test_incremental_decoder_flushes_a_truly_broken_byte():
    decoder = IncrementalDecoder(TOK)
    assert decoder.push(0xC3) == ""  # could be the start of "é"
    assert decoder.push(ord("x")) == "\ufffdx"  # it was not: shown as U+FFFD once the next character came
    assert decoder.push(0xE2) == ""
    assert decoder.flush() == "\ufffd"


def test_stop_text_holds_back_a_partial_stop_and_cuts_a_full_one():
    stop = StopText(["###", "END"])
    assert stop.feed("abc #") == "abc "  # "#" may start "###"
    assert stop.feed("#x") == "##x"  # it did not
    assert stop.feed("E") == ""
    assert stop.feed("N") == ""
    assert stop.feed("D more") == "" and stop.stopped
    assert stop.text == "abc ##x"
    late = StopText(["###"])
    assert late.feed("ab##") == "ab" and late.flush() == "##" and not late.stopped


def test_stream_cuts_before_a_stop_string_and_never_shows_it():
    model = script("Hé! 😀 ### tail")
    steps = list(stream(model, [0], GenerationConfig(max_new_tokens=30, temperature=0, stop=["###"]), TOK))
    text = "".join(s.text for s in steps)
    assert text == "Hé! 😀 "
    assert all("#" not in s.text and "\ufffd" not in s.text for s in steps)
    assert steps[-1].finish_reason == "stop" and [s.finish_reason for s in steps[:-1]] == [None] * (
        len(steps) - 1
    )
    assert TOK.decode([s.id for s in steps]).endswith("###")  # the ids include the stop string's tokens
    g = generate(model, [0], GenerationConfig(max_new_tokens=30, temperature=0, stop=["😀", "!"]), TOK)[0]
    assert (g.text, g.finish_reason) == ("Hé", "stop")  # the earliest of several stops wins


def test_stop_id_ends_the_sample_and_its_text_is_not_shown():
    model = script("ok ", END, ord("x"))
    g = generate(model, [0], GenerationConfig(max_new_tokens=10, temperature=0, stop_ids=[END]), TOK)[0]
    assert g.ids == [*TOK.encode("ok "), END]
    assert (g.text, g.finish_reason) == ("ok ", "stop")


def test_length_finish_releases_a_held_back_partial_stop():
    model = script("abc##")
    steps = list(stream(model, [0], GenerationConfig(max_new_tokens=5, temperature=0, stop=["###"]), TOK))
    assert [s.text for s in steps] == ["a", "b", "c", "", "##"]
    assert steps[-1].finish_reason == "length"


def test_n_samples_finish_independently_and_leave_the_batch():
    model = script("ab\ncd")
    cfg = GenerationConfig(max_new_tokens=6, temperature=0, n=3, stop=["\n"])
    got = generate(model, [0], cfg, TOK)
    assert [(g.text, g.finish_reason, len(g.ids)) for g in got] == [("ab", "stop", 3)] * 3


def test_stop_strings_need_a_tokenizer():
    with pytest.raises(GenerationError, match="stop sequences are matched on decoded text: pass a tokenizer"):
        generate(script("ab"), [0], GenerationConfig(stop=["b"]))


def test_real_smollm2_tokenizer_streams_whole_characters(real_assets):
    real_assets("smollm2-135m-instruct")
    from llmlab.tokenizers.pretrained import load_pretrained

    tok = load_pretrained("smollm2")
    text = "Café naïve 😀 — 日本語 ok"
    decoder = IncrementalDecoder(tok)
    pieces = [decoder.push(i) for i in tok.encode(text)] + [decoder.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    assert sum(1 for p in pieces if p) < len(tok.encode(text))  # some tokens were half characters
