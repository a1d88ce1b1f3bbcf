"""Pretraining objectives: the causal shift, BERT masking statistics and live parity with
transformers' ``DataCollatorForLanguageModeling``, and T5 span corruption (exact reconstruction as
a property, noise density and span length as configured, the paper's example)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab.errors import LLMLabError
from llmlab.tokenizers.chars import ByteTokenizer
from llmlab.tokenizers.wordpiece import WordPieceTokenizer
from llmlab.training.objectives import IGNORE, CausalLM, MaskedLM, SpanCorruption

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
V = 1000
WORDS = [*SPECIALS, *(f"w{i}" for i in range(V - len(SPECIALS)))]  # ids 0-4 special
PAD, CLS, SEP, MASK = 0, 2, 3, 4


def bert_rows(B: int, T: int, seed: int = 0) -> torch.Tensor:
    """[CLS] w w ... [SEP] [PAD] [PAD]: rows as a BERT batch holds them."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(5, V, (B, T), generator=g)
    rows[:, 0], rows[:, -3], rows[:, -2:] = CLS, SEP, PAD
    return rows


# -- causal LM --------------------------------------------------------------------------------
def test_causal_lm_shifts_by_one() -> None:
    rows = torch.arange(12).view(2, 6)
    ex = CausalLM().make(rows)
    assert ex["input_ids"].tolist() == [[0, 1, 2, 3, 4], [6, 7, 8, 9, 10]]
    assert torch.equal(ex["targets"], ex["input_ids"] + 1)
    with pytest.raises(LLMLabError, match="must be a \\(B, T\\) int64 tensor, got \\(6,\\)"):
        CausalLM().make(torch.arange(6))
    with pytest.raises(LLMLabError, match="rows must hold at least 2 tokens, got T=1"):
        CausalLM().make(torch.zeros(3, 1, dtype=torch.long))
    shown = CausalLM().show(CausalLM().make(torch.tensor([list(b"Hi there")])), ByteTokenizer(), max_tokens=3)
    assert shown.splitlines()[1:] == [
        "  pos  input  target",
        "    0  'H'    'i'",
        "    1  'i'    ' '",
        "    2  ' '    't'",
    ]


