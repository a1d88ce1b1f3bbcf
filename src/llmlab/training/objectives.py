"""Pretraining objectives: how a row of token ids becomes an input the model reads and a target
it must produce. Three objectives, three model families:

* :class:`CausalLM` (GPT): predict every next token. ``input = row[:-1]``, ``target = row[1:]``.
* :class:`MaskedLM` (BERT; Devlin et al. 2019, section 3.1): choose 15% of the positions that are
  not special tokens; of those, 80% become ``[MASK]``, 10% a random token, 10% stay unchanged
  (so the model cannot learn that only ``[MASK]`` positions matter). Targets are the original
  ids at chosen positions and -100 (ignored by the loss) everywhere else.
* :class:`SpanCorruption` (T5; Raffel et al. 2020, section 3.1.4): drop 15% of the tokens in
  spans of mean length 3; each span becomes one sentinel in the input, and the target lists
  every sentinel followed by the span it replaced::

      original  Thank you for inviting me to your party last week .
      input     Thank you <extra_id_0> me to your party <extra_id_1> week .
      target    <extra_id_0> for inviting <extra_id_1> last <extra_id_2>

Each objective has ``make(tokens, generator) -> {"input_ids", "targets"}`` (tokens (B, T) int64;
the generator makes the random choices reproducible) and ``show(example, tokenizer) -> str``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer

IGNORE = -100  # target id the cross-entropy skips (torch's ignore_index default)


def _check_rows(tokens: Tensor, min_len: int) -> None:
    if tokens.ndim != 2 or tokens.dtype != torch.long:
        raise LLMLabError(f"tokens must be a (B, T) int64 tensor, got {tuple(tokens.shape)} {tokens.dtype}")
    if tokens.shape[1] < min_len:
        raise LLMLabError(f"rows must hold at least {min_len} tokens, got T={tokens.shape[1]}")


class CausalLM:
    """Next-token prediction: a row of T + 1 ids gives T (input, target) pairs.

    >>> CausalLM().make(torch.tensor([[5, 6, 7, 8]]))    # doctest: +SKIP
    {'input_ids': tensor([[5, 6, 7]]), 'targets': tensor([[6, 7, 8]])}
    """

    def make(self, tokens: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``tokens`` (B, T + 1) -> input_ids and targets, each (B, T); no randomness."""
        _check_rows(tokens, 2)
        return {"input_ids": tokens[:, :-1], "targets": tokens[:, 1:]}

    def show(
        self, example: dict[str, Tensor], tokenizer: Tokenizer, *, row: int = 0, max_tokens: int = 16
    ) -> str:
        """The first ``max_tokens`` positions of one row: each input next to the token it predicts."""
        x, y = example["input_ids"][row].tolist(), example["targets"][row].tolist()
        lines = [
            (str(t), _piece(tokenizer, x[t]), _piece(tokenizer, y[t])) for t in range(min(max_tokens, len(x)))
        ]
        head = f"causal LM, row {row}: {len(lines)} of {len(x)} positions; each input predicts the target beside it"
        return head + "\n" + _table(("pos", "input", "target"), lines)


