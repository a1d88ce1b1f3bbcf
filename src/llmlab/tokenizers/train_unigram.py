"""Train a Unigram model: start with too many pieces, then prune with EM.

BPE training grows a vocabulary merge by merge; Unigram training (Kudo 2018, as implemented
in sentencepiece's ``unigram_model_trainer.cc``) goes the other way:

1. **Seed** a large vocabulary: the alphabet plus the most frequent substrings of the
   words, up to a million (:mod:`llmlab.tokenizers.unigram_seeds`).
2. **EM**, ``num_sub_iterations`` times. *E-step*: for every distinct word, the expected
   number of times each piece is used, summed over all segmentations of the word weighted by
   their probability (forward-backward over the word's lattice,
   :mod:`llmlab.tokenizers.unigram_lattice`), times the word's count. *M-step*: new log
   probabilities from those expected counts; pieces expected less than 0.5 times go. Like
   sentencepiece we use ``digamma(count) - digamma(total)`` instead of
   ``log(count / total)``: this is EM under a Dirichlet-process prior (a "Bayesian" M-step),
   and since ``exp(digamma(c)) ~ c - 0.5`` it takes about half a use away from every piece,
   which hurts rare pieces most and so pushes the model towards fewer, more useful pieces.
3. **Prune.** For each piece, how much would the corpus likelihood drop without it? The
   Viterbi segmentation of the corpus says how often each piece is used (``freq``); without
   piece ``i`` its uses would go to its second-best segmentation ``alt(i)``. The loss is
   ``F(i) * (log p(i) - sum of log p(a) for a in alt(i))`` with the probabilities recomputed
   as if ``freq(i)`` moved to the alternatives, ``F(i)`` the share of words using ``i``.
   Keep the ``shrinking_factor`` (0.75) share of pieces with the largest loss; pieces with
   no alternative (single characters) always stay.
4. Repeat 2-3 until at most ``1.1 x vocab_size`` pieces remain; then keep the alphabet and
   the best-scoring pieces up to ``vocab_size`` minus the special pieces.

Settings are the fields of :class:`~llmlab.tokenizers.formats.sentencepiece_model.TrainerSpec`
(the same names as ``spm_train``'s flags) and land in the trained model, so
:func:`~llmlab.tokenizers.sentencepiece.save_sentencepiece` writes a ``.model`` that the
``sentencepiece`` library loads and encodes exactly as we do. Training is deterministic.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from llmlab.cli.console import err_console
from llmlab.errors import LLMLabError
from llmlab.tokenizers.formats.sentencepiece_model import (
    ModelProto,
    ModelType,
    NormalizerSpec,
    PieceType,
    SentencePiece,
    TrainerSpec,
)
from llmlab.tokenizers.spm_normalizer import SpmNormalizer
from llmlab.tokenizers.unigram import UnigramTokenizer
from llmlab.tokenizers.unigram_lattice import Lattices
from llmlab.tokenizers.unigram_seeds import (
    BOUNDARY,
    Substrings,
    find_substrings,
    mask_rare,
    required_characters,
    seed_pieces,
    split_words,
)

Corpus = str | PathLike | Iterable[str | PathLike]


def train_unigram(
    corpus: Corpus = (),
    vocab_size: int = 8000,
    *,
    files: Sequence[str | PathLike] = (),
    special_tokens: Sequence[str] = (),
    normalizer: NormalizerSpec | None = None,
    show_progress: bool | None = None,
    name: str = "unigram",
    **settings: object,
) -> UnigramTokenizer:
    """Train a Unigram tokenizer on ``corpus`` (text lines, or a file path or a list of paths)
    and the lines of ``files``.

    ``special_tokens``: control pieces after ``<unk>``, ``<s>``, ``</s>`` (never produced from
    text; the tokenizer's special tokens). ``normalizer``: e.g. a model's ``nmt_nfkc``
    (``load_sentencepiece(m).model.normalizer_spec``); by default none ("identity"), with
    sentencepiece's whitespace rules. ``show_progress``: a progress bar on stderr (default:
    when stderr is a terminal). ``settings``: :class:`TrainerSpec` fields, the names of
    ``spm_train``'s flags: ``character_coverage=1.0``, ``byte_fallback=True``,
    ``user_defined_symbols=["<sep>"]``, ... One default differs from ``spm_train``: like
    llmlab's other trainers, a corpus too small for ``vocab_size`` gives a smaller vocabulary
    (``hard_vocab_limit=True`` makes that an error, as in sentencepiece).
    """
    for path in files:
        if not Path(path).is_file():
            raise LLMLabError(f"{path}: no such file to train on")
    settings.setdefault("hard_vocab_limit", False)
    spec = TrainerSpec(model_type=ModelType.UNIGRAM, vocab_size=vocab_size, **settings)  # type: ignore[arg-type]
    spec.control_symbols = [*spec.control_symbols, *special_tokens]
    if not spec.split_by_whitespace or spec.treat_whitespace_as_suffix or spec.allow_whitespace_only_pieces:
        raise ValueError("train_unigram supports only the default whitespace settings (pieces start with ▁)")
    norm_spec = normalizer or NormalizerSpec(name="identity")
    meta = meta_pieces(spec)
    show = err_console.is_terminal if show_progress is None else show_progress
    with _Progress(show) as report:
        # 1. words, alphabet and seeds
        lines = itertools.chain(_lines(corpus), _lines([Path(f) for f in files]))
        words = count_words(lines, SpmNormalizer(norm_spec), spec, [p for p, _ in meta.values()], report)
        if not words:
            raise LLMLabError("the training corpus has no text")
        alphabet = required_characters(words, spec)
        if len(alphabet) + len(meta) > spec.vocab_size:
            raise LLMLabError(
                f"vocab_size {spec.vocab_size} is smaller than the {len(alphabet)} required characters plus "
                f"{len(meta)} special pieces; raise vocab_size or lower character_coverage"
            )
        words = mask_rare(words, alphabet)
        report.update(f"seeding from {len(words):,} distinct words, {len(alphabet):,} characters")
        word_list = list(words)
        weight = np.array([words[w] for w in word_list], dtype=np.float64)
        table = find_substrings(word_list, spec)
        seeds, seed_of = seed_pieces(table, weight, alphabet, spec)
        rounds = math.ceil(math.log(spec.vocab_size * 1.1 / len(seeds)) / math.log(spec.shrinking_factor))
        report.update(f"EM on {len(seeds):,} seed pieces", total=max(rounds, 1))
        # 2.-3. EM and pruning
        lengths = np.array([len(w) for w in word_list], dtype=np.int64)
        pieces, scores, alive = run_em(lengths, weight, table, seed_of, seeds, spec, report)
        # 4. the final vocabulary
        final = finalize(pieces, scores, alive, alphabet, spec.vocab_size - len(meta))
    tok = UnigramTokenizer(build_model(final, meta, spec, norm_spec))
    tok.name = name
    return tok


def _lines(corpus: Corpus) -> Iterator[str]:
    if isinstance(corpus, str | PathLike):
        corpus = [Path(corpus)]
    for item in corpus:
        if isinstance(item, PathLike):
            with open(item, encoding="utf-8", errors="replace") as f:
                for line in f:
                    yield line.rstrip("\n")
        else:
            yield item.rstrip("\r\n")


def count_words(lines: Iterable[str], normalizer: SpmNormalizer, spec: TrainerSpec, meta: list[str],
                report: _Progress) -> Counter[str]:  # fmt: skip
    """Normalise each line and count its words; meta pieces in the text are cut out."""
    cut = re.compile("|".join(re.escape(p) for p in sorted(meta, key=len, reverse=True))) if meta else None
    words: Counter[str] = Counter()
    for n, line in enumerate(lines, 1):
        if spec.input_sentence_size and n > spec.input_sentence_size:
            break
        if (
            not line
            or len(line.encode("utf-8", "surrogatepass")) > spec.max_sentence_length
            or "\u2585" in line
        ):
            continue  # like sentencepiece: empty, too long, or holding the reserved "▅"
        text = normalizer.normalize(line)
        if cut is not None:
            text = cut.sub(BOUNDARY, text)
        words.update(split_words(text))
        if n % 10_000 == 0:
            report.update(f"reading: {n:,} lines, {len(words):,} distinct words")
    return words


def digamma(x: np.ndarray) -> np.ndarray:
    """The digamma function (derivative of log Gamma), by recurrence and asymptotic series."""
    x = np.array(x, dtype=np.float64)
    result = np.zeros_like(x)
    for _ in range(7):  # digamma(x) = digamma(x + 1) - 1/x until x >= 7
        small = x < 7
        result[small] -= 1 / x[small]
        x[small] += 1
    x -= 0.5
    xx2 = (1 / x) ** 2
    xx4 = xx2 * xx2
    return result + np.log(x) + xx2 / 24 - 7 / 960 * xx4 + 31 / 8064 * xx4 * xx2 - 127 / 30720 * xx4 * xx4


def run_em(lengths: np.ndarray, weight: np.ndarray, table: Substrings, seed_of: np.ndarray,
           seeds: list[tuple[str, float]], spec: TrainerSpec, report: _Progress) -> tuple[list[str], np.ndarray, np.ndarray]:  # fmt: skip
    """Steps 2-3 over the words (their ``lengths`` and counts ``weight``). Returns the pieces,
    their scores, and which of them survived."""
    pieces = [p for p, _ in seeds]
    scores = np.array([s for _, s in seeds])
    alive = np.ones(len(pieces), dtype=bool)
    first = np.r_[0, np.cumsum(lengths + 1)[:-1]]  # word k owns lattice nodes first[k]..last[k]
    last = first + lengths
    # every seed found in every word: the edges of all lattices, straight from the substring table
    is_seed = seed_of[table.piece] >= 0
    base = first[table.word[is_seed]]
    edges = base + table.start[is_seed], base + table.end[is_seed], seed_of[table.piece[is_seed]]
    # plus <unk> edges, where no living single-character piece covers a character
    unk_start = np.setdiff1d(np.arange(last[-1]), last, assume_unique=True)
    is_char = np.array([len(p) == 1 for p in pieces])
    desired = int(spec.vocab_size * 1.1)

    def round_lattices() -> Lattices:
        keep = alive[edges[2]]
        covered = np.zeros(last[-1] + 1, dtype=bool)
        covered[edges[0][keep & (edges[1] - edges[0] == 1)]] = True
        unk = unk_start[~covered[unk_start]]
        return Lattices(first, last, np.r_[edges[0][keep], unk], np.r_[edges[1][keep], unk + 1],
                        np.r_[edges[2][keep], np.full(len(unk), -1)], np.zeros(keep.sum() + len(unk)))  # fmt: skip

    while True:
        lattices = round_lattices()  # rebuilt after each pruning: dead pieces' edges leave
        for _ in range(spec.num_sub_iterations):
            # E-step
            lattices.score = _edge_scores(lattices, scores, alive)
            expected, log_z = lattices.expected_counts(weight, len(pieces))
            objective = -float(weight @ log_z) / weight.sum()
            # M-step (Bayesian: digamma instead of log, see the module docstring)
            was_alive = alive.copy()
            alive &= expected >= 0.5
            scores = np.where(
                alive, digamma(np.maximum(expected, 0.5)) - digamma(expected[alive].sum()), -np.inf
            )
            if (was_alive & ~alive & is_char).any():
                lattices = round_lattices()  # a character lost its piece: it needs an <unk> edge now
            report.update(f"EM: {int(alive.sum()):,} pieces, objective {objective:.4f}")
        if alive.sum() <= desired:
            return pieces, scores, alive
        lattices.score = _edge_scores(lattices, scores, alive)
        alive = prune(lattices, weight, scores, alive, max(desired, int(spec.shrinking_factor * alive.sum())))
        report.advance()


def _edge_scores(lattices: Lattices, scores: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Each edge's score: its piece's (-inf once the piece is removed); an <unk> edge scores
    ``min(score) - 10``, the unknown penalty."""
    piece = np.maximum(lattices.piece, 0)
    unk_score = scores[alive].min() - 10.0
    return np.where(lattices.piece < 0, unk_score, np.where(alive[piece], scores[piece], -np.inf))


