"""The zoo on a CUDA GPU: the same logits as on the CPU, half-precision autocast, cached decoding.

Marked ``gpu``: skipped on machines without CUDA (CI never has one).
"""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from llmlab.generation.greedy import greedy
from llmlab.models import registry

pytestmark = pytest.mark.gpu

DEBUG = ["gpt2-debug", "llama-debug", "bert-debug", "rnn-debug", "lstm-debug", "gru-debug"]


@pytest.fixture(autouse=True)
def _full_fp32():
    torch.backends.cuda.matmul.allow_tf32 = False  # compare fp32 with fp32, not TF32
    torch.backends.cudnn.allow_tf32 = False
    yield


@pytest.mark.parametrize("name", DEBUG)
def test_cuda_logits_equal_cpu_logits(name):
    torch.manual_seed(0)
    model = registry.build(name).eval()
    idx = torch.randint(0, model.config.vocab_size, (2, 24))
    with torch.no_grad():
        cpu = model(idx).logits
        gpu = model.cuda()(idx.cuda()).logits
    assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)


def test_t5_on_cuda_equals_cpu():
    torch.manual_seed(0)
    model = registry.build("t5-debug").eval()
    src = torch.randint(0, model.config.vocab_size, (2, 12))
    tgt = torch.randint(0, model.config.vocab_size, (2, 7))
    with torch.no_grad():
        cpu = model(src, decoder_input_ids=tgt).logits
        gpu = model.cuda()(src.cuda(), decoder_input_ids=tgt.cuda()).logits
    assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["gpt2-debug", "llama-debug"])
def test_bf16_autocast_forward_and_backward_on_cuda(name):
    torch.manual_seed(0)
    model = registry.build(name).cuda()
    idx = torch.randint(0, model.config.vocab_size, (4, 64), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(idx[:, :-1], targets=idx[:, 1:])
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert out.loss.item() == pytest.approx(
        torch.log(torch.tensor(512.0)).item(), rel=0.05
    )  # untrained: ~ln V
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", ["gpt2-debug", "llama-debug"])
def test_cached_greedy_decoding_on_cuda_matches_the_cpu(name):
    torch.manual_seed(0)
    model = registry.build(name).eval()
    prompt = list(range(5, 17))
    cpu = greedy(model, prompt, 20)
    gpu = greedy(model.cuda(), prompt, 20)
    assert gpu == cpu
    assert greedy(model, prompt, 20, use_cache=False) == gpu
