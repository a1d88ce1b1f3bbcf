"""Contextual embeddings: one vector per token *in its sentence*, read from every layer of a transformer.

Unlike a static table (GloVe, word2vec: :mod:`llmlab.embeddings.vectors`), where "bank" has one
row whatever the sentence, a transformer rewrites each token's vector at every layer with what
attention gathered from the other tokens. So the "bank" of a river and the "bank" of money start
from the same vector and drift apart as the layers go up. ``hidden_states`` of our models give
the vectors after each layer (the list starts with the embedding layer's output)::

    h_0 = embed(ids)                               (T, C)   before any attention
    h_l = block_l(h_{l-1}),  l = 1 .. n_layer      (T, C)   each token sees the others

Two encoders, both our own code with real weights:

- ``minilm``: our BERT with all-MiniLM-L6-v2 weights (6 layers, C = 384). It reads the whole
  sentence in both directions. Its layer 0 is token + *position* + segment embeddings after a
  LayerNorm, so the same word at two positions already differs a little there.
- ``smollm2``: our LLaMA with SmolLM2-135M-Instruct weights (30 layers, C = 576). A decoder sees
  only the tokens *before* each position, so the words that decide the sense must come before
  "bank". Its layer 0 is the bare token embedding: the same id gives the same vector.

A word that the tokenizer splits into pieces is represented by the mean of its pieces' vectors.
(Ethayarajh, "How Contextual are Contextualized Word Representations?", EMNLP 2019.)
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmlab.errors import LLMLabError
from llmlab.models.bert import Bert
from llmlab.tokenizers.base import Tokenizer

MODELS = ("minilm", "smollm2")
# the sense-deciding words come *before* "bank", so a left-to-right decoder can see them too
BANK_PAIR = (
    "We walked along the river and sat on the grassy bank to watch the water.",
    "I needed cash, so I went to the bank to withdraw money from my account.",
)
BANK_SENTENCES = (
    *BANK_PAIR,
    "The fisherman waded through the stream and climbed up the muddy bank.",
    "Heavy rain made the river overflow and flood its bank.",
    "She asked about the interest rate on a loan at the bank.",
    "After payday he deposited his salary at the bank.",
)


@dataclass
class TokenStates:
    """Every layer's vector for every token of one text."""

    text: str
    tokens: list[str]  # the token strings, as the tokenizer spells them
    ids: list[int]
    offsets: list[tuple[int, int]]  # character span of each token in ``text`` ((0, 0) for [CLS]/[SEP])
    layers: Tensor  # (n_layer + 1, T, C): layer 0 = embeddings, then the output of each block

    def word_vectors(self, word: str, occurrence: int = 0) -> Tensor:
        """(n_layer + 1, C): the mean over the tokens that cover ``word`` (whole word, any case)."""
        found = [m.span() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", self.text, re.IGNORECASE)]
        if len(found) <= occurrence:
            raise LLMLabError(f"{word!r} does not occur in {self.text!r}" if not found else
                              f"{word!r} occurs only {len(found)} time(s) in {self.text!r}")  # fmt: skip
        start, end = found[occurrence]
        rows = [i for i, (s, e) in enumerate(self.offsets) if s < end and e > start]
        return self.layers[:, rows].mean(dim=1)  # (n_layer + 1, C)


class ContextualEncoder:
    """A transformer and its tokenizer: text -> :class:`TokenStates` with all hidden states."""

    def __init__(self, name: str, model: nn.Module, tokenizer: Tokenizer) -> None:
        self.name = name
        self.model = model.eval()
        self.tokenizer = tokenizer
        # the bank demo asks for the same sentences several times (compare_word, then
        # token_neighbours for each of two words): run the model once per text
        self.states = functools.lru_cache(maxsize=64)(self.states)

    @torch.inference_mode()
    def states(self, text: str) -> TokenStates:
        """Tokenize ``text`` (BERT adds [CLS] and [SEP]), run the model once, keep every layer.

        The last 64 texts' states are kept and handed out again: treat them as read-only.
        """
        spans = self.tokenizer.encode_with_offsets(text)  # [(id, start, end)]
        ids = [i for i, _, _ in spans]
        offsets = [(s, e) for _, s, e in spans]
        if not ids:
            raise LLMLabError("the text has no tokens")
        if isinstance(self.model, Bert):  # an encoder is trained on "[CLS] text [SEP]"
            cls, sep = self.tokenizer.special_tokens["[CLS]"], self.tokenizer.special_tokens["[SEP]"]
            ids, offsets = [cls, *ids, sep], [(0, 0), *offsets, (0, 0)]
        out = self.model(torch.tensor([ids]), output_hidden_states=True)
        layers = torch.stack([h[0] for h in out.hidden_states]).float()  # (n_layer + 1, T, C)
        tokens = [self.tokenizer.id_to_token(i) for i in ids]
        return TokenStates(text, tokens, ids, offsets, layers)


@functools.cache
def load_encoder(name: str = "minilm") -> ContextualEncoder:
    """Our BERT with MiniLM weights (``minilm``) or our LLaMA with SmolLM2 weights (``smollm2``); cached."""
    if name == "minilm":
        from llmlab.models.sentence import load_minilm

        model, tokenizer = load_minilm()
        return ContextualEncoder(name, model, tokenizer)
    if name == "smollm2":
        from llmlab.models import registry
        from llmlab.tokenizers.pretrained import load_pretrained

        return ContextualEncoder(name, registry.load("smollm2-135m-instruct"), load_pretrained("smollm2"))
    raise LLMLabError(f"unknown contextual model {name!r}; choose one of: {', '.join(MODELS)}")


def compare_word(encoder: ContextualEncoder, text_a: str, text_b: str, word: str) -> list[float]:
    """Cosine between ``word`` in ``text_a`` and in ``text_b``, at every layer (n_layer + 1 values)."""
    a = encoder.states(text_a).word_vectors(word)  # (L + 1, C)
    b = encoder.states(text_b).word_vectors(word)  # (L + 1, C)
    return F.cosine_similarity(a, b, dim=-1).tolist()


@dataclass
class Neighbour:
    token: str
    sentence: int  # index into the sentences given
    similarity: float


def token_neighbours(
    encoder: ContextualEncoder,
    sentences: list[str] | tuple[str, ...],
    word: str,
    sentence: int = 0,
    layer: int = -1,
    topn: int = 5,
) -> list[Neighbour]:
    """The tokens (of *other* sentences) whose vectors at ``layer`` are closest to ``word`` in ``sentences[sentence]``.

    With contextual vectors, the "bank" of a river sentence finds the banks of the other river
    sentences first; with a static table every "bank" would tie at cosine 1.
    """
    all_states = [encoder.states(s) for s in sentences]
    query = all_states[sentence].word_vectors(word)[layer]  # (C,)
    found = []
    for k, st in enumerate(all_states):
        if k == sentence:
            continue
        real = [i for i, (s, e) in enumerate(st.offsets) if e > s]  # skip [CLS] / [SEP]
        sims = F.cosine_similarity(st.layers[layer, real], query[None], dim=-1)  # (T',)
        found += [Neighbour(st.tokens[i], k, float(c)) for i, c in zip(real, sims.tolist(), strict=True)]
    return sorted(found, key=lambda n: -n.similarity)[:topn]
