"""GloVe: word vectors fitted to the logarithm of global co-occurrence counts.

The other road from :mod:`~llmlab.embeddings.vocab` to word vectors. word2vec streams over the
text and nudges vectors one window at a time; GloVe (Pennington, Socher and Manning 2014, "GloVe:
Global Vectors for Word Representation") first counts, once, how often each pair of words occurs
near each other, then fits vectors to those counts:

1. **Co-occurrence counts** X (V x V, sparse). For every pair of words at distance d <= window in
   the same sentence, X[a, b] += 1/d and X[b, a] += 1/d (symmetric, near words weigh more; the
   reference ``cooccur.c`` does the same). Built with numpy: for each d, the keys ``a * V + b`` of
   all pairs at that distance, summed by ``np.unique`` + ``np.bincount``.
2. **Weighted least squares** over the nonzero entries (eq. 8 of the paper)::

       J = sum_{ij} f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2
       f(x) = min(1, (x / x_max)^alpha),  x_max = 100, alpha = 0.75

   f gives rare pairs (noisy counts) a small weight and caps frequent ones ("of the").
   The gradients, with diff = w_i . w~_j + b_i + b~_j - log X_ij::

       dJ/dw_i = f diff w~_j     dJ/dw~_j = f diff w_i     dJ/db_i = dJ/db~_j = f diff

   (the factor 2 is folded into the learning rate, as in ``glove.c``).
3. **AdaGrad**, as in the reference ``glove.c``: every parameter keeps the running sum G of its
   squared steps, starting at 1, and moves by ``step / sqrt(G)`` with ``step = lr * grad``, then
   ``G += step^2``. Parameters that were updated a lot take smaller steps; rare words keep large
   ones. Only the rows in the batch are read and written (``torch.unique`` + ``index_add_``).
4. **The result is W + W~**: the word and context vectors are two fits of the same thing, and
   their sum is a little better than either (section 4.2 of the paper).

``tests/test_emb_glove.py`` checks the counts against a brute-force loop, the gradient against
autograd, and that the loss falls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from llmlab.embeddings.vocab import Vocabulary
from llmlab.embeddings.word2vec import hogwild
from llmlab.errors import LLMLabError


@dataclass
class GloVeConfig:
    """Settings of a GloVe run; x_max, alpha and lr are the paper's, window 10 as in its experiments."""

    dim: int = 100  # D, the length of each word vector
    window: int = 10  # largest distance between two co-occurring words
    min_count: int = 5  # words seen fewer times are dropped
    x_max: float = 100.0  # counts above this get full weight in f(x)
    alpha: float = 0.75  # exponent of the weighting function f
    epochs: int = 15  # passes over the nonzero counts
    lr: float = 0.05  # AdaGrad's initial learning rate
    batch_size: int = 8192  # nonzero counts per AdaGrad step
    workers: int = 1  # threads fitting different batches at once (1: exactly reproducible)
    seed: int = 1  # initial vectors and the order of the counts follow it

    def __post_init__(self) -> None:
        for name in ("dim", "window", "epochs", "batch_size", "min_count", "workers"):
            if getattr(self, name) < 1:
                raise LLMLabError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.x_max <= 0 or self.lr <= 0:
            raise LLMLabError(f"x_max and lr must be positive, got {self.x_max} and {self.lr}")


