"""Evidence windows: a chosen sentence together with what it leans on, as one exact span.

A sentence rarely stands alone in these texts. "He called Stalin ..." needs the sentence that
names him; "Trotsky wrote:" needs the quotation after it, and a quotation the lead-in that says
who is speaking. A window is a run of sentences of one passage, so its quote is still exactly
``source[start:end]``; what it leans on across a passage boundary becomes a window of its own
in the neighbouring passage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assistant.notes import NOTE_LABEL_RE
from assistant.parsing import clean
from assistant.sentences import (
    leads_in,
    leans_back,
    sentence_spans,
)
from assistant.types import Passage

Neighbour = Callable[[Passage], "Passage | None"]


def spans_of(p: Passage) -> list[tuple[int, int]]:
    """A passage's sentence spans (source offsets): recorded at ingest, else split now."""
    if p.sentences:
        return list(p.sentences)
    return [(p.start + u.start, p.start + u.end) for u in sentence_spans(p.text, 0, len(p.text))]


def sentence_text(p: Passage, span: tuple[int, int]) -> str:
    """The cleaned text of one of the passage's sentences (what an answer shows)."""
    return clean(p.text[span[0] - p.start : span[1] - p.start])


@dataclass(frozen=True)
class Window:
    """Sentences ``first``..``last`` of ``passage``, shown and quoted as one span."""

    passage: Passage
    first: int
    last: int
    score: float = 0.0

    @property
    def start(self) -> int:
        return spans_of(self.passage)[self.first][0]

    @property
    def end(self) -> int:
        return spans_of(self.passage)[self.last][1]

    @property
    def text(self) -> str:
        """What the answer shows: the cleaned span, a note's label ("- 14.", "[3]") left off."""
        raw = self.passage.text[self.start - self.passage.start : self.end - self.passage.start]
        return clean(NOTE_LABEL_RE.sub("", raw, count=1) if self.first == 0 else raw)

    def overlaps(self, other: Window) -> bool:
        return self.passage.id == other.passage.id and not (
            self.last < other.first or other.last < self.first
        )

    def touches(self, other: Window) -> bool:
        return self.passage.id == other.passage.id and (
            self.overlaps(other) or self.last + 1 == other.first or other.last + 1 == self.first
        )

    def merged(self, other: Window) -> Window:
        return Window(
            self.passage,
            min(self.first, other.first),
            max(self.last, other.last),
            max(self.score, other.score),
        )


def window(
    p: Passage,
    i: int,
    score: float,
    asks_person: bool,
    max_words: int,
    previous: Neighbour,
    following: Neighbour,
) -> list[Window]:
    """The window around sentence ``i`` of ``p``, and any piece of a neighbouring passage it
    leans on; empty when it cannot stand (a lead-in whose quotation is nowhere to be had)."""
    spans = spans_of(p)
    texts = [sentence_text(p, s) for s in spans]
    first, last = i, i
    words = len(texts[i].split())
    # the sentences before it that it leans on: a pronoun, a dash, a lead-in naming the speaker
    while (
        first > 0
        and words < max_words
        and (leans_back(texts[first], asks_person) or leads_in(texts[first - 1]))
    ):
        first -= 1
        words += len(texts[first].split())
        asks_person = False  # one step back names the person; more would drift
    # a lead-in brings the quotation after it
    while leads_in(texts[last]) and last + 1 < len(spans) and words < max_words:
        last += 1
        words += len(texts[last].split())
    out = [Window(p, first, last, score)]
    if first == 0 and leans_back(texts[0], asks_person):
        prev = previous(p)
        if prev is not None and spans_of(prev):
            out.insert(0, Window(prev, len(spans_of(prev)) - 1, len(spans_of(prev)) - 1, score))
    if leads_in(texts[last]):
        nxt = following(p)
        if nxt is None or not spans_of(nxt):
            return [] if first == last else [Window(p, first, last - 1, score)]
        out.append(Window(nxt, 0, 0, score))
    return out
