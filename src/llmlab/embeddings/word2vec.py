"""word2vec: skip-gram and CBOW with negative sampling, written out in PyTorch and fast.

The step after :mod:`~llmlab.embeddings.vocab` (words -> ids): learn one vector per word so
that words used in the same contexts get similar vectors (Mikolov et al. 2013, "Efficient
Estimation of Word Representations in Vector Space" and "Distributed Representations of Words
and Phrases and their Compositionality"). Two matrices, both (V, D):

- ``W_in``: the word vectors we keep at the end (gensim's ``wv.vectors``, the C code's syn0),
  initialised uniform in [-1/D, 1/D) exactly as gensim does (word2vec.c: [-0.5/D, 0.5/D));
- ``W_out``: the "output" vectors that score a (word, context) match (syn1neg), initialised to 0.

**Negative sampling.** For a true pair (input x, target t) and k negatives n_1..n_k drawn from the
unigram^0.75 table, the loss is::

    L = -log sigma(x . t) - sum_i log sigma(-x . n_i)
    dL/ds = sigma(s) - label    (label 1 for t, 0 for each n_i; s the score x . t or x . n_i)

and plain SGD moves only the rows involved: x -= lr * sum_j g_j t_j and t_j -= lr * g_j x.

- **Skip-gram**: every context word's input vector predicts the centre word (the C code's and
  gensim's orientation: ``syn0[context] . syn1neg[centre]``).
- **CBOW**: the *mean* of the context vectors predicts the centre word; as in the C code and
  gensim (``cbow_mean=1``) each context row then gets the whole error, not the error / n.

**Windows.** Frequent words are subsampled first (``vocab.keep_probabilities``), then each centre
draws a reduced window ``e = window - randint(0, window)`` (1..window), so near words count more
often than far ones. Windows stop at sentence ends and skip dropped words, as in gensim.

**Learning rate** falls linearly from ``alpha`` to ``min_alpha`` over all epochs (gensim).

**Why plain SGD on gathered rows, not Adam on dense matrices.** A step touches a few thousand
of the V rows. Adam would keep two more (V, D) matrices and move *every* row each step (its
momentum keeps going after a word stops appearing): a dense update per step for a sparse
gradient. SGD with ``index_add_`` reads and writes only the rows in the batch, like the C code's
``saxpy`` calls, and the linear decay of the learning rate does the rest.

**Why it is fast.** A batch holds B centre words, grouped by their reduced window e so that each
has exactly 2e context slots (slots past a sentence end get weight 0). Skip-gram then becomes
batched small matrix products: X (B, 2e, D) context rows times T (B, k+1, D) = the centre word
and k negatives. The k negatives are shared by the 2e contexts of one centre (one table row of
T per centre instead of one per pair), the trick of Ji et al. 2016, "Parallelizing Word2Vec in
Shared and Distributed Memory" (pWord2Vec), which turns dot products into matrix products; the
expected gradient is unchanged (each negative is still a fresh draw from the same table). CBOW
uses per-centre negatives already. Batches are taken in text order, so the learning rate of a
word depends on where it is, as in a left-to-right pass. ``workers`` processes (threads where
fork is unavailable) train different chunks of the corpus at once on shared matrices (Hogwild,
see :meth:`Word2Vec._train_forked`). The price of batching: a row that
appears many times in one batch gets the sum of its updates in one go, so ``batch_size`` far
above the default (512 centres) makes frequent words overshoot and training diverge (a clear error).

``tests/test_emb_word2vec.py`` checks the windows against a brute-force loop, the steps against
autograd, the first vectors against gensim's, and the analogy score against gensim's.
"""

from __future__ import annotations

import mmap
import multiprocessing as mp
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from llmlab.embeddings.vocab import Vocabulary
from llmlab.errors import LLMLabError

METHODS = ("skipgram", "cbow")
TABLE_SIZE = 1 << 24  # slots of the negative-sampling table (word2vec.c: 1e8); 64 MB of int32
POSITIVE = ("dim", "window", "negative", "epochs", "batch_size", "chunk_words", "min_count", "workers")


