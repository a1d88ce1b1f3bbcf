"""The model zoo: one file per family, each reading top to bottom.

``gpt2`` (decoder, learned positions, LayerNorm, GELU), ``llama`` (decoder, RoPE, RMSNorm,
SwiGLU, grouped-query attention), ``bert`` (encoder, masked-LM and classification heads), ``t5``
(encoder-decoder, relative position buckets) and ``rnn`` (RNN, LSTM and GRU language models).
``registry`` names them for the CLI; :mod:`llmlab.models.hf` converts to and from the
Hugging Face layout; ``pretrained`` loads the real weights that ship as assets.
"""
