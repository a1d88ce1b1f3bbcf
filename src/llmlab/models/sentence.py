"""Sentence embeddings: one vector per text from a BERT encoder, as sentence-transformers makes them.

A BERT encoder gives one vector per *token*. To compare whole sentences (search, clustering,
deduplication) we need one vector per *sentence*, and all-MiniLM-L6-v2 (Reimers & Gurevych,
"Sentence-BERT", 2019; trained contrastively on 1B sentence pairs) was trained to make it the
**mean of its token vectors**, then scaled to length 1::

    ids, mask = WordPiece("[CLS] text [SEP]"), cut at 256 tokens       (B, T), (B, T)
    h = Bert(ids, attention_mask=mask).logits                          (B, T, C)
    e = sum_t mask[t] * h[t] / sum_t mask[t]      mean over real tokens (B, C)
    e = e / ||e||                                 so cosine similarity = dot product

The recipe is read from the model folder, as sentence-transformers reads it: ``modules.json``
lists the pipeline (Transformer -> Pooling -> Normalize), ``1_Pooling/config.json`` picks mean
pooling, ``sentence_bert_config.json`` sets ``max_seq_length`` (256: longer texts are
*truncated*, silently, as in sentence-transformers). Padding must stay out of the mean: a pad
token's hidden state is not zero, so the mask weights the sum and counts the tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab import assets
from llmlab.models.base import ModelError
from llmlab.models.bert import Bert
from llmlab.models.hf import from_pretrained
from llmlab.tokenizers.wordpiece import WordPieceTokenizer

ASSET = "all-minilm-l6-v2"


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Average of ``hidden`` (B, T, C) over the positions where ``attention_mask`` (B, T) is 1 -> (B, C)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    total = (hidden * mask).sum(dim=1)  # (B, C)
    count = mask.sum(dim=1).clamp(min=1e-9)  # (B, 1); the clamp only matters for an all-pad row
    return total / count


def load_minilm(folder: str | Path | None = None) -> tuple[Bert, WordPieceTokenizer]:
    """all-MiniLM-L6-v2 as our :class:`Bert` (eval mode) and our WordPiece tokenizer.

    ``folder`` defaults to the ``all-minilm-l6-v2`` asset (pulled on first use unless offline).
    """
    folder = Path(folder) if folder is not None else assets.require(ASSET)
    # config.json says model_type "bert", architecture BertModel; model.safetensors holds HF
    # BertModel names (no "bert." prefix) plus the position_ids buffer, which the adapter skips
    model = from_pretrained(folder, architecture="BertModel")
    # the tokenizer: tokenizer.json holds the vocabulary and the lowercasing normaliser
    tokenizer = WordPieceTokenizer.from_tokenizer_json(folder / "tokenizer.json")
    return model.eval(), tokenizer


class SentenceEncoder:
    """Texts -> unit-length sentence vectors: tokenize, encode, mean-pool, L2-normalise."""

    def __init__(self, model: Bert, tokenizer: WordPieceTokenizer, *, max_seq_len: int = 256) -> None:
        if max_seq_len > model.config.max_seq_len:
            raise ModelError(f"max_seq_len={max_seq_len} exceeds the model's {model.config.max_seq_len}")
        self.model = model
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len  # longer texts are truncated to this many tokens

    @classmethod
    def from_folder(cls, folder: str | Path | None = None) -> SentenceEncoder:
        """A sentence-transformers folder (default: the all-MiniLM-L6-v2 asset), checked to be
        Transformer -> mean Pooling -> Normalize, the only pipeline this class computes."""
        folder = Path(folder) if folder is not None else assets.require(ASSET)
        modules = [m["type"].rsplit(".", 1)[-1] for m in _read_json(folder / "modules.json")]
        if modules != ["Transformer", "Pooling", "Normalize"]:
            raise ModelError(f"{folder}: expected modules Transformer, Pooling, Normalize, found {modules}")
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        # the legacy layout has one boolean per mode ("pooling_mode_mean_tokens": true), the new one a name
        modes = pooling.get("pooling_mode") or [
            k for k, v in pooling.items() if k.startswith("pooling_mode_") and v
        ]
        if modes not in ("mean", ["mean"], ["pooling_mode_mean_tokens"]):
            raise ModelError(
                f"{folder}: only mean pooling is supported, 1_Pooling/config.json asks for {modes}"
            )
        max_seq_len = _read_json(folder / "sentence_bert_config.json").get("max_seq_length", 256)
        model, tokenizer = load_minilm(folder)
        return cls(model, tokenizer, max_seq_len=max_seq_len)

    def tokenize(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """Ids and attention mask (B, T) for a batch, each cut to ``max_seq_len``, padded to the longest."""
        # subtle: like HF's tokenizer call, "[MASK]" or "[SEP]" written in a text is the special token
        rows = [
            self.tokenizer.encode_for_model(t, max_length=self.max_seq_len, allowed_special="all").ids
            for t in texts
        ]
        T = max(len(r) for r in rows)
        pad = self.tokenizer.special_tokens["[PAD]"]
        ids = torch.tensor([r + [pad] * (T - len(r)) for r in rows])  # (B, T)
        mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows])  # (B, T)
        return ids, mask

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 32, normalize: bool = True) -> Tensor:
        """One (C,) vector per text, in the order given -> (N, C); unit length when ``normalize``."""
        if isinstance(texts, str):
            raise ModelError("encode takes a list of texts; wrap a single text in a list")
        if not texts:
            return torch.zeros(0, self.model.config.d_model)
        device = next(self.model.parameters()).device
        # batch texts of similar length together (longest first) so little compute goes to padding
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = torch.empty(len(texts), self.model.config.d_model)
        for start in range(0, len(texts), batch_size):
            chosen = order[start : start + batch_size]
            ids, mask = self.tokenize([texts[i] for i in chosen])
            ids, mask = ids.to(device), mask.to(device)
            hidden = self.model(ids, attention_mask=mask).logits  # (B, T, C): the last hidden state
            emb = mean_pool(hidden, mask)  # (B, C)
            if normalize:
                emb = F.normalize(emb, p=2, dim=-1)
            out[chosen] = emb.float().cpu()
        return out


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelError(f"{path} is missing: not a sentence-transformers model folder?")
    return json.loads(path.read_text(encoding="utf-8"))
