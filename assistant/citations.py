"""Citations: verbatim quotes with offsets, numbered in order of first use, checked on disk."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from assistant.corpus import read_source, resolve_source
from assistant.types import Citation, Passage

MARKER_RE = re.compile(r"\[(\d{1,3})\]")


@lru_cache(maxsize=64)
def _source_text(path: str, mtime_ns: int) -> str:
    return read_source(Path(path))


def source_text(source: str) -> str:
    """The decoded text of a corpus file, cached until the file changes."""
    path = resolve_source(source)
    return _source_text(str(path), path.stat().st_mtime_ns)


def is_verbatim(source: str, start: int, end: int, quote: str) -> bool:
    """Whether ``quote`` is exactly ``source[start:end]`` of the file on disk."""
    try:
        return 0 <= start < end and source_text(source)[start:end] == quote
    except OSError:
        return False


def make_citation(
    n: int, p: Passage, start: int, end: int, linked: list[Passage] | None = None
) -> Citation:
    """A citation of ``p`` quoting ``source[start:end]`` (which must lie inside ``p``)."""
    if not (p.start <= start < end <= p.end):
        raise ValueError(f"quote {start}-{end} is outside passage {p.id}")
    annotated = [q for q in (linked or []) if q.id in p.refs] if p.kind == "note" else []
    return Citation(
        n=n,
        passage_id=p.id,
        doc_id=p.doc_id,
        title=p.title,
        author=p.author,
        section=p.section,
        kind=p.kind,
        source=p.source,
        start=start,
        end=end,
        quote=p.text[start - p.start : end - p.start],
        score=round(float(p.score), 4),
        date=p.date,
        passage_text=p.text,
        passage_start=p.start,
        annotates=p.refs if p.kind == "note" else (),
        annotated_text=annotated[0].text if annotated else "",
    )


def find_quote(p: Passage, quote: str) -> tuple[int, int] | None:
    """Offsets of ``quote`` inside passage ``p``, exact match only."""
    i = p.text.find(quote)
    return (p.start + i, p.start + i + len(quote)) if quote and i >= 0 else None


def renumber(text: str, citations: list[Citation]) -> tuple[str, list[Citation]]:
    """Markers renumbered 1, 2, 3 by first use; unknown markers dropped; unused citations too."""
    by_n = {c.n: c for c in citations}
    order: dict[int, int] = {}
    for m in MARKER_RE.finditer(text):
        old = int(m.group(1))
        if old in by_n and old not in order:
            order[old] = len(order) + 1

    def swap(m: re.Match[str]) -> str:
        old = int(m.group(1))
        return f"[{order[old]}]" if old in order else ""

    new_text = re.sub(r"\s+([.,;:])", r"\1", MARKER_RE.sub(swap, text)).strip()
    new_cites = [_with_n(by_n[old], new) for old, new in sorted(order.items(), key=lambda x: x[1])]
    return new_text, new_cites


def _with_n(c: Citation, n: int) -> Citation:
    from dataclasses import replace

    return replace(c, n=n)
