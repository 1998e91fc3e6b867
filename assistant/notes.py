"""Notes: the markers that cite them, the notes themselves, and the links between the two.

Notes come in four shapes: ``<sup>n</sup>`` footnotes (numbering may restart per page), ``[n]``
notes on a line of their own, runs of ``n. text`` endnotes after the text that cites them (per
chapter in a book, at the end elsewhere), and superscript-digit markers (``⁴``) pointing at such
endnotes. :mod:`assistant.parsing` finds the first two shapes while it classifies paragraphs;
this module finds the markers, turns runs of numbered paragraphs into endnotes, links every
marker to its note, and tells a bibliographic note from a substantive one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.sentences import TERMINAL, is_prose, is_reference, sentence_spans

if TYPE_CHECKING:
    from assistant.parsing import Block

SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUP_TO_DIGIT = str.maketrans(SUPERSCRIPTS, "0123456789")

SUP_TAG_RE = re.compile(r"<sup>\s*(\d{1,3})\s*</sup>")
SUP_DIGITS_RE = re.compile(f"(?<=[^\\s{SUPERSCRIPTS}])[{SUPERSCRIPTS}]{{1,3}}")
BRACKET_RE = re.compile(r"\s?\[(\d{1,3})\]")
FOOTNOTE_HEAD_RE = re.compile(r"<sup>\s*(\d{1,3})\s*</sup>\s*")
BRACKET_NOTE_RE = re.compile(r"\[(\d{1,3})\]\s*")
NUMBERED_RE = re.compile(r"\s*(?:[-*]\s+)?\[?(\d{1,3})\.(?:\]\(#[^)]*\))?\s+")
NOTE_LABEL_RE = re.compile(
    r"^\s*(?:<sup>\s*\d{1,3}\s*</sup>|\[\d{1,3}\]|(?:[-*]\s+)?\[?\d{1,3}\.(?:\]\(#[^)]*\))?)\s*"
)


def note_kind(text: str, note: Block) -> str:
    """Whether a note is "bibliographic": its text, label aside, is a reference ("Там же,
    С. 357 [Ibid., p. 357].", "Ленин, ПСС, Т. 45, С. 343 [...]") with no sentence of prose in
    it, or nothing; else "substantive" ("... p. 81]. The French proverb is: ...")."""
    # not cleaned: the italics that mark titles of works ("*Так это было*") must stay
    body = " ".join(" ".join(text[s:e] for s, e in note.segments).split())
    body = NOTE_LABEL_RE.sub("", body, count=1).strip()
    if not any(c.isalpha() for c in body):
        return "bibliographic"
    if not is_reference(body):
        return "substantive"
    prose = any(is_prose(text[u.start : u.end]) for s, e in note.segments
                for u in sentence_spans(text, s, e))  # fmt: skip
    return "substantive" if prose else "bibliographic"


def find_markers(text: str, start: int, end: int) -> list[tuple[str, int]]:
    par = text[start:end]
    found = [(m.group(1), start + m.start()) for m in SUP_TAG_RE.finditer(par)]
    found += [
        (m.group(0).translate(_SUP_TO_DIGIT), start + m.start())
        for m in SUP_DIGITS_RE.finditer(par)
    ]
    found += [(m.group(1), start + m.start()) for m in BRACKET_RE.finditer(par)]
    return sorted(found, key=lambda x: x[1])


def _scopes(blocks: list[Block]) -> list[list[int]]:
    """Runs of block indexes between headings (a chapter with its endnotes)."""
    scopes: list[list[int]] = [[]]
    for i, b in enumerate(blocks):
        if b.kind == "heading":
            scopes.append([])
        else:
            scopes[-1].append(i)
    return [s for s in scopes if s]


def mark_endnotes(text: str, blocks: list[Block]) -> list[Block]:
    """Turn runs of ``n. text`` paragraphs after a scope's last marker into notes.

    A scope that already has ``<sup>``/``[n]`` notes keeps its numbered paragraphs as text
    (a letter's numbered paragraphs). An unnumbered paragraph inside a run continues the
    note before it when that note is unfinished.
    """
    absorbed: set[int] = set()
    for scope in _scopes(blocks):
        if any(blocks[i].kind == "note" for i in scope):
            continue
        labels = {lab for i in scope for lab, _ in blocks[i].markers}
        last_marker = max((i for i in scope if blocks[i].markers), default=None)
        if last_marker is None:
            continue
        current: Block | None = None
        for i in scope:
            b = blocks[i]
            if i <= last_marker or b.kind != "paragraph":
                continue
            m = NUMBERED_RE.match(text, b.start)
            label = m.group(1) if m and m.start() == b.start else None
            follows = current is not None and label == str(int(current.note_label) + 1)
            if label is not None and (label in labels or follows):
                b.kind, b.note_label, b.markers = "note", label, []
                current = b
            elif current is not None and _continues(text, current, b):
                current.segments.extend(b.segments)
                absorbed.add(i)
            else:
                current = None
    return [b for i, b in enumerate(blocks) if i not in absorbed]


def _continues(text: str, note: Block, b: Block) -> bool:
    """An unnumbered paragraph after a note continues it when the note is unfinished."""
    return text[note.end - 1] not in TERMINAL or text[b.start].islower()


def link_notes(text: str, blocks: list[Block]) -> None:
    """Point each marker at its note: the next note with that label, else the nearest before.

    Within a chapter the endnotes follow the text; ``<sup>`` footnotes restart per page and
    sit right after the paragraph that a page break interrupted, so "next with that label"
    finds the right one in both cases.
    """
    notes_by_label: dict[str, list[int]] = {}
    for i, b in enumerate(blocks):
        if b.kind == "note":
            notes_by_label.setdefault(b.note_label, []).append(i)
    chapter = _chapter_index(blocks)
    for i, b in enumerate(blocks):
        for label, pos in b.markers:
            target = _resolve(blocks, notes_by_label.get(label, []), i, pos, chapter)
            if target is None:
                continue
            b.links.append((pos, target))
            if target not in b.note_targets:
                b.note_targets.append(target)
                blocks[target].cited_by.append(i)


def _chapter_index(blocks: list[Block]) -> list[int]:
    idx, out = 0, []
    for b in blocks:
        if b.kind == "heading":
            idx += 1
        out.append(idx)
    return out


def _resolve(
    blocks: list[Block], candidates: list[int], i: int, pos: int, chapter: list[int]
) -> int | None:
    same = [c for c in candidates if chapter[c] == chapter[i]] or candidates
    after = [c for c in same if blocks[c].start > pos]
    if after:
        return after[0]
    before = [c for c in same if blocks[c].start < pos]
    return before[-1] if before else None
