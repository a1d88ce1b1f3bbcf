"""Our SGD, Adam and AdamW against torch.optim, live: same model, same gradients, 1,000 steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from llmlab.errors import LLMLabError
from llmlab.training.optim import SGD, Adam, AdamW, build_optimizer, param_groups

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 4))


def run(make_opt, steps: int, model: nn.Module | None = None, start: int = 0) -> nn.Module:  # noqa: ANN001
    """``steps`` updates on fixed random regression batches (batch ``i`` depends only on ``i``)."""
    model = model if model is not None else small_model()
    opt = make_opt(param_groups(model, 0.1))
    for i in range(start, start + steps):
        g = torch.Generator().manual_seed(i)
        x, y = torch.randn(16, 8, generator=g), torch.randn(16, 4, generator=g)
        opt.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    model.opt = opt  # type: ignore[assignment]
    return model


PAIRS = {
    "adamw": (
        lambda p: AdamW(p, lr=1e-3, betas=(0.9, 0.95)),
        lambda p: torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.95)),
    ),
    "adam": (lambda p: Adam(p, lr=1e-3), lambda p: torch.optim.Adam(p, lr=1e-3)),
    # the multi-tensor forms, against torch's multi-tensor implementation
    "adamw-foreach": (
        lambda p: AdamW(p, lr=1e-3, betas=(0.9, 0.95), foreach=True),
        lambda p: torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.95), foreach=True),
    ),
    "adam-foreach": (
        lambda p: Adam(p, lr=1e-3, weight_decay=0.01, foreach=True),
        lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=0.01, foreach=True),
    ),
    # the one-pass kernel with our state, against torch's fused optimizers
    "adamw-fused": (
        lambda p: AdamW(p, lr=1e-3, betas=(0.9, 0.95), fused=True),
        lambda p: torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.95), fused=True),
    ),
    "adam-fused": (
        lambda p: Adam(p, lr=1e-3, weight_decay=0.01, fused=True),
        lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=0.01, fused=True),
    ),
    "sgd": (lambda p: SGD(p, lr=1e-2, momentum=0.9), lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
    "sgd-nesterov": (
        lambda p: SGD(p, lr=1e-2, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, nesterov=True),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PAIRS))
def test_equals_torch_over_1000_steps(name: str) -> None:
    ours, theirs = (run(make, 1000) for make in PAIRS[name])
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert_close(p, q, atol=1e-6, rtol=0, msg=f"{name}: {n} differs from torch after 1000 steps")
    moved = sum(
        (p - q).abs().sum().item() for p, q in zip(ours.parameters(), small_model().parameters(), strict=True)
    )
    assert moved > 1.0  # the comparison is not between two untouched models


def test_weight_decay_only_on_matrices() -> None:
    model = small_model()
    decay, no_decay = param_groups(model, 0.1)
    assert [p.shape for p in decay["params"]] == [(16, 8), (4, 16)]
    assert len(no_decay["params"]) == 4 and no_decay["weight_decay"] == 0.0  # 2 biases + LayerNorm gain/bias
    # with lr 1 and no gradient signal except decay, only the matrices shrink
    opt = AdamW(param_groups(model, 0.5), lr=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for p, b in zip(model.parameters(), before, strict=True):
        expected = b * 0.5 if p.dim() >= 2 else b
        assert_close(p.detach(), expected)


def test_tied_parameters_appear_once() -> None:
    from llmlab.models.gpt2 import GPT2, GPT2Config

    model = GPT2(GPT2Config.from_name("gpt2-debug", n_layer=1))
    groups = param_groups(model, 0.1)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_state_dict_resume_continues_exactly(name: str) -> None:
    make = PAIRS[name][0]
    straight = run(make, 60)
    first = run(make, 30)
    saved_model, saved_opt = first.state_dict(), first.opt.state_dict()
    fresh = small_model()
    fresh.load_state_dict(saved_model)
    resumed = run(make, 0, fresh)  # builds the optimizer
    resumed.opt.load_state_dict(saved_opt)
    opt = resumed.opt
    for i in range(30, 60):  # continue by hand with the loaded optimizer
        g = torch.Generator().manual_seed(i)
        x, y = torch.randn(16, 8, generator=g), torch.randn(16, 4, generator=g)
        opt.zero_grad(set_to_none=True)
        nn.functional.mse_loss(resumed(x), y).backward()
        opt.step()
    for p, q in zip(resumed.parameters(), straight.parameters(), strict=True):
        assert torch.equal(p, q)


def test_foreach_form_equals_the_loop() -> None:
    """One kernel per formula line over all parameters does the same arithmetic as the loop."""
    loop = run(lambda p: AdamW(p, lr=1e-3, betas=(0.9, 0.95), foreach=False), 200)
    multi = run(lambda p: AdamW(p, lr=1e-3, betas=(0.9, 0.95), foreach=True), 200)
    for p, q in zip(loop.parameters(), multi.parameters(), strict=True):
        assert_close(p, q, atol=1e-7, rtol=0)
    assert multi.opt.state_dict()["state"][0]["step"] == 200


def test_fused_form_equals_the_loop_and_resumes_from_it() -> None:
    """One pass per tensor does the loop's arithmetic; a checkpoint moves between the two forms."""
    loop = run(lambda p: AdamW(p, lr=1e-3, betas=(0.9, 0.95)), 200)
    fused = run(lambda p: AdamW(p, lr=1e-3, betas=(0.9, 0.95), fused=True), 200)
    for p, q in zip(loop.parameters(), fused.parameters(), strict=True):
        assert_close(p, q, atol=1e-6, rtol=0)
    assert fused.opt.state_dict()["state"][0]["step"] == 200  # our int step count, as the loop keeps it
    half = run(lambda p: AdamW(p, lr=1e-3, betas=(0.9, 0.95)), 100)
    saved = half.opt.state_dict()  # written by the loop form
    fused_opt = AdamW(param_groups(half, 0.1), lr=1e-3, betas=(0.9, 0.95), fused=True)
    fused_opt.load_state_dict(saved)
    resumed = run(lambda p: fused_opt, 100, half, start=100)
    for p, q in zip(resumed.parameters(), loop.parameters(), strict=True):
        assert_close(p, q, atol=1e-6, rtol=0)


