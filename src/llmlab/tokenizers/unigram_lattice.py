"""Many Unigram lattices at once, with numpy: forward-backward and Viterbi for training.

A *lattice* for a word ("▁hello") has one node per character boundary and one edge per
vocabulary piece that matches there (``▁h``, ``▁he``, ``ll``, ``llo``, ...), weighted by the
piece's log probability. Training needs three things from each word's lattice:

* **forward** ``alpha[p]``: log of the summed probability of every way to reach boundary
  ``p`` (``logsumexp`` over edges ending at ``p`` of ``alpha[start] + score``);
* **backward** ``beta[p]``: the same from ``p`` to the end of the word;
* **edge marginals** ``exp(alpha[start] + score + beta[end] - Z)``, ``Z = alpha[word end]``:
  the expected number of times the piece is used in that word (the E-step of EM), and
* **Viterbi**: the single best path (``max`` instead of ``logsumexp``).

A corpus has a hundred thousand distinct words, so a Python loop per word would be slow.
Instead all lattices share one array of nodes (word ``k`` owns nodes ``first[k]..last[k]``)
and one array of edges. Edges are processed in rounds by their *local* end position ``t``
(characters from the word start): round ``t`` updates every node at offset ``t`` of every word
in a few numpy calls, because its incoming edges all start at offsets below ``t``. The number
of rounds is the longest word, not the number of words.
"""

from __future__ import annotations

import numpy as np

NEG_INF = -np.inf


