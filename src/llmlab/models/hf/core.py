"""Converting weights between llmlab's names and the Hugging Face layout, declaratively.

Every family describes its mapping as data, a list of :class:`Rule`, one per HF tensor::

    Rule(("blocks.{i}.attn.q.weight",), "model.layers.{i}.self_attn.q_proj.weight")

``{i}`` stands for the layer index. A rule may join several of our tensors into one HF tensor
(GPT-2 stores q, k and v as one ``c_attn`` matrix) and may reshape (GPT-2's ``Conv1D`` stores
weights transposed). The same rules run in both directions. Reading HF weights checks, with one error listing every
offending name, that every tensor the rules expect is present (missing) and that nothing is left
over that no rule consumes (unexpected); loading into our model then checks every shape (wrongly
shaped). Writing checks that every tensor the rules need exists in our state dict.

Tied weights (an output head sharing the embedding matrix) appear once in the rules; the
loader fills in the other names of the same parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from llmlab.errors import LLMLabError


class WeightsError(LLMLabError):
    """Weights do not fit the model: missing, unexpected or wrongly shaped tensors (all listed)."""


def _identity_join(parts: list[Tensor]) -> Tensor:
    return parts[0]


def _identity_split(t: Tensor) -> list[Tensor]:
    return [t]


@dataclass(frozen=True)
class Rule:
    """One HF tensor <-> one or more of ours, with the reshapes between them."""

    ours: tuple[str, ...]
    hf: str
    to_hf: Callable[[list[Tensor]], Tensor] = _identity_join  # ours -> the HF tensor
    from_hf: Callable[[Tensor], list[Tensor]] = _identity_split  # the HF tensor -> ours

    def expand(self, n_layer: int) -> list[Rule]:
        """One concrete rule per layer if the names contain ``{i}``, else this rule."""
        if "{i}" not in self.hf:
            return [self]
        return [
            Rule(tuple(o.format(i=i) for o in self.ours), self.hf.format(i=i), self.to_hf, self.from_hf)
            for i in range(n_layer)
        ]


def same(ours: str, hf: str) -> Rule:
    """The tensor is identical on both sides; only the name changes."""
    return Rule((ours,), hf)


def transposed(ours: str, hf: str) -> Rule:
    """HF stores the matrix transposed (GPT-2's Conv1D keeps weights as (in, out))."""
    return Rule((ours,), hf, to_hf=lambda p: p[0].t().contiguous(), from_hf=lambda t: [t.t().contiguous()])


def fused(ours: tuple[str, ...], hf: str, *, transpose: bool = False) -> Rule:
    """Several of our tensors are one HF tensor, stacked along the output rows (then optionally transposed)."""
    n = len(ours)

    def to_hf(parts: list[Tensor]) -> Tensor:
        joined = torch.cat(parts, dim=0)
        return joined.t().contiguous() if transpose else joined

    def from_hf(t: Tensor) -> list[Tensor]:
        t = t.t() if transpose else t
        return [p.contiguous() for p in t.chunk(n, dim=0)]

    return Rule(ours, hf, to_hf=to_hf, from_hf=from_hf)


def reshaped(
    ours: str, hf: str, to_hf: Callable[[Tensor], Tensor], from_hf: Callable[[Tensor], Tensor]
) -> Rule:
    """A one-to-one rule with an explicit reshape in each direction (e.g. a RoPE row permutation)."""
    return Rule((ours,), hf, to_hf=lambda p: to_hf(p[0]), from_hf=lambda t: [from_hf(t)])


@dataclass
class NameMap:
    """All rules for one model, plus HF names that are fine to drop when reading."""

    rules: list[Rule]
    ignore_hf: list[str] = field(default_factory=list)  # regexes: HF buffers, tied duplicates

    @classmethod
    def build(cls, rules: Iterable[Rule], n_layer: int, ignore_hf: Iterable[str] = ()) -> NameMap:
        return cls([r for rule in rules for r in rule.expand(n_layer)], list(ignore_hf))


def _listing(kind: str, names: Iterable[str], limit: int = 12) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return f"{len(names)} {kind}: {shown}"


def _raise_if(what: str, **kinds: Iterable[str]) -> None:
    """One :class:`WeightsError` listing every non-empty kind of problem (missing, unexpected...)."""
    problems = [_listing(kind.replace("_", " "), names) for kind, names in kinds.items() if names]
    if problems:
        raise WeightsError(f"{what}: " + "; ".join(problems))


def check_state_dict(model: nn.Module, state: dict[str, Tensor], what: str = "weights") -> dict[str, Tensor]:
    """Check ``state`` against ``model``'s parameters and buffers; fill tied aliases; raise one error.

    Returns the state dict completed with tied names (``head.weight`` from ``tok_emb.weight``).
    """
    expected = model.state_dict()
    state = dict(state)
    # names that are the same Parameter (tied weights): any one of them is enough
    by_id: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        by_id.setdefault(id(p), []).append(name)
    filled = set()
    for names in by_id.values():
        present = [n for n in names if n in state]
        for n in names:
            if present and n not in state:
                state[n] = state[present[0]]
                filled.add(n)
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    wrong = [
        f"{n} {tuple(state[n].shape)} (model wants {tuple(expected[n].shape)})"
        for n in sorted(set(expected) & set(state) - filled)
        if state[n].shape != expected[n].shape
    ]
    _raise_if(
        f"{what} do not fit {type(model).__name__}",
        missing=missing,
        unexpected=unexpected,
        wrongly_shaped=wrong,
    )
    return state


def load_checked(model: nn.Module, state: dict[str, Tensor], what: str = "weights") -> nn.Module:
    """Load ``state`` into ``model`` after :func:`check_state_dict`; dtypes follow the model."""
    state = check_state_dict(model, state, what)
    model.load_state_dict(state, strict=True)
    return model


def to_hf(state: dict[str, Tensor], names: NameMap) -> dict[str, Tensor]:
    """Our state dict -> HF names and layouts."""
    out: dict[str, Tensor] = {}
    missing = [o for r in names.rules for o in r.ours if o not in state]
    if missing:
        raise WeightsError("cannot convert to the HF layout: " + _listing("missing", missing))
    for rule in names.rules:
        out[rule.hf] = rule.to_hf([state[o] for o in rule.ours])
    return out


def from_hf(hf_state: dict[str, Tensor], names: NameMap) -> dict[str, Tensor]:
    """HF names and layouts -> our state dict; missing and unexpected HF names are one error."""
    ignore = [re.compile(p) for p in names.ignore_hf]
    wanted = {r.hf for r in names.rules}
    missing = wanted - set(hf_state)
    unexpected = {n for n in set(hf_state) - wanted if not any(p.fullmatch(n) for p in ignore)}
    _raise_if("HF weights do not match the model's name map", missing=missing, unexpected=unexpected)
    out: dict[str, Tensor] = {}
    for rule in names.rules:
        t = hf_state[rule.hf]
        try:
            parts = rule.from_hf(t)
        except RuntimeError as exc:  # a reshape that cannot apply: the shape is wrong
            raise WeightsError(
                f"HF tensor {rule.hf} has an unexpected shape {tuple(t.shape)}: {exc}"
            ) from None
        out.update(zip(rule.ours, parts, strict=True))
    return out
