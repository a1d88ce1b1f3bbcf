"""WordPiece, BERT's tokenizer: greedy longest-match-first pieces, "##" marking the inside of a word.

The third rung of the BERT ladder: :mod:`bert_normalizer` cleans the text, :mod:`bert_pretokenizer`
cuts it into words, and this file cuts each word into vocabulary pieces. Unlike BPE, which
replays learned merges, WordPiece only needs the vocabulary (``vocab.txt``):

1. a word longer than ``max_input_chars_per_word`` (100) is ``[UNK]``;
2. from the start of the word, take the longest prefix that is in the vocabulary;
3. from where it ended, take the longest continuation that is in the vocabulary *with the
   ``##`` prefix* ("unaffable" -> ``una ##ffa ##ble``); repeat to the end of the word;
4. if some position has no piece at all, the *whole* word becomes one ``[UNK]``.

:meth:`WordPieceTokenizer.encode_for_model` then frames the ids as BERT expects,
``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]`` with segment ids, like HF's BERT post-processor.
Reference: Schuster & Nakajima 2012 (WordPiece); Devlin et al. 2019 (BERT), ``tokenization.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from llmlab.errors import LLMLabError
from llmlab.tokenizers.base import SpecialPolicy, SpecialTokenError, Tokenizer, _special_pattern
from llmlab.tokenizers.bert_normalizer import BertNormalizer
from llmlab.tokenizers.bert_pretokenizer import pre_tokenize, split_words

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
Truncation = Literal["longest_first", "only_first", "only_second"]


@dataclass
class BertInputs:
    """What a BERT model takes: one entry per position, ``[CLS]``/``[SEP]``/``[PAD]`` included."""

    ids: list[int]  # token ids
    type_ids: list[int]  # segment: 0 for "[CLS] a [SEP]", 1 for "b [SEP]"
    attention_mask: list[int]  # 1 for real tokens, 0 for padding
    offsets: list[tuple[int, int]]  # character span in its own text; (0, 0) for added tokens


class WordPieceTokenizer(Tokenizer):
    """BERT's WordPiece with its normaliser, pre-tokenizer, post-processor and decoder."""

    name = "wordpiece"

    def __init__(
        self,
        vocab: Mapping[str, int] | Sequence[str],
        *,
        normalizer: BertNormalizer | None = None,
        unk_token: str = "[UNK]",
        continuing_subword_prefix: str = "##",
        max_input_chars_per_word: int = 100,
        special_tokens: Iterable[str] | None = None,
        cleanup: bool = True,
    ):
        """``vocab``: token -> id, or tokens in id order (as in ``vocab.txt``). ``special_tokens``
        defaults to those of ``[PAD] [UNK] [CLS] [SEP] [MASK]`` that the vocabulary holds."""
        self.vocab = dict(vocab) if isinstance(vocab, Mapping) else {t: i for i, t in enumerate(vocab)}
        self._tokens = {i: t for t, i in self.vocab.items()}
        if len(self._tokens) != len(self.vocab):
            raise ValueError("two tokens share an id")
        if unk_token not in self.vocab:
            raise ValueError(f"the unknown token {unk_token!r} is not in the vocabulary")
        self.normalizer = normalizer or BertNormalizer()
        self.unk_token, self.unk_id = unk_token, self.vocab[unk_token]
        self.prefix = continuing_subword_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.cleanup = cleanup  # the decoder's "no space before . , ! ?" rule
        specials = (
            [t for t in SPECIAL_TOKENS if t in self.vocab] if special_tokens is None else special_tokens
        )
        if missing := [t for t in specials if t not in self.vocab]:
            raise ValueError(f"special tokens not in the vocabulary: {', '.join(missing)}")
        self.special_tokens = {t: self.vocab[t] for t in specials}
        self._special_ids = set(self.special_tokens.values())
        # No piece is longer than the longest token, so steps 2-3 never try a longer candidate.
        self._longest = max(len(t) for t in self.vocab)
        self._cache: dict[str, tuple[list[int], list[tuple[int, int, int]]]] = {}

    # -- loading and saving ---------------------------------------------------------------
    @classmethod
    def from_vocab_txt(cls, path: str | Path, *, lowercase: bool = True) -> WordPieceTokenizer:
        """BERT from its ``vocab.txt``, as ``tokenizers.BertWordPieceTokenizer(path, lowercase=...)``."""
        from llmlab.tokenizers.formats.vocab_txt import read_vocab_txt

        return cls(read_vocab_txt(path), normalizer=BertNormalizer(lowercase=lowercase))

    @classmethod
    def from_tokenizer_json(cls, path: str | Path) -> WordPieceTokenizer:
        """A WordPiece ``tokenizer.json`` (HF format), e.g. all-MiniLM-L6-v2's."""
        from llmlab.tokenizers.formats.hf_wordpiece import load_hf_wordpiece

        return load_hf_wordpiece(path)

    def save_vocab_txt(self, path: str | Path) -> None:
        """Write ``vocab.txt``: one token per line, line number = id."""
        from llmlab.tokenizers.formats.vocab_txt import write_vocab_txt

        if self.vocab_size != len(self.vocab):
            raise LLMLabError("vocab.txt cannot hold this vocabulary: its ids have gaps")
        write_vocab_txt([self._tokens[i] for i in range(self.vocab_size)], path)

    def save_tokenizer_json(self, path: str | Path) -> None:
        """Write an HF ``tokenizer.json`` that ``tokenizers.Tokenizer.from_file`` loads."""
        import json

        from llmlab.tokenizers.formats.hf_wordpiece import wordpiece_to_hf_json

        text = json.dumps(wordpiece_to_hf_json(self), ensure_ascii=False, indent=2)
        Path(path).write_text(text, encoding="utf-8")

    # -- the vocabulary -------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return max(self._tokens) + 1

    def id_to_token(self, token_id: int) -> str:
        try:
            return self._tokens[token_id]
        except KeyError:
            raise LLMLabError(f"id {token_id} is not in the {self.name} vocabulary") from None

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    # -- WordPiece itself -----------------------------------------------------------------
    def word_pieces(self, word: str) -> list[tuple[int, int, int]]:
        """Steps 1-4 on one word: ``(id, start, end)`` per piece, character offsets in ``word``."""
        n = len(word)
        if n > self.max_input_chars_per_word:
            return [(self.unk_id, 0, n)]  # 1. too long to bother
        pieces = []
        start = 0
        while start < n:
            for end in range(min(n, start + self._longest), start, -1):  # 2./3. longest first
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                token_id = self.vocab.get(piece)
                if token_id is not None:
                    break
            else:
                return [(self.unk_id, 0, n)]  # 4. nothing fits here: the whole word is unknown
            pieces.append((token_id, start, end))
            start = end
        return pieces

    def _lookup(self, word: str) -> tuple[list[int], list[tuple[int, int, int]]]:
        """The ids and pieces of ``word``, remembered: real text repeats its words a lot."""
        found = self._cache.get(word)
        if found is None:
            if len(self._cache) > 100_000:
                self._cache.clear()  # bounded memory on endless streams of new words
            pieces = self.word_pieces(word)
            found = self._cache[word] = ([p[0] for p in pieces], pieces)
        return found

    def encode_ordinary(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in split_words(self.normalizer.normalize(text)):
            ids += self._lookup(word)[0]
        return ids

    def encode_with_offsets(
        self, text: str, *, allowed_special: SpecialPolicy = (), disallowed_special: SpecialPolicy = "all"
    ) -> list[tuple[int, int, int]]:
        """``(id, start, end)`` per token, character offsets into ``text`` (HF's offsets)."""
        out: list[tuple[int, int, int]] = []
        for start, end, special_id in self._split_specials(text, allowed_special, disallowed_special):
            if special_id is not None:
                out.append((special_id, start, end))
                continue
            normalized, source = self.normalizer.normalize_with_sources(text[start:end])
            for word, w_start, _ in pre_tokenize(normalized):
                for token_id, s, e in self._lookup(word)[1]:
                    # A piece spans normalised characters [s, e) of the word; map both ends back.
                    first, last = source[w_start + s], source[w_start + e - 1]
                    out.append((token_id, start + first, start + last + 1))
        return out

    def _split_specials(
        self, text: str, allowed_special: SpecialPolicy, disallowed_special: SpecialPolicy
    ) -> list[tuple[int, int, int | None]]:
        """``text`` as spans ``(start, end, special id or None)``, under the special-token policy."""
        allowed, disallowed = self._policy(allowed_special, disallowed_special)
        if disallowed and (found := _special_pattern(disallowed).search(text)):
            raise SpecialTokenError(
                f"the text contains the special token {found.group()!r} at character {found.start()}; "
                "pass allowed_special to encode it as a special token, or disallowed_special=() "
                "to encode it as ordinary text"
            )
        spans: list[tuple[int, int, int | None]] = []
        start = 0
        for m in _special_pattern(allowed).finditer(text) if allowed else ():
            spans += [(start, m.start(), None), (m.start(), m.end(), self.special_tokens[m.group()])]
            start = m.end()
        return [*spans, (start, len(text), None)]

    def tokenize(self, text: str) -> list[str]:
        """The token strings of :meth:`encode_ordinary` (``["una", "##ffa", "##ble"]``)."""
        return [self._tokens[i] for i in self.encode_ordinary(text)]

    def unknown_rate(self, text: str) -> float:
        """The fraction of ``[UNK]`` among the tokens of ``text`` (0.0 for no tokens)."""
        ids = self.encode_ordinary(text)
        return ids.count(self.unk_id) / len(ids) if ids else 0.0

    # -- BERT's framing ---------------------------------------------------------------------
    def encode_for_model(
        self,
        text: str,
        pair: str | None = None,
        *,
        max_length: int | None = None,
        truncation: Truncation = "longest_first",
        padding: bool = False,
        allowed_special: SpecialPolicy = (),
        disallowed_special: SpecialPolicy = "all",
    ) -> BertInputs:
        """``[CLS] text [SEP]`` (+ ``pair [SEP]``) as HF's ``tokenizer.encode(text, pair)`` gives it.

        ``max_length`` counts the added tokens; longer inputs are cut as HF's ``truncation``
        strategy of the same name cuts them; ``padding`` then fills up to ``max_length`` with
        ``[PAD]``. Pass ``allowed_special="all"`` for HF's default of reading "[MASK]" in the
        text as the mask token.
        """
        policy = {"allowed_special": allowed_special, "disallowed_special": disallowed_special}
        a = self.encode_with_offsets(text, **policy)  # type: ignore[arg-type]
        b = None if pair is None else self.encode_with_offsets(pair, **policy)  # type: ignore[arg-type]
        if max_length is not None:
            a, b = _truncate(a, b, max_length - (2 if b is None else 3), truncation)
        cls_id, sep_id = self._required("[CLS]"), self._required("[SEP]")
        pieces = [(cls_id, 0, 0), *a, (sep_id, 0, 0)]
        type_ids = [0] * len(pieces)
        if b is not None:
            pieces += [*b, (sep_id, 0, 0)]
            type_ids += [1] * (len(b) + 1)
        mask = [1] * len(pieces)
        if padding and max_length is not None:
            n = max(0, max_length - len(pieces))
            pieces += [(self._required("[PAD]"), 0, 0)] * n
            type_ids += [0] * n
            mask += [0] * n
        return BertInputs([p[0] for p in pieces], type_ids, mask, [(s, e) for _, s, e in pieces])

    def _required(self, token: str) -> int:
        if token not in self.vocab:
            raise LLMLabError(f"the vocabulary has no {token} token, which BERT's framing needs")
        return self.vocab[token]

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = True) -> str:
        """Text back as HF's WordPiece decoder writes it: pieces joined with spaces, ``##`` glued
        to the piece before, and (``cleanup``) no space before ``. , ! ?``. Like HF's ``decode``,
        special tokens (``[UNK]`` included) are skipped unless ``skip_special_tokens=False``."""
        tokens = [self.id_to_token(i) for i in ids if not (skip_special_tokens and i in self._special_ids)]
        parts = []
        for i, token in enumerate(tokens):
            if i > 0:  # subtle: a first token keeps its "##", as in HF
                token = token[len(self.prefix) :] if token.startswith(self.prefix) else " " + token
            parts.append(_cleanup(token) if self.cleanup else token)
        return "".join(parts)