@dataclass
class Word2VecConfig:
    """Settings of a word2vec run; the defaults are gensim's ``Word2Vec`` defaults (dim 100)."""

    method: str = "skipgram"  # "skipgram" (context predicts centre word) or "cbow" (mean context predicts it)
    dim: int = 100  # D, the length of each word vector
    window: int = 5  # largest distance between a centre word and a context word
    negative: int = 5  # k, negatives drawn per centre word
    min_count: int = 5  # words seen fewer times are dropped
    sample: float = 1e-3  # subsampling threshold t / total (0: keep every word)
    epochs: int = 5  # passes over the corpus
    alpha: float = 0.025  # learning rate at the start
    min_alpha: float = 0.0001  # learning rate at the end (linear decay)
    ns_exponent: float = 0.75  # negatives drawn with probability count^ns_exponent
    batch_size: int = 512  # centre words per SGD step (repeated rows add up: much larger diverges)
    chunk_words: int = 100_000  # words whose windows are drawn at once (numpy, vectorised)
    workers: int = 1  # threads training on different chunks at once (1: exactly reproducible)
    seed: int = 1  # initial vectors, subsampling, windows and negatives all follow it

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise LLMLabError(f"unknown word2vec method {self.method!r}; choose skipgram or cbow")
        for name in POSITIVE:
            if getattr(self, name) < 1:
                raise LLMLabError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.min_alpha <= self.alpha:
            raise LLMLabError(f"need 0 < min_alpha <= alpha, got {self.min_alpha} and {self.alpha}")