def prune(
    lattices: Lattices, weight: np.ndarray, scores: np.ndarray, alive: np.ndarray, size: int
) -> np.ndarray:
    """Step 3: the pieces to keep (see the module docstring for the loss)."""
    n = len(scores)
    # 1. Viterbi over the corpus: how often each piece is used, and by which words
    word, edge, _ = lattices.viterbi()
    used_piece = lattices.piece[edge]
    known = used_piece >= 0
    word, edge, used_piece = word[known], edge[known], used_piece[known]
    freq = np.bincount(used_piece, weights=weight[word], minlength=n)
    pairs = np.unique(word * n + used_piece)
    share = np.bincount(pairs % n, weights=weight[pairs // n], minlength=n) / weight.sum()
    # 2. each used piece's second-best segmentation: Viterbi inside one place it occurs, without it
    used, where = np.unique(used_piece, return_index=True)
    spans, _ = lattices.sub_lattices(lattices.start[edge[where]], lattices.end[edge[where]], drop_full=True)
    span, alt_edge, best = spans.viterbi()
    reachable = np.isfinite(best)  # single characters have no alternative
    ok = reachable[span]
    span, alt = span[ok], spans.piece[alt_edge[ok]]
    # 3. the loss of removing each piece that has an alternative
    total = freq.sum()
    f_i = freq[used]
    n_alt = np.bincount(span, minlength=len(used))
    alt_freq = np.where(alt >= 0, freq[np.maximum(alt, 0)], 0.0) + f_i[span]
    logprob_alt = np.bincount(span, weights=np.log(alt_freq), minlength=len(used))
    logprob_alt -= n_alt * np.log(total + f_i * (n_alt - 1))
    loss = share[used] * (np.log(f_i) - np.log(total) - logprob_alt)
    # 4. always keep pieces without alternatives; then the largest losses
    keep = np.zeros(n, dtype=bool)
    keep[used[~reachable]] = True
    ranked = sorted(np.flatnonzero(reachable).tolist(), key=lambda k: (-loss[k], used[k]))
    room = max(size - int(keep.sum()), 0)
    keep[used[ranked[:room]]] = True
    return keep & alive


def finalize(pieces: list[str], scores: np.ndarray, alive: np.ndarray, alphabet: dict[str, int],
             n_normal: int) -> list[tuple[str, float]]:  # fmt: skip
    """Step 4: every alphabet character (pruned ones at the lowest score), then the best pieces."""
    index = {p: i for i, p in enumerate(pieces)}
    min_score = float(scores[alive].min())
    final: dict[str, float] = {}
    penalty = 0.0
    for char in sorted(alphabet, key=lambda c: (-alphabet[c], c)):
        i = index[char]
        if alive[i]:
            final[char] = float(scores[i])
        else:
            final[char] = min_score + penalty  # frequent characters get the smaller penalty
            penalty += 0.0001
    for i in sorted(np.flatnonzero(alive).tolist(), key=lambda i: (-scores[i], pieces[i])):
        if len(final) >= n_normal:
            break
        final.setdefault(pieces[i], float(scores[i]))
    return sorted(final.items(), key=lambda x: (-x[1], x[0]))


def meta_pieces(spec: TrainerSpec) -> dict[int, tuple[str, PieceType]]:
    """The special pieces by id: <unk>, <s>, </s>, <pad>, control and user-defined symbols,
    and the 256 byte pieces with byte fallback (sentencepiece's ``InitMetaPieces``)."""
    meta: dict[int, tuple[str, PieceType]] = {}
    for i, p in ((spec.unk_id, spec.unk_piece), (spec.bos_id, spec.bos_piece), (spec.eos_id, spec.eos_piece),
                 (spec.pad_id, spec.pad_piece)):  # fmt: skip
        if i >= 0:
            if i >= spec.vocab_size or i in meta:
                raise ValueError(f"special piece {p} has id {i}, which is taken or not below vocab_size")
            meta[i] = (p, PieceType.UNKNOWN if p == spec.unk_piece else PieceType.CONTROL)
    extra = [(p, PieceType.CONTROL) for p in spec.control_symbols]
    extra += [(p, PieceType.USER_DEFINED) for p in spec.user_defined_symbols]
    extra += [(f"<0x{b:02X}>", PieceType.BYTE) for b in range(256)] if spec.byte_fallback else []
    by_piece = {p: i for i, (p, _) in meta.items()}
    next_id = 0
    for p, kind in extra:
        if p in by_piece:  # e.g. "<s>" listed as a control symbol: only its type changes
            meta[by_piece[p]] = (p, kind)
            continue
        while next_id in meta:
            next_id += 1
        meta[next_id] = (p, kind)
        by_piece[p] = next_id
    return meta


def build_model(final: list[tuple[str, float]], meta: dict[int, tuple[str, PieceType]], spec: TrainerSpec,
                normalizer: NormalizerSpec) -> ModelProto:  # fmt: skip
    """The ``ModelProto``: special pieces at their ids, the others in score order."""
    size = len(final) + len(meta)
    if size < spec.vocab_size:
        if spec.hard_vocab_limit:
            raise LLMLabError(
                f"the corpus only supports {size} pieces, fewer than vocab_size {spec.vocab_size}; "
                "lower vocab_size or pass hard_vocab_limit=False"
            )
        spec.vocab_size = size
    rest = iter(final)
    pieces = []
    for i in range(spec.vocab_size):
        if i in meta:
            pieces.append(SentencePiece(meta[i][0], 0.0, meta[i][1]))
        else:
            piece, score = next(rest)
            pieces.append(SentencePiece(piece, score))
    return ModelProto(pieces=pieces, trainer_spec=spec, normalizer_spec=normalizer)


class _Progress:
    """A rich progress bar on stderr over the pruning rounds (only when asked, or when stderr
    is a terminal); before EM it shows what is being read."""

    def __init__(self, show: bool):
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                            console=err_console, transient=True, disable=not show)  # fmt: skip
        self.task = self.bar.add_task("training Unigram", total=None)

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        return self

    def update(self, message: str, total: int | None = None) -> None:
        self.bar.update(self.task, description=f"Unigram: {message}", **({"total": total} if total else {}))

    def advance(self) -> None:
        self.bar.advance(self.task)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]
