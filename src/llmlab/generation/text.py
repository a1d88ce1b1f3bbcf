"""From token ids to streamed text: incremental decoding and stop sequences.

Two traps when text is shown token by token:

1. **A token is not a character.** Byte-level BPE splits a multi-byte character ("é" is the
   bytes C3 A9, an emoji is four bytes) across tokens, so decoding one token alone gives U+FFFD.
   :class:`IncrementalDecoder` decodes a short window of recent ids and releases new text only
   once it no longer ends in U+FFFD (the technique of vLLM's detokenizer and HF's
   ``TextStreamer``); joined, the pieces equal ``tokenizer.decode(ids)``.
2. **A stop sequence can arrive in pieces.** With stop ``"###"``, the tokens ``"#"``, ``"##"``
   must not be shown before we know whether the stop completes. :class:`StopText` holds back
   any tail of the text that could still grow into a stop sequence, and cuts the text just
   before a completed one (the stop text itself is never shown, as in OpenAI's API).
"""

from __future__ import annotations

from collections.abc import Sequence

from llmlab.tokenizers.base import Tokenizer

REPLACEMENT = "\ufffd"  # what a decoder shows for an incomplete UTF-8 sequence


class IncrementalDecoder:
    """``push(id) -> new text`` (possibly ``""``); ``flush()`` releases whatever is held back."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0  # start of the window: ids before it are never decoded again
        self.read = 0  # ids[prefix:read] decode to text that was already released

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        return self._release(final=False)

    def flush(self) -> str:
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        # decoding a window (not ids[read:] alone) keeps context that tokenizers such as
        # SentencePiece need to place spaces; byte-level tokenizers just concatenate bytes
        done = self.tokenizer.decode(self.ids[self.prefix : self.read])
        text = self.tokenizer.decode(self.ids[self.prefix :])
        if (text.endswith(REPLACEMENT) and not final) or len(text) <= len(done):
            return ""  # subtle: half a character so far; wait for its other bytes
        self.prefix, self.read = self.read, len(self.ids)
        return text[len(done) :]


class StopText:
    """Text released so far, cut before the first stop sequence and held back near a partial one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = list(stops)
        self.text = ""  # everything decoded so far (released + pending)
        self.released = 0  # characters of ``text`` already shown
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add decoded text; return what can be shown now (sets ``stopped`` on a completed stop)."""
        self.text += piece
        # released text never holds a whole stop nor ends in a partial one, so search from there
        hits = [i for i in (self.text.find(s, self.released) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            self.text = self.text[: min(hits)]
            return self._release(len(self.text))
        return self._release(len(self.text) - self._partial_tail())

    def flush(self) -> str:
        """The sample ended for another reason: show the held-back tail."""
        return self._release(len(self.text))

    def _partial_tail(self) -> int:
        """Length of the longest pending suffix that is a proper prefix of some stop sequence."""
        pending = self.text[self.released :]
        for n in range(min(len(pending), max((len(s) for s in self.stops), default=0) - 1), 0, -1):
            if any(s.startswith(pending[-n:]) for s in self.stops):
                return n
        return 0

    def _release(self, end: int) -> str:
        piece, self.released = self.text[self.released : end], max(self.released, end)
        return piece


class TextStream:
    """One sample's visible text: :class:`IncrementalDecoder`, then :class:`StopText`.

    Without a tokenizer there is no text (every piece is ``""``); stop ids still work.
    """

    def __init__(self, tokenizer: Tokenizer | None, stops: Sequence[str]) -> None:
        self.decoder = IncrementalDecoder(tokenizer) if tokenizer is not None else None
        self.stop = StopText(stops)

    @property
    def stopped(self) -> bool:
        """A stop sequence has appeared: the sample is over."""
        return self.stop.stopped

    @property
    def text(self) -> str:
        """Everything shown so far (the final text once the sample is over)."""
        return self.stop.text[: self.stop.released]

    def push(self, token_id: int) -> str:
        """Text newly shown by this token ("" while a character or a possible stop is incomplete)."""
        return self.stop.feed(self.decoder.push(token_id)) if self.decoder else ""

    def finish(self) -> str:
        """The sample ends (length or a stop id, whose own text is not shown): release the rest."""
        if self.decoder is None:
            return ""
        piece = self.stop.feed(self.decoder.flush())
        return piece if self.stop.stopped else piece + self.stop.flush()