def context_windows(
    sentence: np.ndarray, reduced: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each window size e: the centres with that reduced window, their 2e context positions, and
    which of those are real (inside the text and in the same sentence).

    ``sentence`` (N,) is the sentence number of each (kept) word, ``reduced`` (N,) the window
    1..window of each centre. Yields ``centres`` (n,), ``contexts`` (n, 2e) positions (clipped into
    range, so they can always be gathered) and ``valid`` (n, 2e) bool.
    """
    n = len(sentence)
    for e in range(1, int(reduced.max(initial=0)) + 1):
        centres = np.flatnonzero(reduced == e)  # (n_e,)
        if len(centres) == 0:
            continue
        offsets = np.r_[-e:0, 1 : e + 1]  # (2e,): -e..-1, 1..e
        contexts = centres[:, None] + offsets  # (n_e, 2e)
        inside = (contexts >= 0) & (contexts < n)
        contexts = np.clip(contexts, 0, n - 1)
        valid = inside & (sentence[contexts] == sentence[centres][:, None])  # windows stop at sentence ends
        yield centres, contexts, valid


def skipgram_step(
    W_in: torch.Tensor, W_out: torch.Tensor, contexts: torch.Tensor, targets: torch.Tensor,
    weights: torch.Tensor, lr: float,
) -> torch.Tensor:  # fmt: skip
    """One SGD step of skip-gram with negative sampling; returns the summed loss of the batch.

    ``contexts`` (B, C) word ids of the context slots, ``targets`` (B, k+1) the centre word then its
    k negatives, ``weights`` (B, C, k+1) 1 for a real (slot, target) pair, 0 for padding and for a
    negative that happens to be the centre word (the C code skips those too).
    """
    B, C = contexts.shape
    D = W_in.shape[1]
    X = W_in.index_select(0, contexts.reshape(-1)).view(B, C, D)  # (B, C, D) input vectors
    T = W_out.index_select(0, targets.reshape(-1)).view(B, -1, D)  # (B, k+1, D) output vectors
    scores = torch.bmm(X, T.transpose(1, 2))  # (B, C, k+1)
    labels = torch.zeros_like(scores[:1, :1])  # (1, 1, k+1): 1 for the centre word, 0 for negatives
    labels[..., 0] = 1
    # log sigma(s) for the true target, log sigma(-s) for negatives
    loss = -(F.logsigmoid(scores * (2 * labels - 1)) * weights).sum()
    # subtle: g holds -lr * dL/dscores (B, C, k+1), so the products below are the SGD steps themselves
    # (in place, and index_add_ without alpha: each saved pass over the batch is ~10% of the step)
    g = torch.sigmoid(scores).sub_(labels).mul_(weights).mul_(-lr)
    dX = torch.bmm(g, T)  # (B, C, D)
    dT = torch.bmm(g.transpose(1, 2), X)  # (B, k+1, D)
    W_in.index_add_(0, contexts.reshape(-1), dX.view(-1, D))  # repeated rows add up
    W_out.index_add_(0, targets.reshape(-1), dT.view(-1, D))
    return loss


def cbow_step(
    W_in: torch.Tensor, W_out: torch.Tensor, contexts: torch.Tensor, targets: torch.Tensor,
    valid: torch.Tensor, weights: torch.Tensor, lr: float,
) -> torch.Tensor:  # fmt: skip
    """One SGD step of CBOW with negative sampling; returns the summed loss of the batch.

    ``valid`` (B, C) float marks real context slots; ``weights`` (B, k+1) is 0 for a negative equal
    to the centre word and for a centre without any context word.
    """
    B, C = contexts.shape
    D = W_in.shape[1]
    n = valid.sum(1, keepdim=True).clamp(min=1)  # (B, 1) context words per centre
    # the sum of the real context rows, gathered and added in one pass (no (B, C, D) copy)
    h = F.embedding_bag(contexts, W_in, per_sample_weights=valid, mode="sum") / n  # (B, D) their mean
    T = W_out.index_select(0, targets.reshape(-1)).view(B, -1, D)  # (B, k+1, D)
    scores = torch.bmm(T, h[:, :, None]).squeeze(2)  # (B, k+1)
    labels = torch.zeros_like(scores[:1])  # (1, k+1)
    labels[:, 0] = 1
    loss = -(F.logsigmoid(scores * (2 * labels - 1)) * weights).sum()
    g = torch.sigmoid(scores).sub_(labels).mul_(weights).mul_(-lr)  # -lr * dL/dscores (B, k+1)
    dh = torch.bmm(g[:, None, :], T).squeeze(1)  # (B, D)
    dT = g[:, :, None] * h[:, None, :]  # (B, k+1, D)
    # subtle: every context row gets the whole dh (word2vec.c, gensim cbow_mean=1), not dh / n,
    # which would be the true gradient of the mean
    for c in range(C):  # one slot at a time: no (B, C, D) copy of dh; empty slots add 0
        W_in.index_add_(0, contexts[:, c], dh * valid[:, c : c + 1])
    W_out.index_add_(0, targets.reshape(-1), dT.view(-1, D))
    return loss


@contextmanager
def hogwild(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``workers`` threads that update shared tensors without locks, each op on one torch thread.

    Like word2vec.c's and glove.c's pthreads (Hogwild!, Recht et al. 2011): two threads rarely
    touch the same row at the same moment, and when they do, one update is partly lost, which
    SGD shrugs off.
    """
    threads = torch.get_num_threads()
    # subtle: the batches are small, so splitting each op over threads gains little, and on a busy
    # machine every op waits for its slowest thread: parallel workers scale, parallel ops do not
    torch.set_num_threads(1)
    try:
        # subtle: OpenMP's thread count belongs to the calling thread, and a new thread starts from the
        # default (all cores), so each worker sets its own; without it each MKL call (bmm) in each
        # worker starts a team of all cores, and beside another worker a bmm ran 1.5-2x slower
        with ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            yield pool
    finally:
        torch.set_num_threads(threads)


FORK = sys.platform.startswith("linux")  # forked workers where fork is safe and cheap; threads elsewhere
_FORKED: tuple | None = None  # (model, ids, sentence, stats) for forked workers, set just before the fork


def shareable(array: np.ndarray, shared: bool) -> torch.Tensor:
    """``array`` as a tensor; with ``shared``, in anonymous shared memory that forked children write to.

    subtle: an anonymous ``mmap`` rather than ``Tensor.share_memory_()``, whose /dev/shm files fail
    in containers that mount a small /dev/shm (64 MB by default in Docker)
    """
    if not shared:
        return torch.from_numpy(array)
    out = np.frombuffer(mmap.mmap(-1, max(array.nbytes, 1)), dtype=array.dtype, count=array.size)
    out = out.reshape(array.shape)
    out[...] = array
    return torch.from_numpy(out)


def _forked_worker(jobs: list[tuple[int, int, int, int]], counter: Any, error: Any) -> None:
    """A forked worker: train the next chunk not taken yet (``counter``) until none are left.

    An error's message goes to ``error`` (shared memory) and the process exits with code 1.
    """
    torch.set_num_threads(1)
    try:
        while True:
            with counter.get_lock():
                i = counter.value
                counter.value += 1
            if i >= len(jobs):
                return
            _forked_chunk(jobs[i])
    except Exception as exc:  # reported to the parent, which raises it
        message = (
            str(exc)
            if isinstance(exc, LLMLabError)
            else f"word2vec worker failed: {type(exc).__name__}: {exc}"
        )
        error.value = message.encode()[: len(error) - 1]
        sys.exit(1)


def _forked_chunk(job: tuple[int, int, int, int]) -> None:
    """In a forked worker: train chunk k (words a..b) of the epoch, keeping its row of the stats table."""
    model, ids, sentence, stats = _FORKED
    epoch, k, a, b = job
    row = stats[k]  # (3,): words done, loss sum, pairs

    def report(p: Progress) -> None:
        row[0] = p.words - epoch * len(ids) - a
        row[1] += p.loss
        row[2] += p.pairs

    model._train_chunk(ids, sentence, epoch, k, a, b, report)
    row[0] = b - a


@dataclass
class Progress:
    """What the training loop reports after each batch."""

    epoch: int  # 0-based
    words: int  # corpus words processed so far, all epochs (before subsampling)
    total_words: int  # words in all epochs
    lr: float
    loss: float  # summed loss of this batch
    pairs: int  # (input, target) pairs in this batch


class Word2Vec:
    """The two matrices and the loop that trains them: ``Word2Vec(vocab, cfg).train(ids, sentence)``."""

    def __init__(self, vocab: Vocabulary, cfg: Word2VecConfig):
        vocab.check_size(cfg.window, cfg.negative)
        self.vocab, self.cfg = vocab, cfg
        V, D = len(vocab), cfg.dim
        W_in = np.random.default_rng(cfg.seed).random((V, D), dtype=np.float32)  # gensim's prep_vectors
        W_in *= 2.0
        W_in -= 1.0
        W_in /= D
        # (V, D) each; in memory that forked workers share when they will train on them (see train)
        self.forked = cfg.workers > 1 and FORK  # train on forked processes (see train)
        self.W_in = shareable(W_in, self.forked)  # uniform in [-1/D, 1/D), gensim's numbers
        self.W_out = shareable(np.zeros((V, D), dtype=np.float32), self.forked)
        self.keep = vocab.keep_probabilities(cfg.sample)  # (V,)
        cum_table = vocab.negative_table(cfg.ns_exponent)  # (V,), gensim's cum_table
        # word2vec.c's unigram table: TABLE_SIZE slots, word i filling a share f_i^0.75 / sum of them,
        # so a draw is one random index and one lookup instead of a binary search (gensim's bisect)
        # slot j (its midpoint (j + 0.5) * step on cum_table's scale) goes to the first word whose
        # cumulative weight reaches it; so words 0..i fill the first floor(cum_table[i] / step + 0.5) slots
        filled = np.floor(cum_table / (cum_table[-1] / TABLE_SIZE) + 0.5).astype(np.int64).clip(0, TABLE_SIZE)
        self.table = np.repeat(np.arange(V, dtype=np.int32), np.diff(filled, prepend=0))  # (TABLE_SIZE,)

    def negatives(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, k) word ids drawn from the unigram^0.75 distribution (a lookup in word2vec.c's table)."""
        return self.table[rng.integers(0, TABLE_SIZE, size=(n, self.cfg.negative))]

    def train(
        self, ids: np.ndarray, sentence: np.ndarray, callback: Callable[[Progress], None] | None = None,
        on_epoch_end: Callable[[int], None] | None = None,
    ) -> None:  # fmt: skip
        """All epochs over the corpus ``ids`` (N,) with sentence numbers ``sentence`` (N,).

        The corpus is cut into chunks of ~``chunk_words`` words at sentence starts; ``workers``
        train on different chunks at once, updating the shared matrices without locks ("Hogwild",
        Recht et al. 2011), as word2vec.c and gensim do: forked processes on Linux (see
        :meth:`_train_forked`), threads elsewhere. Each step runs on one torch thread. Every chunk
        draws its random numbers from its own seeded generator, so with one worker a run is exactly
        reproducible; with more, the order of updates varies a little.
        """
        cfg, N = self.cfg, len(ids)
        starts = np.flatnonzero(np.r_[True, sentence[1:] != sentence[:-1]])  # first word of each sentence
        cuts = np.unique(np.r_[starts[np.searchsorted(starts, np.arange(0, N, cfg.chunk_words))], N])
        chunks = list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))
        lock, last = threading.Lock(), [0]  # last: the words of the latest report

        def report(p: Progress) -> None:
            if callback is not None:
                with lock:  # callbacks (progress bar, snapshots) run one at a time
                    callback(p)
                    last[0] = p.words

        if self.forked:
            self._train_forked(ids, sentence, chunks, report, on_epoch_end)
        else:
            with hogwild(cfg.workers) as pool:
                for epoch in range(cfg.epochs):
                    jobs = [(epoch, k, a, b) for k, (a, b) in enumerate(chunks)]
                    list(pool.map(lambda job: self._train_chunk(ids, sentence, *job, report), jobs))
                    if on_epoch_end is not None:
                        on_epoch_end(epoch)
        if last[0] < N * cfg.epochs:  # the end of the run, unless the forked workers' last poll said so
            report(Progress(cfg.epochs - 1, N * cfg.epochs, N * cfg.epochs, cfg.min_alpha, 0.0, 0))

    def lr_at(self, words: int, total: int) -> float:
        """The learning rate after ``words`` of the run's ``total``: alpha falling linearly to min_alpha."""
        cfg = self.cfg
        return max(cfg.min_alpha, cfg.alpha - (cfg.alpha - cfg.min_alpha) * words / total)

    def _train_forked(
        self, ids: np.ndarray, sentence: np.ndarray, chunks: list[tuple[int, int]],
        report: Callable[[Progress], None], on_epoch_end: Callable[[int], None] | None,
    ) -> None:  # fmt: skip
        """The epochs on ``workers`` forked processes that update ``W_in`` and ``W_out`` in shared memory.

        Why processes and not threads: a CBOW step is ~30 small torch calls, and two threads in one
        Python process spent about a third of their time blocked (the GIL is taken around every
        call), so two threads trained at 1.0-1.8x one thread, varying run to run; two processes
        never wait on each other (2.0x). A fork copies nothing up front: the corpus, the negative
        table and this object are shared copy-on-write, the matrices truly shared. Each epoch forks
        the workers afresh; they take its chunks one at a time from a shared counter. Each chunk
        adds its words done, loss and pairs to its own row of a shared table; this process reads
        the table every 50 ms and reports the change, and notices a worker that failed or died.
        """
        global _FORKED
        cfg, N = self.cfg, len(ids)
        total = N * cfg.epochs
        stats = shareable(np.zeros((len(chunks), 3)), True)  # (chunks, 3): words done, loss sum, pairs
        fork = mp.get_context("fork")
        _FORKED = (self, ids, sentence, stats)
        try:
            for epoch in range(cfg.epochs):
                stats.zero_()
                jobs = [(epoch, k, a, b) for k, (a, b) in enumerate(chunks)]
                counter, error = fork.Value("i", 0), fork.Array("c", 2000)
                workers = [
                    fork.Process(target=_forked_worker, args=(jobs, counter, error))
                    for _ in range(cfg.workers)
                ]
                for w in workers:
                    w.start()
                try:
                    seen, done = np.zeros(3), False
                    while not done:
                        workers[0].join(0.05)
                        done = not any(w.is_alive() for w in workers)  # before the read: the last has all
                        now = stats.sum(0).numpy()
                        words = epoch * N + int(now[0])
                        lr = self.lr_at(words, total)
                        loss, pairs = float(now[1] - seen[1]), int(now[2] - seen[2])
                        if pairs:
                            report(Progress(epoch, words, total, lr, loss, pairs))
                        seen = now
                finally:
                    for w in workers:  # an error here (a callback's) stops the others at once
                        if w.is_alive():
                            w.terminate()
                        w.join()
                failed = [w.exitcode for w in workers if w.exitcode != 0]
                if failed:
                    raise LLMLabError(
                        error.value.decode(errors="replace")
                        or f"a word2vec worker died (exit code {failed[0]}); was it out of memory?"
                    )
                if on_epoch_end is not None:
                    on_epoch_end(epoch)
        finally:
            _FORKED = None

    def _train_chunk(
        self, ids: np.ndarray, sentence: np.ndarray, epoch: int, k: int, a: int, b: int,
        report: Callable[[Progress], None],
    ) -> None:  # fmt: skip
        """Words a..b of the corpus in epoch ``epoch``:

        1. subsample (keep each occurrence with probability keep[w]);
        2. draw each centre's reduced window, 1..window, and its k negatives;
        3. cut each window size's centres into batches and take the batches in text order
           (so near and far contexts are mixed over the run, as in a left-to-right pass);
        4. per batch: one SGD step at the learning rate of that point of the run.

        Everything but the steps is done for the whole chunk at once, in numpy, and each window
        size's arrays become tensors once: a batch is then a slice (a view), so the loop over
        batches is all torch calls (for CBOW, a Python-side cost per batch is a cost per ~1,000 words).
        """
        cfg, N = self.cfg, len(ids)
        rng = np.random.default_rng((cfg.seed, epoch, k))  # this chunk's own random numbers
        kept = rng.random(b - a) < self.keep[ids[a:b]]  # 1.
        w, s = ids[a:b][kept], sentence[a:b][kept]
        reduced = cfg.window - rng.integers(0, cfg.window, size=len(w))  # 2.
        negatives = self.negatives(len(w), rng)  # (n, k)
        targets = np.concatenate([w[:, None], negatives], axis=1)  # (n, k+1): the centre, its negatives
        not_centre = np.ones(targets.shape, dtype=np.float32)  # (n, k+1)
        not_centre[:, 1:] = negatives != w[:, None]  # a negative equal to the centre is skipped (C code)
        B, batches = cfg.batch_size, []
        for centres, contexts, valid in context_windows(s, reduced):  # 3.
            if cfg.method == "skipgram":
                pairs = valid.sum(1)  # (n_e,) real (context, centre) pairs per centre
                weights = not_centre[centres]  # (n_e, k+1); times valid per slot in the step
            else:
                pairs = valid.any(1)  # (n_e,) a centre without any context word is no example
                weights = not_centre[centres] * pairs[:, None]  # (n_e, k+1)
            tensors = (
                torch.from_numpy(w[contexts].astype(np.int64)),  # (n_e, 2e) context word ids
                torch.from_numpy(targets[centres].astype(np.int64)),  # (n_e, k+1)
                torch.from_numpy(valid.astype(np.float32)),  # (n_e, 2e)
                torch.from_numpy(weights),  # (n_e, k+1)
            )
            for i in range(0, len(centres), B):
                first, n_pairs = int(centres[i]), int(pairs[i : i + B].sum())
                batches.append((first, n_pairs, *(t[i : i + B] for t in tensors)))
        batches.sort(key=lambda batch: batch[0])  # by the position of the first centre
        total = N * cfg.epochs
        for first, pairs, *batch in batches:  # 4.
            words = epoch * N + a + (b - a) * first // len(w)  # corpus words before this batch
            lr = self.lr_at(words, total)
            report(Progress(epoch, words, total, lr, self._step(*batch, lr), pairs))

    def _step(
        self, contexts: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor, weights: torch.Tensor, lr: float,
    ) -> float:  # fmt: skip
        """One batch: contexts (B, C) word ids, targets (B, k+1), valid (B, C), weights (B, k+1) -> summed loss."""
        if self.cfg.method == "skipgram":
            pair_weights = valid[:, :, None] * weights[:, None, :]  # (B, C, k+1)
            return float(skipgram_step(self.W_in, self.W_out, contexts, targets, pair_weights, lr))
        return float(cbow_step(self.W_in, self.W_out, contexts, targets, valid, weights, lr))
