"""Corpus text as a reader sees it: markup removed or turned into styles, offsets kept.

The corpus files carry light markup: ``<sup>12</sup>`` and ``[26]`` note markers,
``*italic*``, ``**bold**``, links to nowhere (``[Foreword](#)``, a note's ``- [45.](#)``
label) and ``<https://...>`` addresses. :func:`text_runs` cuts a text into the stretches a
reader sees, each with its style and its offsets: every run's ``text`` is
``source[start:end]`` exactly, so a quote can still be highlighted at its offsets after the
markup is gone. :func:`plain_text` is the same for a terminal (note markers as superscript
digits). Nothing here changes a file; the web page and the terminal both render from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# Superscript forms of the digits, for note markers shown in plain text.
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
# One alternative per kind of markup; the named group says which matched.
_TOKEN = re.compile(
    r"(?P<sup><sup>\s*(?P<sup_text>[0-9A-Za-z*†‡]{1,8})\s*</sup>)"
    r"|(?P<bullet>(?m:^)[ \t]*[-*][ \t]+(?=\[\d{1,3}\.?\]\(#[^)\s]*\)))"
    r"|(?P<link_open>\[(?=[^\[\]]{1,300}\]\(#[^)\s]*\)))"
    r"|(?P<link_close>\]\(#[^)\s]*\))"
    r"|(?P<bracket>\[(?P<bracket_text>\d{1,3})\])"
    r"|(?P<url><(?P<url_text>https?://[^<>\s]{1,300})>)"
    r"|(?P<stars>\*{1,3})"
)
_OPENS_AFTER = " \t\n([{“‘\"'«—–-/"  # emphasis opens after these
_CLOSES_BEFORE = " \t\n)]}”’\"'».,;:!?…—–-/<⁰¹²³⁴⁵⁶⁷⁸⁹"  # ... close before these
ITALIC, BOLD = 1, 2


@dataclass(frozen=True)
class TextRun:
    """A stretch of text as shown: ``text == source[start:end]``, with its style."""

    text: str
    start: int
    end: int
    italic: bool = False
    bold: bool = False
    note: bool = False  # a note marker, shown as a superscript


@dataclass(frozen=True)
class _Delimiter:
    start: int
    end: int
    bits: int  # ITALIC, BOLD or both
    opens: bool
    closes: bool


def text_runs(text: str, notes: bool = True) -> list[TextRun]:
    """The visible runs of ``text``, in order; markup that pairs up becomes style.

    Args:
        text: corpus text (a passage, a quote, an answer).
        notes: read ``[26]`` as a note marker; off for an answer's text, whose ``[n]``
            are citation markers.

    An emphasis mark placed as one is removed even without its partner (a passage may begin
    inside an italic phrase); a star inside a word, or between spaces, stays.
    """
    spans: list[tuple[int, int, bool]] = []  # (start, end, is a note marker)
    delimiters: list[_Delimiter] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "bracket" and not notes:
            continue
        spans.append((pos, m.start(), False))
        pos = m.end()
        if kind in ("sup", "bracket", "url"):
            group = f"{kind}_text"
            spans.append((m.start(group), m.end(group), kind != "url"))
        elif kind == "stars":
            delimiters.append(_delimiter(text, m.start(), m.end()))
            spans.append((m.start(), m.end(), False))  # text, unless placed as emphasis
    spans.append((pos, len(text), False))
    styles = _pair(delimiters)
    return _runs(text, spans, delimiters, styles)


def _delimiter(text: str, start: int, end: int) -> _Delimiter:
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    bits = {1: ITALIC, 2: BOLD, 3: ITALIC | BOLD}[end - start]
    opens = before in _OPENS_AFTER and not after.isspace()
    closes = after in _CLOSES_BEFORE and not before.isspace()
    return _Delimiter(start, end, bits, opens, closes)


def _pair(delimiters: list[_Delimiter]) -> list[tuple[int, int, int]]:
    """(from offset, to offset, style bits) for every opener matched by a closer."""
    styles: list[tuple[int, int, int]] = []
    stack: list[tuple[_Delimiter, int]] = []  # (opener, its bits still open)
    for d in delimiters:
        want = d.bits if d.closes else 0
        while want and stack and stack[-1][1] & want:
            opener, open_bits = stack.pop()
            both = open_bits & want
            styles.append((opener.end, d.start, both))
            want &= ~both
            if open_bits & ~both:
                stack.append((opener, open_bits & ~both))
        if d.opens and want == (d.bits if d.closes else 0):  # it closed nothing
            stack.append((d, d.bits))
    return styles


def _runs(
    text: str,
    spans: list[tuple[int, int, bool]],
    delimiters: list[_Delimiter],
    styles: list[tuple[int, int, int]],
) -> list[TextRun]:
    # Any mark placed as emphasis is markup, paired or not (a passage may begin inside an
    # italic phrase); one inside a word or between spaces ("2*3", " ** ") is text.
    markup = {(d.start, d.end) for d in delimiters if d.opens or d.closes}
    runs = [
        TextRun(text[start:end], start, end, note=note)
        for start, end, note in spans
        if start < end and (start, end) not in markup
    ]
    return _split_at_styles(runs, styles)


def _split_at_styles(runs: list[TextRun], styles: list[tuple[int, int, int]]) -> list[TextRun]:
    """Runs cut wherever a style starts or ends inside them, each piece styled."""
    cuts = sorted({x for s, e, _ in styles for x in (s, e)})
    out: list[TextRun] = []
    for run in runs:
        inner = [c for c in cuts if run.start < c < run.end]
        for a, b in zip([run.start, *inner], [*inner, run.end], strict=True):
            bits = 0
            for s, e, style in styles:
                if s <= a and b <= e:
                    bits |= style
            piece = run.text[a - run.start : b - run.start]
            out.append(replace(run, text=piece, start=a, end=b, italic=bool(bits & ITALIC),
                               bold=bool(bits & BOLD)))  # fmt: skip
    return out


def split_runs(runs: list[TextRun], start: int, end: int) -> list[TextRun]:
    """The runs cut at ``start`` and ``end``, so each lies wholly inside or outside them."""
    out: list[TextRun] = []
    for run in runs:
        inner = sorted({c for c in (start, end) if run.start < c < run.end})
        for a, b in zip([run.start, *inner], [*inner, run.end], strict=True):
            out.append(replace(run, text=run.text[a - run.start : b - run.start], start=a, end=b))
    return out


def plain_text(text: str, notes: bool = True) -> str:
    """``text`` without its markup, note markers as superscript digits (for a terminal)."""
    return "".join(
        r.text.translate(_SUPERSCRIPT) if r.note else r.text for r in text_runs(text, notes)
    )
