"""Citations: verbatim quotes with offsets, numbered in order of first use, checked on disk.

Every answer is checked when it is made (:func:`verify_answer`): each citation's quote must be
``source[start:end]`` of the file as it is on disk now, and that file must be the one ingested
(same sha256). A citation that fails is dropped with the sentences resting on it, and the
answer says the store is stale; the files are kept in memory (:class:`SourceTexts`) and read
again only when they change.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.corpus import decode_source, read_source, resolve_source
from assistant.errors import IngestError
from assistant.prompts import STALE_ANSWER, STALE_NOTE
from assistant.types import Answer, Citation, Passage

MARKER_RE = re.compile(r"\[(\d{1,3})\]")
MARKER_RUN_RE = re.compile(r"(?:\s*\[\d{1,3}\])+[.,;:!?…\"”»)]*")


@dataclass(frozen=True)
class SourceText:
    """A corpus file as read: its text and the sha256 of its bytes."""

    text: str
    sha256: str


class SourceTexts:
    """Corpus files as they are on disk, each read once and again only when it changes (its
    size, modification time or inode). Owned by one Assistant; safe across threads."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[tuple[int, int, int], SourceText]] = {}
        self._lock = threading.Lock()

    def get(self, source: str) -> SourceText | None:
        """The file now, or None when it is gone or unreadable."""
        path = resolve_source(source)
        try:
            st = path.stat()
        except OSError:
            return None
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        with self._lock:
            held = self._files.get(source)
        if held is not None and held[0] == key:
            return held[1]
        try:
            data = path.read_bytes()
            read = SourceText(decode_source(data, path.name, warn=False),
                              hashlib.sha256(data).hexdigest())  # fmt: skip
        except (OSError, IngestError):
            return None
        with self._lock:
            self._files[source] = (key, read)
        return read


def verify_answer(answer: Answer, files: Mapping[str, str], sources: SourceTexts) -> Answer:
    """``answer`` without the citations whose file changed since it was ingested (``files``:
    source -> sha256 as ingested, "" when unknown) or whose quote is no longer there; the
    sentences citing only those go too, and a note (or, with nothing left, the text) says the
    store is stale. See-also passages that no longer match their file are left out as well."""
    bad = [c for c in answer.citations if not _current(c.source, c.start, c.quote, files, sources)]
    see_also = [p for p in answer.see_also if _current(p.source, p.start, p.text, files, sources)]
    if not bad:
        return replace(answer, see_also=see_also) if see_also != answer.see_also else answer
    names = ", ".join(sorted({Path(c.source).name for c in bad}))
    text = _without_markers(answer.text, {c.n for c in bad})
    text, citations = renumber(text, [c for c in answer.citations if c not in bad])
    if not citations:
        return replace(answer, text=STALE_ANSWER.format(files=names), citations=[],
                       abstained=True, see_also=see_also)  # fmt: skip
    note = STALE_NOTE.format(files=names, count=len(bad))
    return replace(answer, text=text, citations=citations, see_also=see_also,
                   notes=[*answer.notes, note])  # fmt: skip


def _current(
    source: str, start: int, quote: str, files: Mapping[str, str], sources: SourceTexts
) -> bool:
    now = sources.get(source)
    if now is None:
        return False
    ingested = files.get(source, "")
    if ingested and now.sha256 != ingested:
        return False
    return now.text[start : start + len(quote)] == quote


def _without_markers(text: str, dropped: set[int]) -> str:
    """``text`` without the stretches whose markers all name a dropped citation.

    A stretch runs from the end of one run of markers to the end of the next (with the
    punctuation just after it): the excerpt answerer's window and its ``[n]``, or the LLM's
    sentence ``Claim [1].``. A stretch citing others as well keeps them.
    """
    kept: list[str] = []
    pos = 0
    for m in MARKER_RUN_RE.finditer(text):
        stretch = text[pos : m.end()]
        pos = m.end()
        if {int(n) for n in MARKER_RE.findall(m.group(0))} <= dropped:
            continue
        kept.append(stretch)
    kept.append(text[pos:])
    return "".join(kept).strip()


def is_verbatim(source: str, start: int, end: int, quote: str) -> bool:
    """Whether ``quote`` is exactly ``source[start:end]`` of the file on disk (read now)."""
    try:
        return 0 <= start < end and read_source(resolve_source(source))[start:end] == quote
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
