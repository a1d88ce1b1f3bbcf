"""GloVe: co-occurrence counts vs a brute-force loop, gradients vs autograd, AdaGrad, a falling loss."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
import torch

from llmlab.embeddings import glove as G
from llmlab.embeddings.train import train_glove
from llmlab.embeddings.vectors import WordVectors
from llmlab.embeddings.vocab import Vocabulary, sentences
from llmlab.errors import LLMLabError

TEXT = """The quick brown fox jumps over the lazy dog. The dog sleeps.

A fox and a dog are friends; the fox runs, the dog runs.

Over the hills the brown dog walks with the quick fox.
"""


def _brute_force(ids: np.ndarray, sentence: np.ndarray, window: int) -> dict[tuple[int, int], float]:
    """X[a, b] += 1/d for every pair at distance d <= window inside one sentence, both orders."""
    counts: dict[tuple[int, int], float] = defaultdict(float)
    for i in range(len(ids)):
        for j in range(i + 1, min(i + window + 1, len(ids))):
            if sentence[i] == sentence[j]:
                counts[ids[i], ids[j]] += 1 / (j - i)
                counts[ids[j], ids[i]] += 1 / (j - i)
    return counts


@pytest.mark.parametrize("window", [1, 3, 10])
def test_cooccurrence_equals_brute_force(window):
    sents = sentences(TEXT)
    vocab = Vocabulary.build(sents, min_count=1)
    ids, sentence = vocab.encode(sents)
    rows, cols, counts = G.cooccurrence(ids, sentence, len(vocab), window)
    expected = _brute_force(ids.tolist(), sentence.tolist(), window)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == list(
        zip(rows.tolist(), cols.tolist(), strict=True)
    )
    got = {(int(r), int(c)): float(x) for r, c, x in zip(rows, cols, counts, strict=True)}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12)


def test_cooccurrence_skips_rare_words_and_is_symmetric():
    vocab = Vocabulary.build([["a", "b", "a", "b", "x"]], min_count=2)
    ids, sentence = vocab.encode([["a", "x", "b"]])  # x is dropped first, so a and b are neighbours
    rows, cols, counts = G.cooccurrence(ids, sentence, len(vocab), window=1)
    assert sorted(zip(rows.tolist(), cols.tolist(), counts.tolist(), strict=True)) == [
        (0, 1, 1.0),
        (1, 0, 1.0),
    ]


def test_gradients_equal_autograd():
    g = torch.Generator().manual_seed(0)
    V, D, B = 12, 5, 40
    W, W_ctx = torch.randn(V, D, generator=g), torch.randn(V, D, generator=g)
    b, b_ctx = torch.randn(V, generator=g), torch.randn(V, generator=g)
    rows, cols = torch.randint(0, V, (B,), generator=g), torch.randint(0, V, (B,), generator=g)
    x = torch.rand(B, generator=g) * 200 + 0.1
    f = torch.clamp((x / 100) ** 0.75, max=1.0)
    leaves = [t.clone().requires_grad_() for t in (W, W_ctx, b, b_ctx)]
    lw, lc, lb, lbc = leaves
    diff = (lw[rows] * lc[cols]).sum(1) + lb[rows] + lbc[cols] - torch.log(x)
    expected = 0.5 * (f * diff**2).sum()  # J / 2: the factor 2 of the paper's gradient is folded in
    expected.backward()
    loss, dw, dw_ctx, db = G.glove_loss_and_grads(W, W_ctx, b, b_ctx, rows, cols, torch.log(x), f)
    torch.testing.assert_close(loss, expected.detach())
    for leaf, idx, grad in ((lw, rows, dw), (lc, cols, dw_ctx), (lb, rows, db), (lbc, cols, db)):
        summed = torch.zeros_like(leaf).index_add_(0, idx, grad)  # a repeated row gets the sum
        torch.testing.assert_close(summed, leaf.grad)


def test_adagrad_rows_matches_the_formula():
    param, gradsq = torch.ones(4, 2), torch.ones(4, 2)
    idx = torch.tensor([2, 0, 2])
    grad = torch.tensor([[1.0, 2.0], [3.0, 4.0], [1.0, 0.0]])
    G.adagrad_rows(param, gradsq, idx, grad, lr=0.5)
    step = 0.5 * torch.tensor([[3.0, 4.0], [0.0, 0.0], [2.0, 2.0], [0.0, 0.0]])  # row 2: the sum of two
    torch.testing.assert_close(param, 1 - step / 1.0)  # G starts at 1: the first step is lr * grad
    torch.testing.assert_close(gradsq, 1 + step**2)


def test_loss_falls_and_run_folder(tmp_path):
    (tmp_path / "t.txt").write_text(TEXT * 20, encoding="utf-8")
    cfg = G.GloVeConfig(dim=8, window=4, min_count=1, epochs=6, batch_size=16, seed=2)
    wv = train_glove(str(tmp_path / "t.txt"), cfg, out_dir=tmp_path / "run", progress=False,
                     snapshot_every=100, snapshot_words=4, epoch_checkpoints=True)  # fmt: skip
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    epoch_loss = json.loads(rows[-1])["epoch_loss"]
    assert epoch_loss[-1] < 0.5 * epoch_loss[0] and all(np.diff(epoch_loss) < 0)
    saved = WordVectors.load(tmp_path / "run" / "vectors.safetensors")
    np.testing.assert_array_equal(saved.vectors, wv.vectors)
    assert saved.words[:2] == ["the", "dog"]
    assert len(list((tmp_path / "run" / "snapshots").glob("*.safetensors"))) >= 3
    assert len(list((tmp_path / "run" / "epochs").glob("*.safetensors"))) == 6
    again = train_glove(str(tmp_path / "t.txt"), cfg, progress=False)
    np.testing.assert_array_equal(again.vectors, wv.vectors)  # seeded: the same vectors


def test_bad_input_messages(tmp_path):
    with pytest.raises(LLMLabError, match="x_max and lr must be positive"):
        G.GloVeConfig(x_max=0)
    (tmp_path / "tiny.txt").write_text("one two one", encoding="utf-8")
    with pytest.raises(
        LLMLabError, match="a vocabulary of 2 words is too small for window 10: it needs at least 11"
    ):
        train_glove(str(tmp_path / "tiny.txt"), G.GloVeConfig(min_count=1), progress=False)
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(LLMLabError, match="the corpus is empty"):
        train_glove(str(tmp_path / "empty.txt"), progress=False)


def test_epoch_end_comes_after_every_batch_of_the_epoch_with_two_workers():
    """With two workers the batch that ends an epoch's order may finish before others: the epoch's
    end (and its checkpoint) waits for all of them."""
    words = sentences(TEXT * 5)
    vocab = Vocabulary.build(words, 1)
    ids, sentence = vocab.encode(words)
    rows, cols, counts = G.cooccurrence(ids, sentence, len(vocab), 4)
    cfg = G.GloVeConfig(dim=8, window=4, min_count=1, epochs=3, batch_size=8, workers=2, seed=2)
    done, at_end = defaultdict(int), []

    def on_batch(epoch: int, _: int, loss: float, n: int) -> None:
        done[epoch] += n

    G.GloVe(vocab, cfg).train(rows, cols, counts, on_batch, lambda epoch: at_end.append((epoch, done[epoch])))
    assert len(counts) > 8 and at_end == [(epoch, len(counts)) for epoch in range(3)]
