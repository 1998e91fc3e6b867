"""Source text -> structured blocks (headings, paragraphs, notes) with exact source offsets.

Nothing here edits text: a block is a list of ``(start, end)`` segments of the source, so that
whatever is shown to a user is ``source[start:end]``. A paragraph that a page break or a
footnote block split in two is one block with two segments.

Headings and paragraphs are told apart here; notes (four shapes, linked to the paragraphs that
cite them) are :mod:`assistant.notes`'s.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from assistant.notes import (
    BRACKET_NOTE_RE,
    BRACKET_RE,
    FOOTNOTE_HEAD_RE,
    NUMBERED_RE,
    SUP_TAG_RE,
    SUPERSCRIPTS,
    find_markers,
    link_notes,
    mark_endnotes,
    note_kind,
)
from assistant.sentences import TERMINAL

BlockKind = Literal["heading", "paragraph", "note"]

CHAPTER_RE = re.compile(r"(\d{1,3})\.\s+(\S.{0,150})")
TOC_LINK_RE = re.compile(r"\[([^\]]+)\]\(#[^)]*\)")
BRACKET_HEADING_RE = re.compile(r"\[([A-Z][a-z]+(?: [a-z]+)?)\]")

LANGUAGE_SWITCH = {"English", "Русский", "Deutsch", "Español", "Français"}
NAMED_HEADINGS = {
    "foreword", "preface", "introduction", "conclusion", "epilogue", "afterword", "contents",
    "about the author", "note from the translator", "notes", "endnotes", "bibliography",
    "index", "appendix", "glossary", "glossary of abbreviations and terms",
    "selected biographical notes", "biographical notes", "acknowledgements", "acknowledgments",
    "dates of party congresses, conferences, and comintern congresses",
}  # fmt: skip


@dataclass
class Block:
    """A heading, paragraph or note: one or more source segments."""

    kind: BlockKind
    segments: list[tuple[int, int]]
    section: str = ""
    note_label: str = ""
    markers: list[tuple[str, int]] = field(default_factory=list)  # (label, source offset)
    note_targets: list[int] = field(default_factory=list)  # block indexes of cited notes
    links: list[tuple[int, int]] = field(default_factory=list)  # (marker offset, note block)
    cited_by: list[int] = field(default_factory=list)  # for notes: blocks that cite it
    language: str = "en"
    note_kind: str = ""  # for notes: "bibliographic" (references only) or "substantive"

    @property
    def start(self) -> int:
        return self.segments[0][0]

    @property
    def end(self) -> int:
        return self.segments[-1][1]


def paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Offsets of blank-line separated paragraphs, trimmed of surrounding whitespace."""
    pos, n = 0, len(text)
    for gap in re.finditer(r"\n[ \t\r\f\v\u00a0]*\n\s*", text):
        yield from _trimmed(text, pos, gap.start())
        pos = gap.end()
    if pos < n:
        yield from _trimmed(text, pos, n)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and (text[start].isspace() or _invisible(text[start])):
        start += 1
    while end > start and (text[end - 1].isspace() or _invisible(text[end - 1])):
        end -= 1
    if start < end:
        yield start, end


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf")


def clean(text: str) -> str:
    """What the embedder and the lexical index read: markup and note markers gone, NFC."""
    text = SUP_TAG_RE.sub("", text)
    text = re.sub(f"[{SUPERSCRIPTS}]+", "", text)
    text = BRACKET_RE.sub("", text)
    text = TOC_LINK_RE.sub(r"\1", text)
    text = re.sub(r"\*\*?|__|(?<!\w)_|_(?!\w)", "", text)
    text = _blank_invisible(text)
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


_CONTROLS = {c: " " for c in (*range(0x20), *range(0x7F, 0xA0))}  # every Cc character


def _blank_invisible(text: str) -> str:
    """Control and format characters (but the zero-width joiner) as spaces. Controls go by a
    table; only a text still not printable after that (a format character, a no-break space)
    is looked at character by character: that was a third of the time to cut a large file."""
    text = text.translate(_CONTROLS)
    if text.isprintable():  # no control or format character is left
        return text
    return "".join(" " if _invisible(c) and c != "\u200d" else c for c in text)


def language_of(text: str) -> str:
    """'ru' when most letters are Cyrillic, else 'en'."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    cyrillic = sum(1 for c in letters if "\u0400" <= c <= "\u04ff")
    return "ru" if cyrillic / len(letters) > 0.5 else "en"


def parse(text: str, kind: str = "document") -> list[Block]:
    """Structure a document's text into blocks, with notes linked to the blocks citing them."""
    raw = [
        piece
        for s, e in paragraphs(text)
        if not _boilerplate(text[s:e])
        for piece in _split_numbered_lines(text, s, e)
    ]
    toc = _toc_titles(text, raw)
    blocks = _classify(text, raw, toc, is_book=kind == "book")
    blocks = mark_endnotes(text, blocks)
    blocks = _repair_breaks(text, blocks)
    _assign_sections(text, blocks, kind == "book")
    link_notes(text, blocks)
    for b in blocks:
        b.language = language_of(" ".join(text[s:e] for s, e in b.segments))
        if b.kind == "note":
            b.note_kind = note_kind(text, b)
    return blocks


