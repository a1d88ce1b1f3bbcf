"""Building blocks shared by the model families, one idea per file.

``attention`` (scaled dot-product attention written out, masks), ``multihead`` (multi-head,
grouped-query and multi-query attention), ``kv_cache``, ``positions`` (sinusoidal and learned),
``rope``, ``alibi``, ``norms`` (LayerNorm, RMSNorm), ``dropout``, ``feedforward`` (GELU MLP,
SwiGLU), ``moe`` (mixture of experts) and ``recurrent`` (RNN, LSTM and GRU cells). The families in
:mod:`llmlab.models` compose them; each block is tested against PyTorch or transformers.
"""