# -- masked LM --------------------------------------------------------------------------------
def mask_rates(rows: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    chosen = targets != IGNORE
    normal = rows > MASK  # not a special id
    n = chosen.sum().item()
    return {
        "chosen": n / normal.sum().item(),
        "mask": ((inputs == MASK) & chosen).sum().item() / n,
        "random": ((inputs != MASK) & (inputs != rows) & chosen).sum().item() / n,
        "kept": ((inputs == rows) & chosen).sum().item() / n,
    }


def test_masked_lm_statistics() -> None:
    rows = bert_rows(256, 128)  # ~31,500 maskable positions
    mlm = MaskedLM(MASK, V, special_ids=range(5))
    ex = mlm.make(rows, torch.Generator().manual_seed(1))
    inputs, targets = ex["input_ids"], ex["targets"]
    chosen = targets != IGNORE
    assert not chosen[rows <= MASK].any()  # specials are never chosen
    assert torch.equal(targets[chosen], rows[chosen]) and torch.equal(inputs[~chosen], rows[~chosen])
    rates = mask_rates(rows, inputs, targets)
    # binomial standard deviations: 0.002 for the 15%, 0.006 / 0.0045 for the 80 / 10 splits
    assert rates["chosen"] == pytest.approx(0.15, abs=0.01)
    assert rates["mask"] == pytest.approx(0.8, abs=0.03)
    assert rates["random"] == pytest.approx(0.1, abs=0.02) and rates["kept"] == pytest.approx(0.1, abs=0.02)
    again = mlm.make(rows, torch.Generator().manual_seed(1))
    assert torch.equal(again["input_ids"], inputs)  # seeded
    assert not torch.equal(mlm.make(rows, torch.Generator().manual_seed(2))["input_ids"], inputs)


def test_masked_lm_equals_transformers_collator() -> None:
    from transformers import BertTokenizer, DataCollatorForLanguageModeling

    hf_tok = BertTokenizer(vocab={w: i for i, w in enumerate(WORDS)})
    assert len(hf_tok) == V and sorted(hf_tok.all_special_ids) == list(range(5))
    rows = bert_rows(64, 64)
    ours = MaskedLM(MASK, V, special_ids=hf_tok.all_special_ids)
    collator = DataCollatorForLanguageModeling(hf_tok, mlm_probability=0.15, seed=3)
    theirs = collator.torch_call([r.tolist() for r in rows])
    # the same draws in the same order: with the same generator seed the batches are identical
    mine = ours.make(rows, torch.Generator().manual_seed(3))
    assert torch.equal(mine["input_ids"], theirs["input_ids"]) and torch.equal(
        mine["targets"], theirs["labels"]
    )
    # and, with independent randomness, the same rates
    big = bert_rows(256, 128, seed=5)
    theirs = DataCollatorForLanguageModeling(hf_tok, seed=11).torch_call([r.tolist() for r in big])
    mine = ours.make(big, torch.Generator().manual_seed(12))
    r_hf, r_us = (
        mask_rates(big, theirs["input_ids"], theirs["labels"]),
        mask_rates(big, mine["input_ids"], mine["targets"]),
    )
    for key in r_hf:
        assert r_us[key] == pytest.approx(r_hf[key], abs=0.03), key


def test_masked_lm_from_tokenizer_and_show() -> None:
    wp = WordPieceTokenizer(WORDS)
    mlm = MaskedLM.from_tokenizer(wp)
    assert (mlm.mask_id, mlm.vocab_size, list(mlm.special_ids)) == (MASK, V, [0, 1, 2, 3, 4])
    rows = torch.tensor([[CLS, *wp.encode("w1 w2 w3 w4 w5 w6 w7 w8"), SEP]])
    ex = MaskedLM(MASK, V, [0, 1, 2, 3, 4], probability=0.5).make(rows, torch.Generator().manual_seed(0))
    text = mlm.show(ex, wp)
    chosen = (ex["targets"][0] != IGNORE).nonzero().flatten().tolist()
    assert f"{len(chosen)} of 10 positions chosen" in text
    starred = [line.split()[0] for line in text.splitlines()[2:] if line.split()[0].endswith("*")]
    assert starred == [f"{t}*" for t in chosen] and "'[CLS]'" in text
    with pytest.raises(LLMLabError, match="bytes has no \\[MASK\\] token"):
        MaskedLM.from_tokenizer(ByteTokenizer())
    with pytest.raises(LLMLabError, match="mask_fraction \\+ random_fraction <= 1"):
        MaskedLM(MASK, V, mask_fraction=0.8, random_fraction=0.3)


# -- span corruption --------------------------------------------------------------------------
SENTINEL0 = 1099  # <extra_id_0>; text ids stay below 1000


@settings(max_examples=150, deadline=None)
@given(
    B=st.integers(1, 3),
    T=st.integers(2, 160),
    seed=st.integers(0, 2**31),
    density=st.floats(0.05, 0.5),
    span=st.floats(1.0, 6.0),
    final=st.booleans(),
    eos=st.sampled_from([None, 1]),
)
def test_span_corruption_reconstructs_exactly(
    B: int, T: int, seed: int, density: float, span: float, final: bool, eos: int | None
) -> None:
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(1, 1000, (B, T), generator=g)  # the eos id 1 may occur in the text too
    sc = SpanCorruption(
        SENTINEL0, eos_id=eos, noise_density=density, mean_span_length=span, final_sentinel=final
    )
    ex = sc.make(rows, g)
    n, k = sc.sizes(T)
    e = eos is not None
    assert ex["input_ids"].shape == (B, T - n + k + e) and ex["targets"].shape == (B, n + k + final + e)
    for b in range(B):
        assert torch.equal(sc.reconstruct(ex["input_ids"][b], ex["targets"][b]), rows[b])
        sentinels = [t for t in ex["targets"][b].tolist() if t > 1000]
        assert sentinels == [SENTINEL0 - i for i in range(k + final)]  # counting down from <extra_id_0>


def test_span_corruption_density_and_span_length() -> None:
    sc = SpanCorruption(SENTINEL0)
    g = torch.Generator().manual_seed(0)
    noise = spans = total = 0
    for T in range(100, 600, 7):
        for _ in range(5):
            mask = sc.noise_mask(T, g)
            starts = mask & ~torch.cat([torch.tensor([False]), mask[:-1]])  # a noise run begins
            assert not mask[0] and mask[-1]  # kept text first, noise last, as T5's code does
            noise, spans, total = noise + mask.sum().item(), spans + starts.sum().item(), total + T
            assert starts.sum().item() == sc.sizes(T)[1]  # spans never touch each other
    assert noise / total == pytest.approx(0.15, abs=0.005)
    assert noise / spans == pytest.approx(3.0, abs=0.1)
    masks = torch.stack([sc.noise_mask(512, g) for _ in range(100)]).float()  # (100, 512)
    first, second = masks[:, :256].mean().item(), masks[:, 256:].mean().item()
    assert 0.12 < first < 0.18 and 0.12 < second < 0.18  # noise spread over the row, not piled at one end


def test_span_corruption_shows_the_papers_example() -> None:
    words = "thank you for inviting me to your party last week .".split()
    wp = WordPieceTokenizer(["[PAD]", "[UNK]", *words])
    rows = torch.tensor([wp.encode(" ".join(words))])
    sc = SpanCorruption(first_sentinel_id=199)
    paper = torch.tensor([0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0], dtype=torch.bool)  # "for inviting", "last"
    sc.noise_mask = lambda T, generator=None: paper  # type: ignore[method-assign]
    text = sc.show(sc.make(rows), wp)
    assert text.splitlines()[1:] == [
        "  input:  'thank you <extra_id_0> me to your party <extra_id_1> week.'",
        "  target: '<extra_id_0> for inviting <extra_id_1> last <extra_id_2>'",
    ]


def test_span_corruption_errors() -> None:
    with pytest.raises(
        LLMLabError, match="row 0, position 3 holds id 1050, which is a sentinel id \\(1000..1099\\)"
    ):
        SpanCorruption(SENTINEL0).make(torch.tensor([[5, 6, 7, 1050, 8, 9]]))
    with pytest.raises(LLMLabError, match="noise_density must lie in \\(0, 1\\)"):
        SpanCorruption(SENTINEL0, noise_density=1.0)
    with pytest.raises(LLMLabError, match="rows of 2000 tokens need 101 sentinels, more than 100"):
        SpanCorruption(10_000).make(torch.zeros(1, 2000, dtype=torch.long))
