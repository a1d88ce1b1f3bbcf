"""Optimizers written out: SGD with momentum, Adam, and AdamW, each a few lines of tensor math.

Every optimizer here subclasses ``torch.optim.Optimizer`` for the bookkeeping only: parameter
groups (a list of dicts, each with its own ``lr``, ``weight_decay`` ...), ``zero_grad``, and
``state_dict`` / ``load_state_dict`` (so a checkpoint written with ours has torch's layout and
resume works). What each one *does* is its :meth:`step`, written here in plain tensor ops in the
same order as torch's single-tensor implementation, which is why ``tests/test_train_optim.py``
can demand equality with ``torch.optim`` after 1,000 steps.

The ladder, one idea per rung (g is the gradient, t counts steps from 1, lr the learning rate):

1. **SGD with momentum**: ``b = mu * b + g`` (``b = g`` on the first step), ``p -= lr * b``.
   Momentum averages gradients over ~1/(1 - mu) steps so noise cancels and a steady slope adds up.
2. **Adam** (Kingma & Ba 2015, arXiv:1412.6980) keeps two running averages per parameter:
   ``m = b1 * m + (1 - b1) * g`` (the mean) and ``v = b2 * v + (1 - b2) * g**2`` (the
   uncentered variance), corrects their bias towards 0 (both start at 0), and steps
   ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1**t)``,
   ``v_hat = v / (1 - b2**t)``: every weight moves about ``lr`` per step, whatever its gradient's scale.
   Its weight decay is L2 regularisation: ``g += wd * p`` *before* the averages, so it is
   divided by ``sqrt(v_hat)`` too, and weights with large gradients are barely decayed.
3. **AdamW** (Loshchilov & Hutter 2019, arXiv:1711.05101) *decouples* the decay from the gradient:
   ``p *= 1 - lr * wd`` first, then the plain Adam step. Every weight shrinks by the same factor,
   which is what weight decay was meant to be; this is the optimizer LLMs are trained with.

4. **Multi-tensor (foreach) form**: the same AdamW, one ``torch._foreach_*`` call per line of the
   formula over *all* parameters at once instead of a Python loop over them. The arithmetic is
   identical (tested equal to ``torch.optim.AdamW(foreach=True)``); what changes is the number of
   kernel launches: GPT-2 has 148 parameter tensors, so the loop launches ~1,200 small kernels per
   step and the foreach form ~10. On a GPU that is the difference between an optimizer step that
   costs more than the forward pass and one that does not; it is the default there, as in torch.
5. **Fused form** (``fused=True``; ``fused=None`` uses it where the kernel applies): each of the
   forms above reads and writes every parameter, gradient and moment several times (the loop:
   eight passes over memory per tensor). torch's fused kernel does the whole formula per element
   in one pass over p, g, m and v. We call that
   kernel (``torch._fused_adamw_``) with our state, as our layers call ``F.gelu`` instead of the
   written-out formula; tested equal to ``torch.optim.AdamW(fused=True)`` and to the loop above.
   On 2 CPU cores a gpt-mini step's AdamW takes ~11 ms fused against ~38 ms in the loop.
   ``llmlab.training.train()`` uses it (``TrainConfig.fused_optimizer``, on by default).

Decay belongs on matrices only: shrinking a bias or a LayerNorm gain towards 0 has no
regularising meaning. :func:`param_groups` splits a model's parameters that way (as nanoGPT does).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from llmlab.errors import LLMLabError

OPTIMIZERS = ("adamw", "adam", "sgd")
FUSED_DEVICES = ("cpu", "cuda")  # where torch has the fused Adam/AdamW kernel for float parameters


def fusable(p: torch.Tensor) -> bool:
    """Whether torch's fused Adam/AdamW kernel can update ``p``."""
    return p.device.type in FUSED_DEVICES and p.is_floating_point()


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two groups: weights with >= 2 dims get ``weight_decay``; biases, norms and scalars get 0.

    Tied parameters appear once (``named_parameters`` skips repeats), and frozen ones are left out.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent with (optionally Nesterov) momentum and L2 weight decay.

    Per parameter, with state ``momentum_buffer`` b::

        g = grad + wd * p                    (L2 decay, if wd > 0)
        b = g          on the first step      (torch's convention: no zero start)
        b = mu * b + g afterwards            (if mu > 0; else b = g)
        d = g + mu * b if nesterov else b
        p = p - lr * d
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        _check(lr >= 0 and 0 <= momentum < 1 and weight_decay >= 0, "SGD", lr, momentum, weight_decay)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = _closure(closure)
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if wd != 0:
                    g = g.add(p, alpha=wd)
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.clone(g).detach()
                    else:
                        state["momentum_buffer"].mul_(mu).add_(g)
                    b = state["momentum_buffer"]
                    g = g.add(b, alpha=mu) if group["nesterov"] else b
                p.add_(g, alpha=-lr)
        return loss


class Adam(torch.optim.Optimizer):
    """Adam with bias correction; ``weight_decay`` is L2 (added to the gradient), as in torch's Adam.

    Per parameter, with state ``step`` t, ``exp_avg`` m and ``exp_avg_sq`` v::

        t = t + 1
        g = grad + wd * p                          (Adam)   |   p = p * (1 - lr * wd)   (AdamW)
        m = m + (1 - b1) * (g - m)                 (= b1 * m + (1 - b1) * g, as torch's lerp)
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)
    """

    decoupled = False  # AdamW flips this: decay the weights, not the gradient

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        fused: bool | None = False,
    ) -> None:
        name = type(self).__name__
        _check(lr >= 0 and eps >= 0 and weight_decay >= 0, name, lr, None, weight_decay)
        if not all(0 <= b < 1 for b in betas):
            raise LLMLabError(f"{name}: betas must lie in [0, 1), got {tuple(betas)}")
        if fused and foreach:
            raise LLMLabError(f"{name}: choose one of fused=True and foreach=True, not both")
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach, fused=fused
        )
        super().__init__(params, defaults)
        if fused is not False:  # True: the kernel or an error; None: the kernel where it applies
            odd = next((p for g in self.param_groups for p in g["params"] if not fusable(p)), None)
            if fused and odd is not None:
                raise LLMLabError(
                    f"{name}(fused=True) needs floating-point parameters on "
                    f"{', '.join(FUSED_DEVICES)}; got {odd.dtype} on {odd.device.type}"
                )
            use = odd is None and not foreach  # an explicit foreach=True wins over fused=None
            self.defaults["fused"] = use
            for group in self.param_groups:
                group["fused"] = use

    def _state(self, p: torch.Tensor) -> dict[str, Any]:
        """``p``'s moments, created lazily with its shape, dtype and device; ``step`` counts updates."""
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        # subtle: torch stores the step as a tensor; int() reads both, so a torch checkpoint resumes here
        state["step"] = int(state["step"]) + 1
        return state

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = _closure(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if group.get("fused") and params:
                self._step_fused(group, params)
                continue
            foreach = group.get("foreach")
            if foreach is None:  # torch's default: the multi-tensor form on accelerators
                foreach = bool(params) and params[0].device.type != "cpu"
            if foreach and params:
                self._step_foreach(group, params)
                continue
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in params:
                g = p.grad
                state = self._state(p)
                m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                if wd != 0:
                    if self.decoupled:
                        p.mul_(1 - lr * wd)
                    else:
                        g = g.add(p, alpha=wd)
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                step_size = lr / (1 - b1**t)
                denom = (v.sqrt() / math.sqrt(1 - b2**t)).add_(eps)
                p.addcdiv_(m, denom, value=-step_size)
        return loss

    def _step_foreach(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        """The loop above as whole-list ops, in the order of torch's ``_multi_tensor_adam``."""
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        states = [self._state(p) for p in params]
        grads = [p.grad for p in params]
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        if wd != 0:
            if self.decoupled:
                torch._foreach_mul_(params, 1 - lr * wd)
            else:
                grads = torch._foreach_add(grads, params, alpha=wd)
        torch._foreach_lerp_(m, grads, 1 - b1)  # m = m + (1 - b1) (g - m)
        torch._foreach_mul_(v, b2)  # v = b2 v + (1 - b2) g^2
        torch._foreach_addcmul_(v, grads, grads, 1 - b2)
        # subtle: steps can differ between parameters (one added later), so each gets its own scalars
        step_size = [-lr / (1 - b1 ** s["step"]) for s in states]
        denom = torch._foreach_sqrt(v)  # sqrt(v) / sqrt(1 - b2^t) + eps
        torch._foreach_div_(denom, [(1 - b2 ** s["step"]) ** 0.5 for s in states])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, m, denom, step_size)

    def _step_fused(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        """The loop's formula in one pass per tensor: torch's fused kernel, fed with our state."""
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        kernel = torch._fused_adamw_ if self.decoupled else torch._fused_adam_
        by_kind: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
        for p in params:  # one call per device and dtype, as the kernel wants
            by_kind.setdefault((p.device, p.dtype), []).append(p)
        for (device, _), ps in by_kind.items():
            states = [self._state(p) for p in ps]
            # the kernel reads each step count from a float32 tensor, as torch stores it; ours are ints
            steps = torch.tensor([float(s["step"]) for s in states], device=device).unbind()
            kernel(
                ps, [p.grad for p in ps], [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [],
                list(steps), lr=lr, beta1=b1, beta2=b2, weight_decay=wd, eps=eps, amsgrad=False, maximize=False,
            )  # fmt: skip


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * wd`` before the Adam step (see :class:`Adam`).

    Defaults are torch's (``weight_decay=0.01``); LLM recipes use ``betas=(0.9, 0.95)``, ``wd=0.1``.
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        foreach: bool | None = None,
        fused: bool | None = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, fused=fused
        )


def build_optimizer(
    name: str,
    params: Iterable[Any],
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.95),
    eps: float = 1e-8,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    fused: bool = False,
) -> torch.optim.Optimizer:
    """``"adamw"``, ``"adam"`` or ``"sgd"`` over ``params``; groups from :func:`param_groups` override
    ``weight_decay`` with their own. ``fused`` picks the one-pass kernel for Adam and AdamW where the
    parameters' device has it (SGD has no fused form here)."""
    if name in ("adamw", "adam"):
        kind = AdamW if name == "adamw" else Adam
        return kind(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, fused=None if fused else False
        )
    if name == "sgd":
        return SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise LLMLabError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def _check(ok: bool, name: str, lr: float, momentum: float | None, weight_decay: float) -> None:
    if not ok:
        mom = f", momentum={momentum}" if momentum is not None else ""
        raise LLMLabError(
            f"{name}: lr, weight_decay (and eps) must be >= 0 and momentum in [0, 1); "
            f"got lr={lr}{mom}, weight_decay={weight_decay}"
        )


def _closure(closure: Any) -> Any:
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
