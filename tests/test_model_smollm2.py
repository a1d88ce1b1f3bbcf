"""SmolLM2-135M-Instruct from its GGUF file through our LLaMA, against transformers on the same weights."""

from __future__ import annotations

import pytest
import torch
import transformers
from torch.testing import assert_close
from transformers.utils.chat_template_utils import render_jinja_template

from llmlab.generation.greedy import greedy
from llmlab.models.gguf_llama import load_llama_gguf
from llmlab.models.hf import save_pretrained
from llmlab.tokenizers.chat import ChatTemplate
from llmlab.tokenizers.pretrained import load_pretrained
from test_tok_bpe_smollm2 import hf_twin

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "Explain what a transformer neural network is in one sentence.",
    "List three primary colors.",
    "What is 12 times 7?",
    "Translate 'good morning' into Spanish.",
    "Give me a tip for learning to play the guitar.",
    "Why is the sky blue?",
    "Name a famous play by William Shakespeare.",
    "def fibonacci(n):",
]


@pytest.fixture(scope="module")
def models(tmp_path_factory, real_home_path):
    """Our model from the GGUF, and transformers' LlamaForCausalLM loaded from our save_pretrained."""
    ours = load_llama_gguf(real_home_path("smollm2-135m-instruct") / GGUF)
    folder = save_pretrained(ours, tmp_path_factory.mktemp("smollm2-hf"))
    hf = transformers.LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return ours, hf


def test_config_read_from_gguf_is_the_smollm2_preset(models):
    from llmlab.models.llama import LlamaConfig

    ours, hf = models
    assert ours.config == LlamaConfig.from_name("smollm2-135m")
    assert hf.config.num_key_value_heads == 3 and hf.config.tie_word_embeddings


def test_logits_equal_transformers_on_a_batch(models):
    ours, hf = models
    idx = torch.randint(0, 49152, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_close(ours(idx).logits, hf(idx).logits, rtol=1e-4, atol=1e-4)  # 30 layers of fp32 sums


@pytest.mark.slow  # loads the file a second time; the tiny-model version runs by default
def test_interleaved_rope_reading_of_the_file_is_the_same_model(models, real_home_path):
    ours, _ = models
    inter = load_llama_gguf(real_home_path("smollm2-135m-instruct") / GGUF, interleaved=True)
    assert inter.config.rope_interleaved
    idx = torch.randint(0, 49152, (1, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert_close(inter(idx).logits, ours(idx).logits, rtol=1e-4, atol=1e-4)


def test_greedy_chat_continuations_equal_transformers(models, real_home_path, real_assets):
    real_assets("smollm2-135m-instruct")
    ours, hf = models
    path = real_home_path("smollm2-135m-instruct") / GGUF
    template = ChatTemplate.from_gguf(path)
    tok = load_pretrained("smollm2")
    eos = tok.special_tokens["<|im_end|>"]
    hf_tok, _ = hf_twin(path)  # HF tokenizers built from the same GGUF vocabulary and merges
    for prompt in PROMPTS:
        messages = [{"role": "user", "content": prompt}]
        text = template.apply_chat_template(messages, add_generation_prompt=True)
        # the template rendered by transformers' own chat-template code, with the same special tokens
        assert (
            text
            == render_jinja_template(
                [messages],
                chat_template=template.source,
                add_generation_prompt=True,
                **template.special_tokens,
            )[0][0]
        )
        ids = template.encode(tok, messages, add_generation_prompt=True)
        assert ids == hf_tok.encode(text).ids
        ours_new = greedy(ours, ids, 32, stop_ids=[eos])
        ref = hf.generate(
            torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long), max_new_tokens=32,
            do_sample=False, eos_token_id=eos, pad_token_id=eos,
        )[0, len(ids):].tolist()  # fmt: skip
        assert ours_new == ref, (
            f"{prompt!r}: ours {tok.decode(ours_new)!r} vs transformers {tok.decode(ref)!r}"
        )
    assert "Paris" in tok.decode(greedy(ours, template.encode(tok, [{"role": "user", "content": PROMPTS[0]}],
                                                             add_generation_prompt=True), 16))  # fmt: skip


def test_greedy_with_and_without_cache_agree(models, real_assets):
    real_assets("smollm2-135m-instruct")
    ours, _ = models
    prompt = load_pretrained("smollm2").encode("Once upon a time")
    assert greedy(ours, prompt, 12) == greedy(ours, prompt, 12, use_cache=False)
