"""Introspection: parameters and FLOPs by component, the logit lens, attention maps."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from llmlab.models.base import ModelError
from llmlab.models.bert import Bert, BertConfig
from llmlab.models.gpt2 import GPT2, GPT2Config
from llmlab.models.introspect import attention_maps, flops_per_token, logit_lens, parameter_counts
from llmlab.models.llama import Llama, LlamaConfig
from llmlab.models.rnn import RNNConfig, RNNLanguageModel


def test_parameter_counts_add_up_and_land_in_the_right_component() -> None:
    model = GPT2(GPT2Config.from_name("gpt2-debug", tie_embeddings=False))
    counts = parameter_counts(model)
    assert sum(counts.values()) == model.num_parameters()
    cfg = model.config
    C = cfg.d_model
    assert counts["attention"] == cfg.n_layer * (4 * C * C + 4 * C)
    assert counts["feed-forward"] == cfg.n_layer * (2 * C * cfg.d_ff + cfg.d_ff + C)
    assert counts["head"] == cfg.vocab_size * C
    assert counts["embeddings"] == (cfg.vocab_size + cfg.max_seq_len) * C
    tied = parameter_counts(GPT2(GPT2Config.from_name("gpt2-debug")))
    assert "head" not in tied  # the tied head is the embedding matrix, counted once
    lstm = parameter_counts(RNNLanguageModel(RNNConfig.from_name("lstm-debug")))
    assert set(lstm) >= {"embeddings", "recurrent"}


@pytest.mark.parametrize("T", [16, 64])
def test_flops_per_token_match_the_textbook_formula(T) -> None:
    """2 FLOPs per weight of every matmul, plus 2 * 2 * n_layer * T * d_model for the attention scores."""
    model = GPT2(GPT2Config.from_name("gpt2-debug")).eval()
    cfg = model.config
    matmul_weights = sum(
        p.numel() for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith("pos_emb")
    )  # the tied embedding matrix is the head's weight
    expected = 2 * matmul_weights + 2 * 2 * cfg.n_layer * T * cfg.d_model
    flops = flops_per_token(model, T)
    assert flops["total"] == pytest.approx(expected)
    assert flops["head"] == 2 * cfg.vocab_size * cfg.d_model
    assert flops["attention"] == pytest.approx(cfg.n_layer * (8 * cfg.d_model**2 + 4 * T * cfg.d_model))


def test_flops_for_grouped_query_attention_are_smaller() -> None:
    mha = Llama(LlamaConfig.from_name("llama-debug", n_kv_head=4)).eval()
    gqa = Llama(LlamaConfig.from_name("llama-debug", n_kv_head=1)).eval()
    assert flops_per_token(gqa, 32)["attention"] < flops_per_token(mha, 32)["attention"]
    assert flops_per_token(gqa, 32)["feed-forward"] == flops_per_token(mha, 32)["feed-forward"]


def test_logit_lens_last_layer_is_the_models_own_prediction() -> None:
    torch.manual_seed(0)
    model = Llama(LlamaConfig.from_name("llama-debug")).eval()
    idx = torch.randint(0, 512, (2, 11))
    with torch.no_grad():
        out = model(idx, output_hidden_states=True)
    lens = logit_lens(model, out.hidden_states)
    assert lens.shape == (model.config.n_layer + 1, 2, 11, 512)
    assert_close(lens[-1], out.logits)
    with pytest.raises(
        ModelError, match="the logit lens needs a decoder with final_norm and head; Bert has none"
    ):
        logit_lens(Bert(BertConfig.from_name("bert-debug")), out.hidden_states)


def test_attention_maps_are_causal_distributions() -> None:
    model = GPT2(GPT2Config.from_name("gpt2-debug")).eval()
    maps = attention_maps(model, torch.randint(0, 512, (1, 9)))
    assert len(maps) == model.config.n_layer
    for att in maps:
        assert att.shape == (1, model.config.n_head, 9, 9)
        assert_close(att.sum(-1), torch.ones(1, model.config.n_head, 9))
        assert torch.triu(att, diagonal=1).abs().max() == 0