def cooccurrence(
    ids: np.ndarray, sentence: np.ndarray, vocab_size: int, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzero entries of X: ``rows`` (nnz,) int64, ``cols`` (nnz,) int64, ``counts`` (nnz,) float64.

    ``ids`` (N,) word ids, ``sentence`` (N,) sentence numbers (pairs never cross a sentence end).
    Entries are sorted by (row, col); X is symmetric.
    """
    V = vocab_size
    keys, weights = [], []
    for d in range(1, window + 1):
        same = sentence[:-d] == sentence[d:]  # (N-d,) pairs (i, i+d) inside one sentence
        a, b = ids[:-d][same].astype(np.int64), ids[d:][same].astype(np.int64)
        pair_keys = np.concatenate([a * V + b, b * V + a])  # both orders: X is symmetric
        uniq, inverse = np.unique(pair_keys, return_inverse=True)  # sum within this distance first
        keys.append(uniq)
        weights.append(np.bincount(inverse, minlength=len(uniq)) / d)  # each occurrence weighs 1/d
    uniq, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate(weights), minlength=len(uniq))
    return uniq // V, uniq % V, counts


def glove_loss_and_grads(
    W: torch.Tensor, W_ctx: torch.Tensor, b: torch.Tensor, b_ctx: torch.Tensor,
    rows: torch.Tensor, cols: torch.Tensor, log_x: torch.Tensor, f: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """The batch's loss ``sum 1/2 f diff^2`` and the gradients of the gathered rows.

    Returns (loss, dw (B, D), dw_ctx (B, D), db (B,)); db is also the gradient of b_ctx.
    """
    w, w_ctx = W[rows], W_ctx[cols]  # (B, D) each
    diff = (w * w_ctx).sum(1) + b[rows] + b_ctx[cols] - log_x  # (B,)
    fdiff = f * diff  # (B,)
    loss = 0.5 * (fdiff * diff).sum()
    return loss, fdiff[:, None] * w_ctx, fdiff[:, None] * w, fdiff


def adagrad_rows(
    param: torch.Tensor, gradsq: torch.Tensor, idx: torch.Tensor, grad: torch.Tensor, lr: float
) -> None:
    """AdaGrad on the rows ``idx`` of ``param`` only (glove.c's order: step, then accumulate).

    A row that appears several times in the batch gets the sum of its gradients, in one step.
    """
    rows, inverse = torch.unique(idx, return_inverse=True)  # (U,), (B,)
    summed = torch.zeros((len(rows), *param.shape[1:])).index_add_(0, inverse, grad)  # (U, ...)
    step = lr * summed
    param[rows] -= step / gradsq[rows].sqrt()
    gradsq[rows] += step * step


class GloVe:
    """The word and context tables with their biases: ``GloVe(vocab, cfg).train(ids, sentence)``."""

    def __init__(self, vocab: Vocabulary, cfg: GloVeConfig):
        vocab.check_size(cfg.window)
        self.vocab, self.cfg = vocab, cfg
        V, D = len(vocab), cfg.dim
        g = torch.Generator().manual_seed(cfg.seed)
        # uniform in [-0.5/D, 0.5/D), biases too, as glove.c
        self.W = (torch.rand(V, D, generator=g) - 0.5) / D  # (V, D) word vectors
        self.W_ctx = (torch.rand(V, D, generator=g) - 0.5) / D  # (V, D) context vectors
        self.b = (torch.rand(V, generator=g) - 0.5) / D  # (V,)
        self.b_ctx = (torch.rand(V, generator=g) - 0.5) / D  # (V,)
        self.gradsq = [torch.ones(V, D), torch.ones(V, D), torch.ones(V), torch.ones(V)]  # G starts at 1
        self.rng = np.random.default_rng(cfg.seed)

    def vectors(self) -> np.ndarray:
        """W + W~, (V, D) float32: the vectors GloVe hands out."""
        return (self.W + self.W_ctx).numpy()

    def train(
        self, rows: np.ndarray, cols: np.ndarray, counts: np.ndarray,
        callback: Callable[[int, int, float, int], None] | None = None,
        on_epoch_end: Callable[[int], None] | None = None,
    ) -> list[float]:  # fmt: skip
        """All epochs over the nonzero counts, shuffled each epoch; returns the mean loss per epoch.

        ``callback(epoch, entries_done_in_epoch, batch_loss_sum, batch_entries)`` runs after every
        batch; ``on_epoch_end(epoch)`` once every batch of the epoch is done (with several workers
        the batch ending the epoch's order is not always the last to finish).
        """
        cfg = self.cfg
        rows_t, cols_t = torch.from_numpy(rows.astype(np.int64)), torch.from_numpy(cols.astype(np.int64))
        log_x = torch.from_numpy(np.log(counts).astype(np.float32))  # (nnz,)
        f = torch.from_numpy(np.minimum(1.0, (counts / cfg.x_max) ** cfg.alpha).astype(np.float32))  # (nnz,)
        params = [self.W, self.W_ctx, self.b, self.b_ctx]
        lock = threading.Lock()

        def step(epoch: int, sel: torch.Tensor, done: int) -> float:
            r, c = rows_t[sel], cols_t[sel]
            loss, dw, dw_ctx, db = glove_loss_and_grads(*params, r, c, log_x[sel], f[sel])
            updates = zip(params, self.gradsq, (r, c, r, c), (dw, dw_ctx, db, db), strict=True)
            for p, gsq, idx, grad in updates:  # db is the gradient of both biases
                adagrad_rows(p, gsq, idx, grad, cfg.lr)
            if callback is not None:
                with lock:
                    callback(epoch, done, float(loss), len(sel))
            return float(loss)

        history = []
        with hogwild(cfg.workers) as pool:  # the same lock-free threads as word2vec (and glove.c)
            for epoch in range(cfg.epochs):
                order = torch.from_numpy(self.rng.permutation(len(rows)))
                starts = range(0, len(order), cfg.batch_size)
                batches = [
                    (epoch, order[s : s + cfg.batch_size], min(s + cfg.batch_size, len(order)))
                    for s in starts
                ]
                history.append(sum(pool.map(lambda job: step(*job), batches)) / len(rows))
                if on_epoch_end is not None:
                    on_epoch_end(epoch)
        return history
