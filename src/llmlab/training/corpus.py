"""From a corpus name to a token file, once: the glue between ``llmlab.data`` and the trainer.

``prepare_tokens("shakespeare", tokenizer, root)`` reads the corpus's documents (its train and
validation splits; the test split stays unseen), tokenizes them into a :class:`TokenFile` under
``root/<corpus>-<tokenizer>-<fingerprint>`` and reuses that folder next time, because the
fingerprint changes whenever the tokenizer would give different ids. It also returns the corpus's
bytes per token, which turns a loss in nats per token into bits per byte, the unit that compares
models with different tokenizers.
"""

from __future__ import annotations

from pathlib import Path

from llmlab import data
from llmlab.data.tokens import TokenFile, tokenizer_fingerprint
from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import Tokenizer

QUICKSTART_VOCAB = 4096  # the quickstart's tokenizer: byte-level BPE, 4,096 ids with <|endoftext|>


def corpus_documents(corpus: str, splits: tuple[str, ...] = ("train", "validation")) -> list[str]:
    """The documents of a text file, a folder of ``.txt`` files, or a corpus dataset's ``splits``."""
    path = Path(corpus).expanduser()
    if path.is_file():
        return [path.read_text(encoding="utf-8")]
    if path.is_dir():
        docs = [p.read_text(encoding="utf-8") for p in sorted(path.rglob("*.txt"))]
        if not docs:
            raise LLMLabError(f"{path} holds no .txt files to train on")
        return docs
    ds = data.load(corpus)
    return [d.text for split in splits for d in ds.split(split)]


def prepare_tokens(
    corpus: str, tokenizer: Tokenizer, root: Path, *, seq_len: int, eot_id: int | None = None
) -> tuple[TokenFile, float]:
    """The token file for ``corpus`` under ``tokenizer`` (built once, then reused) and its bytes per token."""
    docs = corpus_documents(corpus)
    n_bytes = sum(len(d.encode("utf-8")) for d in docs)
    if n_bytes == 0:
        raise LLMLabError(f"corpus {corpus!r} is empty: there is nothing to train on")
    name = Path(corpus).name if Path(corpus).exists() else corpus
    folder = root / f"{name}-{tokenizer.name}-{tokenizer_fingerprint(tokenizer)[:12]}"
    try:
        tokens = TokenFile.open(folder, tokenizer=tokenizer, seq_len=seq_len)
    except LLMLabError:  # not built yet (or built by another tokenizer): build it now
        tokens = TokenFile.build(docs, tokenizer, folder, eot_id=eot_id, seq_len=seq_len, source=corpus)
    n_tokens = len(tokens.train) + len(tokens.val)
    return tokens, n_bytes / n_tokens


def quickstart_tokenizer(corpus: str) -> Tokenizer:
    """The quickstart's recipe: a byte-level BPE of 4,096 ids with ``<|endoftext|>``, learned from
    the corpus's training split (from all of a text file or folder, which have no split)."""
    from llmlab.tokenizers.bpe_fast import train_bpe_fast

    path = Path(corpus).expanduser()
    texts = corpus_documents(corpus) if path.exists() else [d.text for d in data.load(corpus).split("train")]
    name = f"{path.name if path.exists() else corpus}-bpe-4k"  # "shakespeare-bpe-4k"
    return train_bpe_fast(texts, QUICKSTART_VOCAB, special_tokens=["<|endoftext|>"], name=name)