def _split_numbered_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A paragraph whose lines are a numbered list (endnotes set line by line) becomes one
    paragraph per item; lines that do not start an item stay with the item before them."""
    lines = list(re.finditer(r"[^\n]+", text[start:end]))
    heads = [m for m in lines if NUMBERED_RE.match(m.group(0))]
    if len(heads) < 2:
        return [(start, end)]
    cuts = sorted({start + m.start() for m in heads} | {start})
    pieces = [(a, b) for a, b in zip(cuts, [*cuts[1:], end], strict=True)]
    return [t for a, b in pieces for t in _trimmed(text, a, b)]


def _boilerplate(par: str) -> bool:
    """Web-site furniture: the site banner, the join form, a language switcher."""
    p = par.strip()
    return (
        p.startswith("[Classics]")
        or p == "Join us"
        or "fill in this form" in p
        or p in LANGUAGE_SWITCH
    )


def _key(title: str) -> str:
    return re.sub(r"[\W_]+", "", title.lower())


def _toc_titles(text: str, raw: list[tuple[int, int]]) -> set[str]:
    """Titles listed in a contents section, as comparison keys."""
    titles: set[str] = set()
    for s, e in raw:
        par = text[s:e]
        for m in TOC_LINK_RE.finditer(par):
            titles.add(_key(m.group(1)))
    return titles


def _is_heading(par: str, toc: set[str], is_book: bool, next_chapter: int) -> str | None:
    """The heading's title if ``par`` is one, else None."""
    line = " ".join(par.split())
    if ("\n" in par.strip() and len(line) > 160) or len(line) > 160 or not line:
        return None
    bare = line.strip("*_ ").rstrip(SUPERSCRIPTS)
    if not bare:  # a rule such as "* * *" or "___"
        return None
    if TOC_LINK_RE.fullmatch(bare) or (bare.startswith("[") and "](#" in bare):
        return None
    m = CHAPTER_RE.fullmatch(bare)
    if m and is_book:
        # Chapters come in order; a numbered line that breaks the sequence is a list or a note.
        title = m.group(2)
        if int(m.group(1)) == next_chapter and bare[-1] not in ".,;:" and _capital(title):
            return bare
        return None
    key = _key(bare)
    if bare.lower().rstrip(":") in NAMED_HEADINGS or (len(key) >= 6 and key in toc):
        return bare
    bm = BRACKET_HEADING_RE.fullmatch(bare)
    if bm:
        return bm.group(1)
    if not is_book and _title_case_line(bare):
        return bare
    return None


def _capital(title: str) -> bool:
    first = title.lstrip("“\"«'‘*_")
    return bool(first) and (first[0].isupper() or first[0].isdigit())


def _title_case_line(line: str) -> bool:
    if len(line) > 60 or line[-1] in TERMINAL or re.search(r"[\d\[\]“\"(.,]", line):
        return False
    words = re.findall(r"[^\W\d_]+", line)
    long_words = [w for w in words if len(w) > 3]
    return len(words) >= 3 and bool(long_words) and all(w[0].isupper() for w in long_words)


def _classify(text: str, raw: list[tuple[int, int]], toc: set[str], is_book: bool) -> list[Block]:
    blocks: list[Block] = []
    next_chapter = 1
    pending_bracket: Block | None = None
    for s, e in raw:
        par = text[s:e]
        if pending_bracket is not None:  # "[n]" alone on a line: the next paragraph is its text
            pending_bracket.segments.append((s, e))
            pending_bracket = None
            continue
        if m := FOOTNOTE_HEAD_RE.match(par):
            blocks.append(Block("note", [(s, e)], note_label=m.group(1)))
            continue
        if m := BRACKET_NOTE_RE.match(par):
            note = Block("note", [(s, e)], note_label=m.group(1))
            blocks.append(note)
            if m.end() == len(par):
                pending_bracket = note
            continue
        title = _is_heading(par, toc, is_book, next_chapter)
        if title is not None:
            if (cm := CHAPTER_RE.fullmatch(title)) and is_book:
                next_chapter = int(cm.group(1)) + 1
            blocks.append(Block("heading", [(s, e)], section=title))
            continue
        blocks.append(Block("paragraph", [(s, e)]))
    for b in blocks:
        if b.kind == "paragraph":
            b.markers = find_markers(text, b.start, b.end)
    return blocks


def _repair_breaks(text: str, blocks: list[Block]) -> list[Block]:
    """Join paragraphs that a page break or an interposed footnote block split in two."""
    out: list[Block] = []
    open_par: Block | None = None  # the latest paragraph, if nothing but notes followed it
    adjacent = False
    for b in blocks:
        if b.kind == "paragraph" and open_par is not None and _split(text, open_par, b, adjacent):
            open_par.segments.extend(b.segments)
            open_par.markers.extend(b.markers)
            adjacent = True
            continue
        out.append(b)
        if b.kind == "heading":
            open_par = None
        elif b.kind == "paragraph":
            open_par, adjacent = b, True
        else:
            adjacent = False
    return out


def _split(text: str, a: Block, b: Block, adjacent: bool) -> bool:
    """Whether ``b`` continues ``a``: ``a`` stops mid-sentence and ``b`` picks it up."""
    tail = SUP_TAG_RE.sub("", text[a.segments[-1][0] : a.end]).rstrip(SUPERSCRIPTS + " ")
    if not tail or tail[-1] in TERMINAL:
        return False
    first = text[b.start]
    if first.islower():
        return True
    return adjacent and len(tail) > 300 and tail[-1].isalpha() and first.isalpha()


def _assign_sections(text: str, blocks: list[Block], is_book: bool) -> None:
    """Every block gets the heading it falls under; a letter's paragraph number; a note's label."""
    heading, number = "", ""
    for b in blocks:
        if b.kind == "heading":
            heading, number = b.section, ""
            continue
        if b.kind == "note":
            b.section = f"{heading}, note {b.note_label}" if heading else f"note {b.note_label}"
            continue
        m = NUMBERED_RE.match(text, b.start)
        if not is_book and m and m.start() == b.start:
            number = m.group(1)
        parts = [heading, f"¶ {number}" if number else ""]
        b.section = ", ".join(p for p in parts if p)
