"""Evaluation metrics as pure functions: retrieval ranks, key facts, citations, abstention, latency.

Relevance is textual: a passage is relevant to a question when it holds a sizeable verbatim part
of one of its evidence quotes (see :func:`is_relevant`), so evidence naming a file by its
original name still matches passages of the renamed copy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence

from assistant.types import Citation

MIN_SHARE = 0.6  # of the quote a passage must hold verbatim ...
MIN_CHARS = 120  # ... or this many characters of it, whichever is less
MIN_INSIDE_CHARS = 40  # a passage wholly inside a quote counts when at least this long
# Floor of the shared stretch: 60% of a short quote would be a stock phrase any passage may
# share ("the Central Committee"); a quote shorter than this must be held whole.
MIN_SHARED_CHARS = 40

_SPACE = re.compile(r"\s+")
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# Typographic variants an answer may spell plainly; key facts should match either way.
_PLAIN = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})

SourceReader = Callable[[str], str]


def normalize(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends."""
    return _SPACE.sub(" ", text).strip()


def has_common_substring(a: str, b: str, length: int) -> bool:
    """Whether ``a`` and ``b`` share a substring of ``length`` characters."""
    if length <= 0:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return any(short[i : i + length] in long for i in range(len(short) - length + 1))


def is_relevant(passage_text: str, quote: str) -> bool:
    """Whether a passage holds a sizeable verbatim part of an evidence quote.

    Whitespace is normalised on both sides. The passage is relevant when it contains the whole
    quote, when its longest common substring with the quote reaches ``min(60% of the quote,
    120 characters)`` (but at least 40 characters, or the whole of a shorter quote), or when it
    lies wholly inside the quote and is at least 40 characters.
    """
    passage, quote = normalize(passage_text), normalize(quote)
    if not passage or not quote:
        return False
    if quote in passage or (len(passage) >= MIN_INSIDE_CHARS and passage in quote):
        return True
    needed = max(
        math.ceil(min(MIN_SHARE * len(quote), MIN_CHARS)), min(len(quote), MIN_SHARED_CHARS)
    )
    return has_common_substring(passage, quote, needed)


def relevance(passage_texts: Sequence[str], quotes: Sequence[str]) -> list[bool]:
    """Relevance of each ranked passage: relevant to at least one of the quotes."""
    return [any(is_relevant(text, q) for q in quotes) for text in passage_texts]


def hit_at(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant passage is among the first ``k``, else 0.0."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int = 10) -> float:
    """1 / rank of the first relevant passage within the first ``k``; 0.0 when none."""
    for rank, rel in enumerate(relevant[:k], start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def ndcg(relevant: Sequence[bool], n_relevant: int, k: int = 10) -> float:
    """Binary-relevance nDCG@k.

    Args:
        relevant: relevance of the ranked passages, best first.
        n_relevant: how many relevant passages an ideal ranking would put first (e.g. the
            number of evidence quotes); raised to the relevant passages actually retrieved so
            the score never exceeds 1.
        k: the cut-off.
    """
    top = relevant[:k]
    ideal_count = min(k, max(n_relevant, sum(top)))
    if ideal_count == 0:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 1) for rank, rel in enumerate(top, start=1) if rel)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal_count + 1))
    return dcg / ideal


def _plain(text: str) -> str:
    return normalize(text).casefold().translate(_PLAIN)


def fact_alternatives(fact: str) -> list[str]:
    """The alternatives of a key fact: ``"Trotsky|Trotskii"`` -> ``["Trotsky", "Trotskii"]``."""
    return [alt.strip() for alt in fact.split("|") if alt.strip()]


def contains_fact(text: str, fact: str) -> bool:
    """Whether any alternative of ``fact`` is in ``text`` (case- and whitespace-insensitive)."""
    plain = _plain(text)
    return any(_plain(alt) in plain for alt in fact_alternatives(fact))


def key_fact_recall(answer_text: str, must_include: Sequence[str]) -> float | None:
    """Share of key facts found in the answer; ``None`` when there are none to find."""
    if not must_include:
        return None
    return sum(contains_fact(answer_text, fact) for fact in must_include) / len(must_include)


def answer_words(text: str) -> int:
    """Words in an answer, not counting ``[n]`` citation markers or lone punctuation."""
    return sum(any(ch.isalnum() for ch in w) for w in _MARKER.sub(" ", text).split())


def citation_markers(text: str) -> list[int]:
    """The citation numbers in ``text``, in order: ``"a [1] b [2, 3]"`` -> ``[1, 2, 3]``."""
    return [int(n) for group in _MARKER.findall(text) for n in group.split(",")]


def citation_problems(text: str, citations: Sequence[Citation], read: SourceReader) -> list[str]:
    """Why an answer's citations are invalid; empty when they are valid.

    Every ``[n]`` in ``text`` must name a citation, and every citation's quote must be
    ``read(source)[start:end]``.

    Args:
        text: the answer text with its ``[n]`` markers.
        citations: the answer's citations.
        read: returns a source file's text from a citation's ``source``; may raise ``OSError``.
    """
    numbers = {c.n for c in citations}
    problems = [f"[{n}] has no citation" for n in sorted(set(citation_markers(text)) - numbers)]
    for c in citations:
        try:
            source = read(c.source)
        except (OSError, ValueError) as exc:
            problems.append(f"[{c.n}] source {c.source} cannot be read ({exc})")
            continue
        if not 0 <= c.start <= c.end <= len(source) or source[c.start : c.end] != c.quote:
            problems.append(f"[{c.n}] quote is not {c.source}[{c.start}:{c.end}]")
    return problems


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Every ``(start, end)`` where ``quote`` occurs in ``text``."""
    spans, start = [], text.find(quote) if quote else -1
    while start >= 0:
        spans.append((start, start + len(quote)))
        start = text.find(quote, start + 1)
    return spans


def is_supported(citations: Sequence[Citation], quotes: Sequence[str], read: SourceReader) -> bool:
    """Whether some cited quote overlaps an evidence quote in the same source file.

    Overlap is by character offsets: the evidence quote is located in the cited file by its
    text, and the two ``[start, end)`` ranges must share at least one character.
    """
    for c in citations:
        try:
            source = read(c.source)
        except (OSError, ValueError):
            continue
        for quote in quotes:
            if any(s < c.end and c.start < e for s, e in quote_spans(source, quote)):
                return True
    return False


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the values that are not ``None``; ``None`` when there are none."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
