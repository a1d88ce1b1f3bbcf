"""Contextual token vectors: the "bank" demo on our BERT (MiniLM) and our LLaMA (SmolLM2), vs static GloVe."""

from __future__ import annotations

import pytest
import torch

from llmlab.embeddings.contextual import (
    BANK_PAIR,
    BANK_SENTENCES,
    ContextualEncoder,
    compare_word,
    load_encoder,
    token_neighbours,
)
from llmlab.errors import LLMLabError
from llmlab.models.llama import Llama, LlamaConfig
from llmlab.tokenizers.chars import CharTokenizer


@pytest.fixture(scope="module")
def minilm(real_home_path) -> ContextualEncoder:
    from llmlab.models.sentence import load_minilm

    model, tokenizer = load_minilm(real_home_path("all-minilm-l6-v2"))
    return ContextualEncoder("minilm", model, tokenizer)


def test_bank_differs_by_sense_in_bert_but_not_in_glove(minilm, real_assets) -> None:
    cosines = compare_word(minilm, *BANK_PAIR, "bank")
    assert len(cosines) == 7  # embeddings + 6 layers
    assert cosines[-1] < 0.95  # 0.733 in docs/embeddings.md: river bank and money bank moved apart
    assert cosines[0] > cosines[-1]  # they start close (same token, nearby positions) and drift
    real_assets("glove-6b-50d")
    from llmlab.embeddings.pretrained import load_glove

    glove = load_glove()  # a static table: one row for "bank", whatever the sentence
    assert glove.similarity("bank", "bank") == pytest.approx(1.0, abs=1e-6)


def test_bert_layer_0_is_token_plus_position_only(minilm) -> None:
    a = minilm.states("The bank was closed on Sunday.")
    b = minilm.states("The bank raised its fees.")
    c = minilm.states("Yesterday the old bank was closed.")
    assert a.tokens[:3] == b.tokens[:3] == ["[CLS]", "the", "bank"]
    # same token at the same position: identical before any attention, different after it
    assert torch.equal(a.word_vectors("bank")[0], b.word_vectors("bank")[0])
    assert not torch.allclose(a.word_vectors("bank")[-1], b.word_vectors("bank")[-1], atol=1e-3)
    # another position: the position embedding already makes layer 0 differ a little
    assert 0.8 < torch.cosine_similarity(a.word_vectors("bank")[0], c.word_vectors("bank")[0], dim=0) < 1


def test_neighbours_in_context_follow_the_sense(minilm) -> None:
    river = token_neighbours(minilm, BANK_SENTENCES, "bank", sentence=0, topn=3)
    money = token_neighbours(minilm, BANK_SENTENCES, "bank", sentence=1, topn=3)
    river_sentences, money_sentences = {2, 3}, {4, 5}  # see BANK_SENTENCES
    assert river[0].token == "bank" and river[0].sentence in river_sentences
    assert money[0].token == "bank" and money[0].sentence in money_sentences
    assert river[0].similarity > river[-1].similarity


def test_decoder_layer_0_is_the_bare_token_embedding() -> None:
    """Our LLaMA (random, tiny): the same characters give the same layer-0 vectors, then context enters."""
    torch.manual_seed(0)
    text_a, text_b = "the river bank", "cash at the bank"
    tokenizer = CharTokenizer.from_text(text_a + text_b)
    cfg = LlamaConfig.from_name("llama-debug", vocab_size=tokenizer.vocab_size)
    encoder = ContextualEncoder("tiny-llama", Llama(cfg), tokenizer)
    a, b = encoder.states(text_a).word_vectors("bank"), encoder.states(text_b).word_vectors("bank")
    assert a.shape == (cfg.n_layer + 1, cfg.d_model)
    assert torch.equal(a[0], b[0])
    assert compare_word(encoder, text_a, text_b, "bank")[0] == pytest.approx(1.0, abs=1e-6)
    assert not torch.allclose(a[-1], b[-1], atol=1e-4)
    calls = []
    encoder.model.register_forward_hook(lambda *args: calls.append(1))
    compare_word(encoder, text_a, text_b, "bank")
    compare_word(encoder, text_b, text_a, "bank")
    assert calls == [] and encoder.states(text_a) is encoder.states(text_a)  # each text ran once, above


@pytest.mark.slow
def test_smollm2_bank_demo(real_assets) -> None:
    real_assets("smollm2-135m-instruct")
    encoder = load_encoder("smollm2")
    cosines = compare_word(encoder, *BANK_PAIR, "bank")
    assert len(cosines) == 31  # embeddings + 30 layers
    assert cosines[0] == pytest.approx(1.0, abs=1e-6)  # " bank" is one token: the same embedding row
    assert cosines[-1] < 0.95  # 0.657 in docs/embeddings.md
    near = token_neighbours(encoder, BANK_SENTENCES, "bank", sentence=1, topn=2)
    assert near[0].token == "Ġbank" and near[0].sentence in {4, 5}


def test_bad_input_is_a_clear_error(minilm) -> None:
    with pytest.raises(LLMLabError, match="'bank' does not occur in 'I like rivers.'"):
        minilm.states("I like rivers.").word_vectors("bank")
    with pytest.raises(LLMLabError, match="'bank' occurs only 1 time"):
        minilm.states("a bank").word_vectors("bank", occurrence=1)
    with pytest.raises(LLMLabError, match="unknown contextual model 'gpt5'; choose one of: minilm, smollm2"):
        load_encoder("gpt5")
    with pytest.raises(LLMLabError, match="the text has no tokens"):
        minilm.states("")
