"""Open and save SentencePiece ``.model`` files: the right tokenizer for the model type.

``load_sentencepiece("m.model")`` parses the file with our own protobuf reader
(:mod:`llmlab.tokenizers.formats.sentencepiece_model`) and returns a
:class:`~llmlab.tokenizers.unigram.UnigramTokenizer` or a
:class:`~llmlab.tokenizers.spm_bpe.SpmBpeTokenizer`, whose ids equal the ``sentencepiece``
library's. ``save_sentencepiece`` writes the model back; the ``sentencepiece`` library loads
what it writes, including Unigram models trained by
:func:`~llmlab.tokenizers.train_unigram.train_unigram`.
"""

from __future__ import annotations

from pathlib import Path

from llmlab.tokenizers.base import TokenizerFormatError
from llmlab.tokenizers.formats.sentencepiece_model import (
    ModelProto,
    ModelType,
    read_model_proto,
    write_model_proto,
)
from llmlab.tokenizers.spm_base import SpmTokenizer
from llmlab.tokenizers.spm_bpe import SpmBpeTokenizer
from llmlab.tokenizers.unigram import UnigramTokenizer


def tokenizer_from_model(model: ModelProto, path: str | Path = "<model>") -> SpmTokenizer:
    """The tokenizer for a parsed model, chosen by ``trainer_spec.model_type``."""
    kind = model.trainer_spec.model_type
    if kind == ModelType.UNIGRAM:
        return UnigramTokenizer(model, path=path)
    if kind == ModelType.BPE:
        return SpmBpeTokenizer(model, path=path)
    raise TokenizerFormatError(
        path,
        f"model_type {kind.name} is not supported (only UNIGRAM and BPE)",
        field="trainer_spec.model_type",
    )


def load_sentencepiece(path: str | Path) -> SpmTokenizer:
    """A tokenizer from a SentencePiece ``.model`` file (Unigram or BPE)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TokenizerFormatError(path, f"cannot read the file ({e.strerror})") from None
    return tokenizer_from_model(read_model_proto(data, path), path)


def save_sentencepiece(tokenizer: SpmTokenizer, path: str | Path) -> Path:
    """Write ``tokenizer``'s model as a ``.model`` file that ``sentencepiece`` can load."""
    path = Path(path)
    path.write_bytes(write_model_proto(tokenizer.model))
    return path


__all__ = ["load_sentencepiece", "save_sentencepiece", "tokenizer_from_model"]
