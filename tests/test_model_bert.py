"""BERT against transformers: encoder, masked-LM and classification heads, both converter directions."""

from __future__ import annotations

import pytest
import torch
import transformers
from torch.testing import assert_close

from llmlab.models.base import ContextLengthError, ModelError
from llmlab.models.bert import Bert, BertConfig, BertForMaskedLM, BertForSequenceClassification
from llmlab.models.hf import WeightsError, from_hf_state_dict, hf_config, to_hf_state_dict

TOL = dict(rtol=1e-5, atol=1e-5)

CLASSES = {  # HF architecture -> (ours, transformers')
    "BertModel": (Bert, transformers.BertModel),
    "BertForMaskedLM": (BertForMaskedLM, transformers.BertForMaskedLM),
    "BertForSequenceClassification": (
        BertForSequenceClassification,
        transformers.BertForSequenceClassification,
    ),
}
# HF's state_dict() lists the masked-LM decoder under its tied names too; our map writes each tensor once
TIED = {
    "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}


def config(**overrides) -> BertConfig:
    return BertConfig.from_name("bert-debug", **{"n_labels": 3, "type_vocab_size": 3, **overrides})


def hf_twin(ours: torch.nn.Module, **extra) -> torch.nn.Module:
    """A transformers model of the matching class and config, randomly initialised."""
    cfg = {k: v for k, v in hf_config(ours).items() if k not in ("architectures", "model_type")}
    hf_cls = CLASSES[hf_config(ours)["architectures"][0]][1]
    return hf_cls(transformers.BertConfig(**cfg, **extra)).eval()


def pair(arch: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Our model and transformers' twin with the same random weights, copied HF -> ours."""
    torch.manual_seed(0)
    hf = hf_twin(CLASSES[arch][0](config()), attn_implementation="eager")
    ours = from_hf_state_dict(hf.state_dict(), hf_config(CLASSES[arch][0](config())))
    assert type(ours) is CLASSES[arch][0]
    return ours.eval(), hf


def batch() -> dict[str, torch.Tensor]:
    """Two rows: sentence A then B (token types 0, 1, 2), the second right-padded after 8 tokens."""
    torch.manual_seed(2)
    idx = torch.randint(1, 512, (2, 11))
    types = torch.zeros_like(idx)
    types[:, 5:] = 1
    types[0, 9:] = 2
    mask = torch.ones_like(idx)
    mask[1, 8:] = 0
    idx[1, 8:] = 0  # [PAD]
    return {"idx": idx, "token_type_ids": types, "attention_mask": mask}


def hf_final(arch: str, ref) -> torch.Tensor:
    return ref.last_hidden_state if arch == "BertModel" else ref.logits


@pytest.mark.parametrize("arch", CLASSES)
def test_outputs_hidden_states_and_attention_maps_equal_transformers_hf_to_ours(arch):
    ours, hf = pair(arch)
    b = batch()
    with torch.no_grad():
        out = ours(**b, output_hidden_states=True, output_attentions=True)
        ref = hf(b["idx"], token_type_ids=b["token_type_ids"], attention_mask=b["attention_mask"],
                 output_hidden_states=True, output_attentions=True)  # fmt: skip
    # whole tensors, pad positions included: a pad query still reads the real tokens, like HF's
    assert_close(out.logits, hf_final(arch, ref), **TOL)
    assert len(out.hidden_states) == len(ref.hidden_states) == ours.config.n_layer + 1
    for mine, theirs in zip(out.hidden_states, ref.hidden_states, strict=True):
        assert_close(mine, theirs, **TOL)
    assert len(out.attentions) == ours.config.n_layer
    for mine, theirs in zip(out.attentions, ref.attentions, strict=True):
        assert_close(mine, theirs, **TOL)  # (B, n_head, T, T), zero on the padded keys
        assert mine[1, :, :, 8:].abs().max() == 0
    if arch == "BertModel":
        assert_close(out.pooled, ref.pooler_output, **TOL)


def test_masked_lm_and_classification_losses_equal_transformers():
    b = batch()
    targets = torch.full_like(b["idx"], -100)
    targets[0, 3], targets[1, 6] = 17, 400  # only the "masked" positions count
    ours, hf = pair("BertForMaskedLM")
    with torch.no_grad():
        mine = ours(b["idx"], targets, attention_mask=b["attention_mask"]).loss
        theirs = hf(b["idx"], attention_mask=b["attention_mask"], labels=targets).loss
    assert_close(mine, theirs, **TOL)
    assert ours.head.decoder.weight is ours.bert.tok_emb.weight
    ours, hf = pair("BertForSequenceClassification")
    labels = torch.tensor([2, 0])
    with torch.no_grad():
        out = ours(b["idx"], labels, token_type_ids=b["token_type_ids"], attention_mask=b["attention_mask"])
        ref = hf(
            b["idx"], token_type_ids=b["token_type_ids"], attention_mask=b["attention_mask"], labels=labels
        )
    assert out.logits.shape == (2, 3)
    assert_close(out.loss, ref.loss, **TOL)


@pytest.mark.parametrize("arch", CLASSES)
def test_outputs_equal_transformers_ours_to_hf(arch):
    torch.manual_seed(1)
    ours = CLASSES[arch][0](config()).eval()
    hf = hf_twin(ours)
    state = to_hf_state_dict(ours)
    assert not set(TIED) & set(state)
    state |= {alias: state[name] for alias, name in TIED.items() if alias in hf.state_dict()}
    hf.load_state_dict(state, strict=True)
    b = batch()
    with torch.no_grad():
        mine = ours(**b).logits
        ref = hf(b["idx"], token_type_ids=b["token_type_ids"], attention_mask=b["attention_mask"])
    assert_close(mine, hf_final(arch, ref), **TOL)


@pytest.mark.parametrize("arch", CLASSES)
def test_save_pretrained_folders_load_in_both_directions(arch, tmp_path):
    from llmlab.models.hf import from_pretrained, save_pretrained

    auto = {
        "BertModel": transformers.AutoModel,
        "BertForMaskedLM": transformers.AutoModelForMaskedLM,
        "BertForSequenceClassification": transformers.AutoModelForSequenceClassification,
    }[arch]
    torch.manual_seed(3)
    ours = CLASSES[arch][0](config()).eval()
    theirs = auto.from_pretrained(save_pretrained(ours, tmp_path / "ours"))
    assert type(theirs) is CLASSES[arch][1]
    b = batch()
    with torch.no_grad():
        mine = ours(**b).logits
        ref = theirs(b["idx"], token_type_ids=b["token_type_ids"], attention_mask=b["attention_mask"])
        assert_close(mine, hf_final(arch, ref), **TOL)
    _, hf = pair(arch)
    hf.save_pretrained(tmp_path / "theirs")
    back = from_pretrained(tmp_path / "theirs")
    assert type(back) is CLASSES[arch][0]
    assert back.config == config()
    with torch.no_grad():
        ref = hf(b["idx"], token_type_ids=b["token_type_ids"], attention_mask=b["attention_mask"])
        assert_close(back(**b).logits, hf_final(arch, ref), **TOL)


def test_weights_that_do_not_fit_are_listed_in_one_error():
    ours, hf = pair("BertForSequenceClassification")
    cfg = hf_config(ours)
    state = dict(hf.state_dict())
    del state["bert.encoder.layer.1.output.dense.bias"]
    state["bert.extra.weight"] = torch.zeros(3)
    with pytest.raises(WeightsError) as err:
        from_hf_state_dict(state, cfg)
    assert str(err.value) == (
        "HF weights do not match the model's name map: 1 missing: bert.encoder.layer.1.output.dense.bias; "
        "1 unexpected: bert.extra.weight"
    )
    state = dict(hf.state_dict())
    state["classifier.weight"] = torch.zeros(2, 64)
    with pytest.raises(
        WeightsError, match=r"1 wrongly shaped: classifier.weight \(2, 64\) \(model wants \(3, 64\)\)"
    ):
        from_hf_state_dict(state, cfg)
    # a bare BertModel checkpoint (no "bert." prefix) is not a classifier's weights
    _, bare = pair("BertModel")
    with pytest.raises(
        WeightsError, match=r"missing: bert.embeddings.LayerNorm.bias, .* unexpected: embeddings"
    ):
        from_hf_state_dict(bare.state_dict(), cfg)


def test_unsupported_hf_configs_are_refused():
    cfg = hf_config(Bert(config()))
    for key, value in (("position_embedding_type", "relative_key"), ("hidden_act", "gelu_new")):
        with pytest.raises(
            WeightsError, match=f"config.json has {key}={value!r}; llmlab's BERT supports only"
        ):
            from_hf_state_dict({}, {**cfg, key: value})


def test_bad_inputs_are_clear_errors():
    ours = Bert(config()).eval()
    with pytest.raises(
        ContextLengthError, match="input of 129 tokens is longer than the model's context of 128"
    ):
        ours(torch.zeros(1, 129, dtype=torch.long))
    idx = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(
        ModelError, match=r"token_type_ids must lie in 0..2 \(type_vocab_size\), got values from 0 to 3"
    ):
        ours(idx, token_type_ids=torch.tensor([[0, 0, 1, 3, 0]] * 2))
    with pytest.raises(ModelError, match=r"attention_mask must have the shape of idx \(2, 5\), got \(2, 4\)"):
        ours(idx, attention_mask=torch.ones(2, 4))
    with pytest.raises(ModelError, match=r"idx must be \(B, T\) token ids, got shape \(5,\)"):
        ours(idx[0])
    regression = BertForSequenceClassification(config(n_labels=1))
    with pytest.raises(ModelError, match="cross-entropy needs n_labels >= 2"):
        regression(idx, torch.zeros(2, dtype=torch.long))


def test_padding_does_not_change_the_real_tokens():
    ours = Bert(config()).eval()
    b = batch()
    with torch.no_grad():
        padded = ours(b["idx"], attention_mask=b["attention_mask"]).logits[1, :8]
        alone = ours(b["idx"][1:, :8]).logits[0]
    assert_close(padded, alone, **TOL)


def test_presets_count_the_parameters_transformers_counts():
    for name in ("bert-base-uncased", "bert-large-uncased", "minilm-l6"):
        cfg = BertConfig.from_name(name)
        with torch.device("meta"):  # shapes only: no memory, no init time
            ours = (Bert(cfg), BertForMaskedLM(cfg), BertForSequenceClassification(cfg))
            theirs = [CLASSES[hf_config(m)["architectures"][0]][1](transformers.BertConfig(**{
                k: v for k, v in hf_config(m).items() if k not in ("architectures", "model_type")})) for m in ours]  # fmt: skip
        for mine, ref in zip(ours, theirs, strict=True):
            assert mine.num_parameters() == ref.num_parameters(), (name, type(mine).__name__)
    with pytest.raises(ModelError, match=r"unknown bert preset 'bert-base' \(did you mean bert-base-uncased"):
        BertConfig.from_name("bert-base")
    assert BertConfig.from_dict(config().to_dict()) == config()
    with pytest.raises(ModelError, match="d_model=64 must be divisible by n_head=5"):
        config(n_head=5)
