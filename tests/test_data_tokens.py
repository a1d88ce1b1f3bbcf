"""Token files, batches and packing: round trips against the tokenizer, exact resume of the
random batch stream, every evaluation window once, and one-line errors for bad input.

The real-data test builds the Shakespeare corpus with GPT-2's tokenizer and checks it against
tiktoken (the production twin) encoding the same documents directly.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from llmlab.data.batches import RandomWindows, SequentialBatches, document_mask, pack
from llmlab.data.tokens import TokenFile, tokenizer_fingerprint
from llmlab.errors import LLMLabError
from llmlab.nn.attention import scaled_dot_product_attention
from llmlab.tokenizers.chars import ByteTokenizer

EOT = 256
DOCS = [f"Document {i}: " + "lorem ipsum dolor sit amet " * (3 + i % 5) for i in range(20)]


@pytest.fixture
def tok() -> ByteTokenizer:
    return ByteTokenizer({"<|endoftext|>": EOT})


def expected_ids(docs: list[str], tok: ByteTokenizer, eot: int | None = EOT) -> list[int]:
    return [i for d in docs for i in tok.encode_ordinary(d) + ([eot] if eot is not None else [])]


# -- building and opening ---------------------------------------------------------------------
def test_build_round_trip_split_at_a_document_boundary(tok: ByteTokenizer, tmp_path: Path) -> None:
    tf = TokenFile.build(DOCS, tok, tmp_path / "tf", eot_id=EOT, progress=False)
    ids = expected_ids(DOCS, tok)
    assert np.concatenate([tf.train, tf.val]).tolist() == ids
    assert tf.train.dtype == np.dtype("<u2") and isinstance(tf.train, np.memmap)
    # raw little-endian uint16, nothing else in the file
    assert np.fromfile(tmp_path / "tf" / "train.bin", dtype="<u2").tolist() == ids[: len(tf.train)]
    assert tf.train[-1] == EOT  # the cut is right after a document's end-of-text id
    ends = np.cumsum([len(tok.encode_ordinary(d)) + 1 for d in DOCS])
    assert len(tf.train) in ends and abs(len(tf.val) / len(ids) - 0.1) < 0.03
    meta = json.loads((tmp_path / "tf" / "meta.json").read_text())
    assert meta["tokens"] == {"train": len(tf.train), "val": len(tf.val)}
    assert meta["documents"]["train"] + meta["documents"]["val"] == 20 and meta["dtype"] == "uint16"
    assert meta["tokenizer"] == {"name": "bytes", "fingerprint": tokenizer_fingerprint(tok)}
    assert sorted(p.name for p in (tmp_path / "tf").iterdir()) == ["meta.json", "train.bin", "val.bin"]


def test_build_is_deterministic(tok: ByteTokenizer, tmp_path: Path) -> None:
    a = TokenFile.build(DOCS, tok, tmp_path / "a", eot_id=EOT, progress=False)
    b = TokenFile.build(iter(DOCS), tok, tmp_path / "b", eot_id=EOT, progress=False)  # a generator too
    for name in ("train.bin", "val.bin"):
        assert (a.folder / name).read_bytes() == (b.folder / name).read_bytes()


def test_one_document_splits_at_a_token_position(tok: ByteTokenizer, tmp_path: Path) -> None:
    text = "".join(DOCS)
    tf = TokenFile.build([text], tok, tmp_path / "tf", val_fraction=0.25, progress=False)
    n = len(tok.encode_ordinary(text))
    assert len(tf.train) == round(0.75 * n) and len(tf.train) + len(tf.val) == n
    assert tf.meta["split_at"] == "position" and tf.eot_id is None


def test_build_from_a_file_and_a_folder(tok: ByteTokenizer, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, d in enumerate(DOCS[:6]):
        (corpus / f"{i:02d}.txt").write_text(d + "\nsecond line\n", encoding="utf-8")
    tf = TokenFile.build(corpus, tok, tmp_path / "dir", eot_id=EOT, progress=False)
    docs = [d + "\nsecond line\n" for d in DOCS[:6]]
    assert np.concatenate([tf.train, tf.val]).tolist() == expected_ids(docs, tok)
    one = TokenFile.build(str(corpus / "03.txt"), tok, tmp_path / "one", progress=False)
    assert np.concatenate([one.train, one.val]).tolist() == tok.encode_ordinary(docs[3])
    assert one.meta["source"] == str(corpus / "03.txt")


def test_a_large_vocabulary_gets_uint32(tmp_path: Path) -> None:
    big = ByteTokenizer({"<|endoftext|>": 70_000})  # vocab_size 70,001 > 65,536
    tf = TokenFile.build(DOCS, big, tmp_path / "tf", eot_id=70_000, progress=False)
    assert tf.meta["dtype"] == "uint32" and tf.train.dtype == np.dtype("<u4")
    assert np.concatenate([tf.train, tf.val]).tolist() == expected_ids(DOCS, big, 70_000)


def test_open_checks_the_tokenizer_and_the_model_vocab(tok: ByteTokenizer, tmp_path: Path) -> None:
    TokenFile.build(DOCS, tok, tmp_path / "tf", eot_id=EOT, progress=False)
    assert TokenFile.open(tmp_path / "tf", tokenizer=tok, vocab_size=512).vocab_size == 257
    with pytest.raises(
        LLMLabError, match="was built with tokenizer 'bytes'.*not with 'bytes' \\(vocab_size 258\\)"
    ):
        TokenFile.open(tmp_path / "tf", tokenizer=ByteTokenizer({"<|endoftext|>": EOT, "<pad>": 257}))
    with pytest.raises(LLMLabError, match="has vocab_size 257 but the model has 100 embedding rows"):
        TokenFile.open(tmp_path / "tf", vocab_size=100)


@pytest.mark.parametrize(
    ("docs", "message"),
    [([], "the corpus is empty: 0 documents"), (["", ""], "the corpus is empty: 0 documents from texts")],
)
def test_empty_corpus(tok: ByteTokenizer, tmp_path: Path, docs: list[str], message: str) -> None:
    with pytest.raises(LLMLabError, match=message):
        TokenFile.build(docs, tok, tmp_path / "tf", progress=False)
    assert list((tmp_path / "tf").iterdir()) == []  # the temporary file is gone


def test_corpus_too_small_for_the_context(tok: ByteTokenizer, tmp_path: Path) -> None:
    # 20 documents of ~100-200 bytes: the val split holds ~300 tokens
    with pytest.raises(LLMLabError, match=r"need at least seq_len \+ 1 tokens in each split, got \d+"):
        TokenFile.build(DOCS, tok, tmp_path / "tf", seq_len=1024, progress=False)
    TokenFile.build(DOCS, tok, tmp_path / "ok", progress=False)
    with pytest.raises(LLMLabError, match=r"val split of .* too small for seq_len=1000: .* got \d+"):
        TokenFile.open(tmp_path / "ok", seq_len=1000)
    with pytest.raises(LLMLabError, match="need at least seq_len \\+ 1 tokens in each split, got 10"):
        RandomWindows(np.arange(10), batch_size=2, seq_len=10)


def test_bad_arguments(tok: ByteTokenizer, tmp_path: Path) -> None:
    with pytest.raises(LLMLabError, match="val_fraction must be between 0 and 1"):
        TokenFile.build(DOCS, tok, tmp_path / "tf", val_fraction=1.0)
    with pytest.raises(LLMLabError, match="eot_id 50256 is not an id of bytes"):
        TokenFile.build(DOCS, tok, tmp_path / "tf", eot_id=50256)
    with pytest.raises(
        LLMLabError, match="no such corpus file or folder: .*nope.txt \\(to tokenize a text, pass"
    ):
        TokenFile.build(str(tmp_path / "nope.txt"), tok, tmp_path / "tf")


def test_missing_corrupt_and_mismatched_meta(tok: ByteTokenizer, tmp_path: Path) -> None:
    folder = tmp_path / "tf"
    with pytest.raises(LLMLabError, match="is not a token file: meta.json is missing"):
        TokenFile.open(folder)
    TokenFile.build(DOCS, tok, folder, progress=False)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text("{not json")
    with pytest.raises(LLMLabError, match="meta.json is corrupt .*; rebuild the token file"):
        TokenFile.open(folder)
    meta_path.write_text(json.dumps({**meta, "dtype": "uint32"}))
    with pytest.raises(LLMLabError, match="dtype uint32 does not match vocab_size 257 \\(expected uint16\\)"):
        TokenFile.open(folder)
    meta_path.write_text(json.dumps({**meta, "dtype": "float16"}))
    with pytest.raises(LLMLabError, match="unknown dtype 'float16'"):
        TokenFile.open(folder)
    meta_path.write_text(json.dumps(meta))
    with open(folder / "train.bin", "r+b") as f:
        f.truncate(10)
    with pytest.raises(
        LLMLabError, match="train.bin has 10 bytes, but meta.json says .* incomplete or corrupt"
    ):
        TokenFile.open(folder)


def test_a_failed_rebuild_leaves_no_valid_looking_folder(tok: ByteTokenizer, tmp_path: Path) -> None:
    TokenFile.build(DOCS, tok, tmp_path / "tf", progress=False)

    def docs():  # the tokenizer dies half-way (a bad document, Ctrl-C, ...)
        yield from DOCS[:5]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        TokenFile.build(docs(), tok, tmp_path / "tf", progress=False)
    assert not any(p.name.endswith(".part") for p in (tmp_path / "tf").iterdir())
    with pytest.raises(LLMLabError, match="meta.json is missing"):
        TokenFile.open(tmp_path / "tf")


# -- batches ----------------------------------------------------------------------------------
def test_random_windows_are_shifted_windows_of_the_stream() -> None:
    tokens = np.arange(50, dtype=np.uint16)  # id == position, so a window shows where it starts
    batches = RandomWindows(tokens, batch_size=8, seq_len=6, seed=0)
    starts = set()
    for _ in range(100):
        x, y = next(batches)
        assert x.shape == y.shape == (8, 6) and x.dtype == y.dtype == torch.long
        torch.testing.assert_close(x, x[:, :1] + torch.arange(6))  # consecutive ids
        torch.testing.assert_close(y, x + 1)  # the target is the next token
        starts.update(x[:, 0].tolist())
    assert starts == set(range(50 - 6))  # every start 0..n-seq_len-1, the last window included
    assert batches.step == 100


def test_resumed_random_windows_draw_the_same_batches(tmp_path: Path) -> None:
    tokens = np.random.default_rng(0).integers(0, 1000, 5000).astype(np.uint16)
    straight = RandomWindows(tokens, 4, 16, seed=7)
    reference = [next(straight) for _ in range(20)]

    first = RandomWindows(tokens, 4, 16, seed=7)
    for _ in range(8):
        next(first)
    torch.save(first.state_dict(), tmp_path / "data.pt")  # as a checkpoint would
    resumed = RandomWindows(tokens, 4, 16, seed=123)  # a different seed: the state must win
    resumed.load_state_dict(torch.load(tmp_path / "data.pt"))
    assert resumed.step == 8 and resumed.seed == 7
    for x_ref, y_ref in reference[8:]:
        x, y = next(resumed)
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
    with pytest.raises(LLMLabError, match="checkpoint has batch_size=4, this run has batch_size=8"):
        RandomWindows(tokens, 8, 16).load_state_dict(first.state_dict())


def test_sequential_batches_visit_every_window_once() -> None:
    tokens = np.arange(103)
    batches = SequentialBatches(tokens, batch_size=4, seq_len=10)
    got = list(batches)
    assert len(got) == len(batches) == 3 and [x.shape[0] for x, _ in got] == [4, 4, 2]
    xs = torch.cat([x for x, _ in got]).flatten()
    assert xs.tolist() == list(range(100))  # windows 0, 10, ..., 90, each once and in order
    assert torch.cat([y for _, y in got]).flatten().tolist() == list(range(1, 101))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(got, list(batches), strict=True))  # deterministic
    assert len(SequentialBatches(tokens, 4, 10, max_batches=2)) == 2


# -- packing ----------------------------------------------------------------------------------
def test_pack_rows_and_document_ids() -> None:
    docs = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]
    rows, doc_ids = pack(docs, seq_len=4, eot_id=0, return_document_ids=True)
    # stream: 1 2 3 0 | 4 5 0 6 | 7 8 9 0 | 10 0 (dropped: shorter than a row)
    assert rows.tolist() == [[1, 2, 3, 0], [4, 5, 0, 6], [7, 8, 9, 0]]
    assert doc_ids.tolist() == [[0, 0, 0, 0], [1, 1, 1, 2], [2, 2, 2, 2]]
    with pytest.raises(LLMLabError, match="too few tokens to pack: 3"):
        pack([[1, 2]], seq_len=4, eot_id=0)


def test_document_mask_equals_attending_within_each_document() -> None:
    torch.manual_seed(0)
    doc_ids = torch.tensor([[0, 0, 1, 1, 1, 2, 2, 2]])  # (1, T)
    q, k, v = (torch.randn(1, 2, 8, 4) for _ in range(3))  # (B, H, T, D)
    packed = scaled_dot_product_attention(q, k, v, mask=document_mask(doc_ids))
    for d in range(3):
        sel = (doc_ids[0] == d).nonzero().flatten()
        alone = scaled_dot_product_attention(q[:, :, sel], k[:, :, sel], v[:, :, sel], is_causal=True)
        torch.testing.assert_close(packed[:, :, sel], alone)


# -- the real corpus --------------------------------------------------------------------------
def test_real_shakespeare_with_gpt2(real_assets: Callable[..., list[Path]], tmp_path: Path) -> None:
    import tiktoken
    import tiktoken.load
    from tiktoken_ext import openai_public

    from llmlab import data
    from llmlab.tokenizers.pretrained import load_pretrained

    [ranks] = real_assets("gpt2-ranks", "shakespeare")[:1]
    docs = [d.text for d in data.load("shakespeare").split("all")]
    tok = load_pretrained("gpt2")
    start = time.perf_counter()
    tf = TokenFile.build(docs, tok, tmp_path / "tf", eot_id=50256, seq_len=1024, progress=False)
    print(f"built {len(tf.train) + len(tf.val):,} tokens in {time.perf_counter() - start:.2f} s")

    def read_local(blobpath: str, expected_hash: str | None = None) -> bytes:  # tiktoken's own loader
        raw = (ranks / "gpt2.tiktoken").read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tiktoken.load, "read_file_cached", read_local)
        spec = openai_public.ENCODING_CONSTRUCTORS["r50k_base"]()  # GPT-2's ranks, pattern and <|endoftext|>
    ref = tiktoken.Encoding(**spec)
    want = [i for ids in ref.encode_ordinary_batch(docs) for i in [*ids, ref.eot_token]]
    assert len(tf.train) + len(tf.val) == len(want)
    assert np.array_equal(np.concatenate([tf.train, tf.val]), np.asarray(want, dtype=np.uint16))
    assert tf.meta["dtype"] == "uint16" and tf.meta["documents"] == {"train": 38, "val": 4}
    assert abs(len(tf.val) / len(want) - 0.1) < 0.02