@dataclass
class MaskedLM:
    """BERT's masking, drawn in the same order as transformers' ``DataCollatorForLanguageModeling``.

    1. each position that is not a special id is chosen with probability ``probability``;
    2. a chosen position becomes ``mask_id`` with probability ``mask_fraction``;
    3. of the rest, a share ``random_fraction / (1 - mask_fraction)`` becomes a uniformly random id
       in ``0 .. vocab_size - 1`` (specials included, as in BERT and transformers);
    4. the others keep their id. Targets: the original id where chosen, -100 elsewhere.

    The number chosen per row varies (each position is a coin flip), 15% on average.
    """

    mask_id: int
    vocab_size: int
    special_ids: Sequence[int] = ()  # never chosen: [CLS], [SEP], [PAD], ...
    probability: float = 0.15
    mask_fraction: float = 0.8
    random_fraction: float = 0.1

    def __post_init__(self) -> None:
        p, m, r = self.probability, self.mask_fraction, self.random_fraction
        if not (0 <= p <= 1 and 0 <= m <= 1 and 0 <= r <= 1 and m + r <= 1):
            raise LLMLabError(
                f"masking probabilities must lie in [0, 1] with mask_fraction + random_fraction <= 1, "
                f"got probability={p}, mask_fraction={m}, random_fraction={r}"
            )
        if not 0 <= self.mask_id < self.vocab_size:
            raise LLMLabError(
                f"mask_id {self.mask_id} is outside the vocabulary (vocab_size {self.vocab_size})"
            )

    @classmethod
    def from_tokenizer(cls, tokenizer: Tokenizer, mask_token: str = "[MASK]", **kwargs: float) -> MaskedLM:
        """Mask id and special ids read from ``tokenizer.special_tokens``."""
        if mask_token not in tokenizer.special_tokens:
            raise LLMLabError(
                f"{tokenizer.name} has no {mask_token} token: masked LM needs one (e.g. bert-base-uncased)"
            )
        specials = sorted(tokenizer.special_tokens.values())
        return cls(tokenizer.special_tokens[mask_token], tokenizer.vocab_size, specials, **kwargs)  # type: ignore[arg-type]

    def make(self, tokens: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``tokens`` (B, T) -> input_ids (B, T) with masking applied, targets (B, T)."""
        _check_rows(tokens, 1)
        g, shape = generator, tokens.shape
        special = torch.isin(tokens, torch.tensor(list(self.special_ids), dtype=torch.long))  # (B, T)
        p = torch.full(shape, self.probability).masked_fill_(special, 0.0)
        chosen = torch.bernoulli(p, generator=g).bool()  # 1. (B, T)
        targets = tokens.masked_fill(~chosen, IGNORE)
        inputs = tokens.clone()
        masked = torch.bernoulli(torch.full(shape, self.mask_fraction), generator=g).bool() & chosen  # 2.
        inputs[masked] = self.mask_id
        if self.mask_fraction < 1 and self.random_fraction > 0:
            share = self.random_fraction / (1 - self.mask_fraction)  # 3. of what [MASK] left
            rand = torch.bernoulli(torch.full(shape, share), generator=g).bool() & chosen & ~masked
            words = torch.randint(self.vocab_size, shape, dtype=torch.long, generator=g)
            inputs[rand] = words[rand]
        return {"input_ids": inputs, "targets": targets}

    def show(
        self, example: dict[str, Tensor], tokenizer: Tokenizer, *, row: int = 0, max_tokens: int = 32
    ) -> str:
        """One row as columns; ``*`` marks a chosen position, with what was done to it."""
        x, y = example["input_ids"][row].tolist(), example["targets"][row].tolist()
        lines = []
        for t in range(min(max_tokens, len(x))):
            if y[t] == IGNORE:
                lines.append((f"{t} ", _piece(tokenizer, x[t]), "", ""))
                continue
            how = "[MASK]" if x[t] == self.mask_id else ("kept" if x[t] == y[t] else "random")
            lines.append((f"{t}*", _piece(tokenizer, x[t]), _piece(tokenizer, y[t]), how))
        n = sum(v != IGNORE for v in y)
        head = f"masked LM, row {row}: {n} of {len(x)} positions chosen (*); the loss is taken only there"
        return head + "\n" + _table(("pos", "input", "target", "how"), lines)


@dataclass
class SpanCorruption:
    """T5's span corruption. Sentinel k (``<extra_id_k>``) has id ``first_sentinel_id - k``: T5's
    vocabulary puts ``<extra_id_0>`` = 32099 at the top and counts down.

    Per row of length T (T5's ``random_spans_noise_mask``), with n = round(T * noise_density),
    clamped to 1 .. T - 1, and k = max(1, round(n / mean_span_length)) spans:

    1. cut the n noise tokens into k non-empty spans, and the T - n kept tokens into k
       non-empty runs, each uniformly at random;
    2. interleave them: kept, noise, kept, noise, ... (a row starts with kept text);
    3. input: the kept runs, each noise span replaced by its sentinel, then ``eos_id``;
       target: each sentinel followed by its span, then a final sentinel (the paper's figure;
       T5's code leaves it out: ``final_sentinel=False``), then ``eos_id``.

    n and k depend only on T, so every row of a batch has the same input and target length.
    """

    first_sentinel_id: int
    eos_id: int | None = None
    noise_density: float = 0.15
    mean_span_length: float = 3.0
    final_sentinel: bool = True
    n_sentinels: int = 100  # ids first_sentinel_id - 99 .. first_sentinel_id are sentinels (T5: 100)

    def __post_init__(self) -> None:
        if not 0 < self.noise_density < 1 or self.mean_span_length < 1:
            raise LLMLabError(
                f"noise_density must lie in (0, 1) and mean_span_length be at least 1, "
                f"got {self.noise_density} and {self.mean_span_length}"
            )
        self.sentinel_range = (self.first_sentinel_id - self.n_sentinels + 1, self.first_sentinel_id)

    def sizes(self, T: int) -> tuple[int, int]:
        """(noise tokens n, spans k) for a row of length T."""
        n = min(max(round(T * self.noise_density), 1), T - 1)
        k = min(max(round(n / self.mean_span_length), 1), T - n)  # k kept runs need T - n >= k
        return n, k

    def noise_mask(self, T: int, generator: torch.Generator | None = None) -> Tensor:
        """(T,) bool, True on noise tokens: steps 1-2."""
        n, k = self.sizes(T)
        noise, kept = _segments(n, k, generator), _segments(T - n, k, generator)  # (k,) each
        lengths = torch.stack([kept, noise], dim=1).flatten()  # (2k,) kept, noise, kept, ...
        is_noise = torch.tensor([False, True]).repeat(k)  # (2k,)
        return is_noise.repeat_interleave(lengths)  # (T,)

    def make(self, tokens: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``tokens`` (B, T) -> input_ids (B, T - n + k [+1]), targets (B, n + k [+1] [+1])."""
        _check_rows(tokens, 2)
        T = tokens.shape[1]
        k = self.sizes(T)[1]
        lo, hi = self.sentinel_range
        if k + self.final_sentinel > self.n_sentinels:
            raise LLMLabError(
                f"rows of {T} tokens need {k + self.final_sentinel} sentinels, more than {self.n_sentinels}"
            )
        clash = ((tokens >= lo) & (tokens <= hi)).nonzero()
        if len(clash):
            b, t = clash[0].tolist()
            raise LLMLabError(
                f"row {b}, position {t} holds id {tokens[b, t].item()}, which is a sentinel id ({lo}..{hi}); "
                "choose first_sentinel_id so that the sentinels lie above the text ids"
            )
        eos = [self.eos_id] if self.eos_id is not None else []
        inputs, targets = [], []
        for row in tokens.tolist():
            mask = self.noise_mask(T, generator).tolist()
            inp, tgt, span = [], [], -1
            for t, (tok, noisy) in enumerate(zip(row, mask, strict=True)):
                starts = noisy and (t == 0 or not mask[t - 1])
                if starts:
                    span += 1
                    inp.append(self.first_sentinel_id - span)
                    tgt.append(self.first_sentinel_id - span)
                (tgt if noisy else inp).append(tok)
            if self.final_sentinel:
                tgt.append(self.first_sentinel_id - span - 1)
            inputs.append(inp + eos)
            targets.append(tgt + eos)
        return {"input_ids": torch.tensor(inputs), "targets": torch.tensor(targets)}

    def is_sentinel(self, token_id: int) -> bool:
        return self.sentinel_range[0] <= token_id <= self.sentinel_range[1]

    def reconstruct(self, input_ids: Tensor, targets: Tensor) -> Tensor:
        """The original row from one input and its target (1-D each): put every span back in
        place of its sentinel. Exact for any row ``make`` produced; the test of the objective."""
        inp, tgt = input_ids.tolist(), targets.tolist()
        if self.eos_id is not None:  # subtle: only the last eos is ours; the text may hold that id too
            inp, tgt = inp[:-1], tgt[:-1]
        spans: dict[int, list[int]] = {}
        current: list[int] = []
        for tok in tgt:
            if self.is_sentinel(tok):
                current = spans.setdefault(tok, [])
            else:
                current.append(tok)
        out: list[int] = []
        for tok in inp:
            out.extend(spans.get(tok, []) if self.is_sentinel(tok) else [tok])
        return torch.tensor(out, dtype=torch.long)

    def show(self, example: dict[str, Tensor], tokenizer: Tokenizer, *, row: int = 0) -> str:
        """The input and target of one row as text, sentinels written ``<extra_id_k>``."""

        def render(ids: Iterable[int]) -> str:
            text, run = "", []
            for tok in [*ids, None]:  # None flushes the last run
                if tok is not None and not self.is_sentinel(tok) and tok != self.eos_id:
                    run.append(tok)
                    continue
                for piece in (
                    tokenizer.decode(run),
                    _sentinel_name(tok, self.first_sentinel_id, self.eos_id),
                ):
                    glue = text and piece and not text[-1].isspace() and not piece[0].isspace()
                    text += (" " if glue and piece != "</s>" else "") + piece  # sentinels stand apart
                run = []
            return text

        x, y = example["input_ids"][row].tolist(), example["targets"][row].tolist()
        return f"span corruption, row {row}:\n  input:  {render(x)!r}\n  target: {render(y)!r}"


def _sentinel_name(token_id: int | None, first: int, eos_id: int | None) -> str:
    if token_id is None:
        return ""
    return "</s>" if token_id == eos_id else f"<extra_id_{first - token_id}>"


def _segments(n_items: int, n_segments: int, generator: torch.Generator | None) -> Tensor:
    """A uniformly random split of ``n_items`` into ``n_segments`` non-empty lengths (sum n_items):
    choose ``n_segments - 1`` of the ``n_items - 1`` gaps between items as cuts."""
    cuts = torch.randperm(n_items - 1, generator=generator)[: n_segments - 1].sort().values + 1  # (k - 1,)
    edges = torch.cat([torch.tensor([0]), cuts, torch.tensor([n_items])])  # (k + 1,)
    return edges.diff()  # (k,)


def _piece(tokenizer: Tokenizer, token_id: int) -> str:
    """One token, quoted so spaces and newlines show (special tokens by their name)."""
    try:
        text = tokenizer.decode([token_id]) or tokenizer.id_to_token(token_id)
    except (KeyError, IndexError, ValueError):
        return f"<id {token_id}>"
    return repr(text)


def _table(header: Sequence[str], rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns (position right-aligned), two spaces apart."""
    widths = [max(len(r[i]) for r in [tuple(header), *rows]) for i in range(len(header))]
    lines = []
    for r in [tuple(header), *rows]:
        cells = [r[0].rjust(widths[0])] + [c.ljust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)