class Lattices:
    """Lattices over a shared node array.

    ``first``/``last``: the first and last node of each lattice (``last - first`` = its length
    in characters). ``start``/``end``: the nodes each edge joins; ``piece``: what the edge
    stands for (an index chosen by the caller, or -1 for an unknown character); ``score``:
    its log probability.
    """

    def __init__(self, first: np.ndarray, last: np.ndarray, start: np.ndarray, end: np.ndarray,
                 piece: np.ndarray, score: np.ndarray):  # fmt: skip
        self.first, self.last = first, last
        self.start, self.end, self.piece, self.score = start, end, piece, score
        self.n_nodes = int(last.max()) + 1 if len(last) else 0
        owner = np.zeros(self.n_nodes, dtype=np.int64)  # node -> its lattice
        owner[first[1:]] = 1
        owner = np.cumsum(owner) if len(first) else owner
        self.local = np.arange(self.n_nodes) - first[owner] if len(first) else owner
        self.owner = owner
        # subtle: with the edges in node order, a stable sort by local offset keeps each
        # lattice's edges together inside a round, so the ones updating one node are adjacent
        in_order = np.argsort(start, kind="stable")  # (cheap: the edges come nearly sorted)
        self.by_end = _Rounds(self.local[end], end, start, in_order)  # forward
        top = int(self.local.max()) if self.n_nodes else 0
        self.by_start = _Rounds(top - self.local[start], start, end, in_order)  # backward: offsets descending

    def forward(self) -> np.ndarray:
        """``alpha`` per node (0 at each lattice's first node)."""
        alpha = np.full(self.n_nodes, NEG_INF)
        alpha[self.first] = 0.0
        rounds, score = self.by_end, self.score[self.by_end.order]
        for lo, hi, group, nodes in rounds.rounds:
            alpha[nodes] = _logsumexp_groups(alpha[rounds.read[lo:hi]] + score[lo:hi], group)
        return alpha

    def backward(self) -> np.ndarray:
        """``beta`` per node (0 at each lattice's last node)."""
        beta = np.full(self.n_nodes, NEG_INF)
        beta[self.last] = 0.0
        rounds, score = self.by_start, self.score[self.by_start.order]
        for lo, hi, group, nodes in rounds.rounds:
            beta[nodes] = _logsumexp_groups(beta[rounds.read[lo:hi]] + score[lo:hi], group)
        return beta

    def expected_counts(self, weight: np.ndarray, n_pieces: int) -> tuple[np.ndarray, np.ndarray]:
        """E-step: expected uses of each piece, each lattice weighted by ``weight`` (its word
        frequency); also returns ``log Z`` per lattice (its marginal likelihood)."""
        alpha, beta = self.forward(), self.backward()
        log_z = alpha[self.last]
        lattice = self.owner[self.start]
        posterior = np.exp(alpha[self.start] + self.score + beta[self.end] - log_z[lattice]) * weight[lattice]
        known = self.piece >= 0
        return np.bincount(self.piece[known], weights=posterior[known], minlength=n_pieces), log_z

    def viterbi(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best path of every lattice: ``(lattice index, edge index)`` per step, in order,
        and each lattice's best score. Lattices whose best score is -inf get no path."""
        best = np.full(self.n_nodes, NEG_INF)
        best[self.first] = 0.0
        back = np.full(self.n_nodes, -1)
        rounds = self.by_end
        for lo, hi, group, nodes in rounds.rounds:
            edges = rounds.order[lo:hi]
            value = best[rounds.read[lo:hi]] + self.score[edges]
            top = np.maximum.reduceat(value, group)
            sizes = np.diff(np.r_[group, len(edges)])
            # the first edge of each group that reaches the maximum wins (the shortest piece)
            is_top = value == np.repeat(top, sizes)
            position = np.where(is_top, np.arange(len(edges)), len(edges))
            winner = np.minimum.reduceat(position, group)
            best[nodes], back[nodes] = top, edges[winner]
        # walk back from every lattice's last node at once (lattices with a finite best score)
        steps_lattice, steps_edge = [], []
        alive = np.flatnonzero((self.last > self.first) & np.isfinite(best[self.last]))
        node = self.last[alive]
        while len(alive):
            edge = back[node]
            steps_lattice.append(alive)
            steps_edge.append(edge)
            node = self.start[edge]
            more = node != self.first[alive]
            alive, node = alive[more], node[more]
        if not steps_edge:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), best[self.last]
        lattice, edge = np.concatenate(steps_lattice), np.concatenate(steps_edge)
        order = np.lexsort((self.start[edge], lattice))  # left to right within each lattice
        return lattice[order], edge[order], best[self.last]

    def sub_lattices(
        self, first: np.ndarray, last: np.ndarray, drop_full: bool
    ) -> tuple[Lattices, np.ndarray]:
        """New lattices over node spans ``first[k]..last[k]`` of this one (each inside one
        lattice), with the edges that lie inside a span; ``drop_full`` leaves out an edge
        spanning the whole of it. Returns the lattices and, per new edge, the old edge."""
        order = np.argsort(self.start, kind="stable")
        starts_sorted = self.start[order]
        lo = np.searchsorted(starts_sorted, first, side="left")
        hi = np.searchsorted(starts_sorted, last, side="left")  # edges starting before the span end
        counts = hi - lo
        span = np.repeat(np.arange(len(first)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        old = order[np.repeat(lo, counts) + offsets]
        keep = self.end[old] <= last[span]
        if drop_full:
            keep &= ~((self.start[old] == first[span]) & (self.end[old] == last[span]))
        old, span = old[keep], span[keep]
        lengths = last - first
        new_first = np.r_[0, np.cumsum(lengths + 1)[:-1]] if len(first) else np.zeros(0, dtype=np.int64)
        shift = new_first - first
        sub = Lattices(new_first, new_first + lengths, self.start[old] + shift[span], self.end[old] + shift[span],
                       self.piece[old], self.score[old])  # fmt: skip
        return sub, old


class _Rounds:
    """The edges of all lattices in processing order, cut into rounds.

    Edges are grouped by ``key`` (one round per value, increasing); inside a round the edges
    that update the same node (``write``) are adjacent. ``read`` is the node each edge reads
    (start when going forward), stored in processing order so a pass gathers nothing else.
    ``rounds`` holds per round: its slice ``lo:hi``, where each node's group starts (relative
    to ``lo``), and the nodes.
    """

    def __init__(self, key: np.ndarray, write: np.ndarray, read: np.ndarray, in_order: np.ndarray):
        small = key[in_order].astype(np.uint16 if key.max(initial=0) < 2**16 else np.int64)
        self.order = in_order[np.argsort(small, kind="stable")]  # a radix sort for 16-bit keys
        self.read = read[self.order]
        k, nd = key[self.order], write[self.order]
        groups = np.flatnonzero(np.r_[True, (np.diff(k) != 0) | (np.diff(nd) != 0)])
        self.rounds: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        lo = 0
        for hi in np.r_[np.flatnonzero(np.diff(k)) + 1, len(k)].tolist():
            g = groups[np.searchsorted(groups, lo) : np.searchsorted(groups, hi)]
            self.rounds.append((lo, hi, g - lo, nd[g]))
            lo = hi


def _logsumexp_groups(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """``log(sum(exp(values)))`` over each contiguous group starting at ``group[i]``."""
    top = np.maximum.reduceat(values, group)
    sizes = np.diff(np.r_[group, len(values)])
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.add.reduceat(np.exp(values - np.repeat(safe, sizes)), group)) + safe