def test_build_optimizer_uses_the_fused_kernel_only_where_it_exists() -> None:
    model = small_model()
    assert build_optimizer("adamw", param_groups(model, 0.1), lr=1e-3, fused=True).defaults["fused"] is True
    assert build_optimizer("adamw", param_groups(model, 0.1), lr=1e-3).defaults["fused"] is False
    assert isinstance(build_optimizer("sgd", model.parameters(), lr=1e-3, fused=True), SGD)
    model.to(torch.float64)
    as_double = build_optimizer("adam", param_groups(model, 0.1), lr=1e-3, fused=True)
    assert as_double.defaults["fused"] is True  # float64 is floating point: the kernel handles it
    ints = [torch.zeros(3, dtype=torch.int64)]
    assert build_optimizer("adamw", ints, lr=1e-3, fused=True).defaults["fused"] is False
    with pytest.raises(
        LLMLabError, match=r"AdamW\(fused=True\) needs floating-point parameters on cpu, cuda"
    ):
        AdamW(ints, fused=True)
    with pytest.raises(LLMLabError, match="choose one of fused=True and foreach=True"):
        AdamW(small_model().parameters(), fused=True, foreach=True)


def test_loads_torch_adamw_state() -> None:
    """A torch AdamW checkpoint continues in ours (torch stores ``step`` as a tensor; we read both)."""
    torch_first = run(PAIRS["adamw"][1], 20)
    straight = run(PAIRS["adamw"][1], 40)
    model = small_model()
    model.load_state_dict(torch_first.state_dict())
    ours = AdamW(param_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.95))
    ours.load_state_dict(torch_first.opt.state_dict())
    for i in range(20, 40):
        g = torch.Generator().manual_seed(i)
        x, y = torch.randn(16, 8, generator=g), torch.randn(16, 4, generator=g)
        ours.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(x), y).backward()
        ours.step()
    for p, q in zip(model.parameters(), straight.parameters(), strict=True):
        assert_close(p, q, atol=1e-6, rtol=0)


def test_bad_hyperparameters_are_clear_errors() -> None:
    params = [nn.Parameter(torch.zeros(2))]
    with pytest.raises(LLMLabError, match=r"betas must lie in \[0, 1\), got \(0.9, 1.0\)"):
        AdamW(params, betas=(0.9, 1.0))
    with pytest.raises(LLMLabError, match="lr=-1"):
        SGD(params, lr=-1)
    with pytest.raises(LLMLabError, match="unknown optimizer 'lion'; choose one of adamw, adam, sgd"):
        build_optimizer("lion", params, lr=1e-3)