def _cleanup(token: str) -> str:
    """HF's decoder clean-up, applied to each token (with its leading space) on its own.

    # subtle: because it sees one token at a time, only the first four rules ever fire on BERT
    pieces (" do not" never sits inside one token), so "don ' t" stays as it is.
    """
    for dirty, clean in _CLEANUP:
        token = token.replace(dirty, clean)
    return token


_CLEANUP = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]  # fmt: skip


def _truncate(
    a: list[tuple[int, int, int]], b: list[tuple[int, int, int]] | None, budget: int, strategy: Truncation
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]] | None]:
    """Cut ``a`` (and ``b``) to ``budget`` tokens in all, exactly as HF's ``truncate_encodings``."""
    if budget < 0:
        raise LLMLabError(f"max_length is too small to hold the {2 if b is None else 3} added tokens")
    n_a, n_b = len(a), len(b or [])
    if n_a + n_b <= budget:
        return a, b
    if budget == 0:  # HF's special case, whatever the strategy
        return [], None if b is None else []
    if strategy == "longest_first":
        if b is None:
            return a[:budget], b
        short, long = sorted((n_a, n_b))
        long = short if short > budget else max(short, budget - short)  # the longer one gives way first
        if short + long > budget:  # both must be cut: split the budget, the extra one to the longer
            short, long = budget // 2, budget // 2 + budget % 2
        n_a, n_b = (short, long) if n_a <= n_b else (long, short)
        return a[:n_a], b[:n_b]
    if strategy == "only_second" and b is None:
        raise LLMLabError("truncation='only_second' needs a pair of texts")
    target = a if strategy == "only_first" else b
    assert target is not None
    excess = n_a + n_b - budget
    if len(target) <= excess:
        raise LLMLabError(f"truncation={strategy!r} cannot cut the text short enough for max_length")
    target = target[: len(target) - excess]
    return (target, b) if strategy == "only_first" else (a, target)
