"""Reading a llama.cpp GGUF file into our LLaMA: config from the metadata, weights by name map.

A GGUF file carries everything: ``llama.block_count``, ``llama.embedding_length`` and friends
give the config; tensors named ``blk.{i}.attn_q.weight`` and so on hold the (quantised)
weights, which :mod:`llmlab.formats.gguf_quants` dequantises to float32.

subtle: llama.cpp's converter stores the q and k projections with their rows permuted for the
*interleaved* RoPE pairing (channels 2i, 2i+1), while HF checkpoints use the half-split pairing
(channels i, i + D/2). Both are the same model. ``interleaved=False`` (the default) permutes the
rows back so that the result is an ordinary HF-layout LLaMA that ``save_pretrained`` can hand to
transformers; ``interleaved=True`` keeps the file's rows and builds the model with
``rope_interleaved=True`` instead. The two give the same logits (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llmlab.formats.gguf import GGUFFile, read_gguf
from llmlab.formats.gguf_quants import load_gguf_tensors
from llmlab.models.base import ModelError
from llmlab.models.hf.core import NameMap, Rule, from_hf, load_checked, reshaped, same
from llmlab.models.llama import Llama, LlamaConfig
from llmlab.nn.rope import interleaved_to_half


def config_from_gguf(gguf: GGUFFile) -> LlamaConfig:
    """A :class:`LlamaConfig` from the ``llama.*`` metadata keys."""
    meta = gguf.metadata
    arch = meta.get("general.architecture")
    if arch != "llama":
        raise ModelError(
            f"{gguf.path} holds a {arch!r} model; llmlab reads GGUF files of architecture 'llama'"
        )

    def key(name: str, default=None):
        value = meta.get(f"llama.{name}", default)
        if value is None:
            raise ModelError(f"{gguf.path} lacks the metadata key llama.{name}")
        return value

    names = {t.name for t in gguf.tensors}
    n_head = key("attention.head_count")
    d_model = key("embedding_length")
    vocab = meta.get("llama.vocab_size") or len(meta.get("tokenizer.ggml.tokens", []))
    return LlamaConfig(
        vocab_size=int(vocab),
        max_seq_len=int(key("context_length")),
        n_layer=int(key("block_count")),
        n_head=int(n_head),
        n_kv_head=int(key("attention.head_count_kv", n_head)),
        d_model=int(d_model),
        d_ff=int(key("feed_forward_length")),
        head_dim=int(key("rope.dimension_count", d_model // n_head)),
        # subtle: GGUF stores eps as float32 (9.9999997e-06); round to the value the model was trained with
        norm_eps=float(f"{key('attention.layer_norm_rms_epsilon'):.6g}"),
        rope_theta=float(key("rope.freq_base", 10000.0)),
        tie_embeddings="output.weight" not in names,
    )


def name_map(cfg: LlamaConfig, interleaved: bool) -> NameMap:
    """llama.cpp tensor names -> ours, permuting q/k rows unless the model keeps interleaved RoPE."""
    b, g = "blocks.{i}.", "blk.{i}."

    def qk(ours: str, theirs: str, n: int) -> Rule:
        if interleaved:
            return same(ours, theirs)
        return reshaped(ours, theirs, to_hf=lambda w: w, from_hf=lambda w: interleaved_to_half(w, n))

    rules = [
        same("tok_emb.weight", "token_embd.weight"),
        same(b + "attn_norm.weight", g + "attn_norm.weight"),
        qk(b + "attn.q.weight", g + "attn_q.weight", cfg.n_head),
        qk(b + "attn.k.weight", g + "attn_k.weight", cfg.n_kv_head),
        same(b + "attn.v.weight", g + "attn_v.weight"),
        same(b + "attn.o.weight", g + "attn_output.weight"),
        same(b + "mlp_norm.weight", g + "ffn_norm.weight"),
        same(b + "mlp.gate.weight", g + "ffn_gate.weight"),
        same(b + "mlp.up.weight", g + "ffn_up.weight"),
        same(b + "mlp.down.weight", g + "ffn_down.weight"),
        same("final_norm.weight", "output_norm.weight"),
    ]
    if not cfg.tie_embeddings:
        rules.append(same("head.weight", "output.weight"))
    return NameMap.build(rules, cfg.n_layer, ignore_hf=[r"rope_freqs\.weight"])


def load_llama_gguf(
    path: str | Path, *, interleaved: bool = False, progress: Callable[[int, int, str], None] | None = None
) -> Llama:
    """Our :class:`Llama` with the dequantised float32 weights of a GGUF file, in eval mode."""
    gguf = read_gguf(Path(path))
    cfg = config_from_gguf(gguf)
    cfg.rope_interleaved = interleaved
    tensors = load_gguf_tensors(gguf, progress=progress)
    model = Llama(cfg)
    load_checked(model, from_hf(tensors, name_map(cfg, interleaved)), what=f"weights of {Path(path).name}")
    return model.eval()
