"""An Answer as plain text: for the terminal (wrapped) and for copying (one line a paragraph).

Markup is removed and note markers become superscript digits (:mod:`assistant.markup`);
each source gives its document, author, date, section, the quote and where it is in its file.

Everything that comes from a document, a model or the user passes through
:func:`assistant.safe_text.escaped` (in :func:`_fill`): an escape sequence in a corpus file shows
as ``\\x1b[2J``, it does not clear the screen.
"""

from __future__ import annotations

import re
import textwrap

from assistant.markup import plain_text
from assistant.safe_text import escaped
from assistant.types import Answer, Citation, Passage

QUOTE_INDENT = "    "


def format_answer(answer: Answer, width: int | None = 100) -> str:
    """The answer, then its numbered sources; ``width=None`` leaves paragraphs unwrapped.

    Args:
        answer: what :meth:`assistant.Assistant.ask` returned.
        width: the terminal's width in characters, or None for text to paste elsewhere.
    """
    paragraphs = re.split(r"\n\s*\n", plain_text(answer.text, notes=False).strip())
    lines = ["\n\n".join(_fill(par, width) for par in paragraphs)]
    lines += [_fill(f"Note: {n}", width) for n in answer.notes]
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            lines += source_lines(c, width)
    if answer.abstained and answer.see_also:
        lines.append("\nSee also (the closest passages; they do not answer the question):")
        lines += [_fill(see_also_line(p), width, "- ", "  ") for p in answer.see_also]
    return "\n".join(lines)


def source_lines(c: Citation, width: int | None = 100) -> list[str]:
    """One numbered source: heading, the quote (indented, wrapped) and its place in the file."""
    quote = "“" + " ".join(plain_text(c.quote).split()) + "”"
    where = f"{c.source}, characters {c.start}–{c.end}"
    head = f"[{c.n}] {heading(c.title, c.author, c.date, c.section, c.kind)}"
    return [
        _fill(head, width, "", QUOTE_INDENT),
        _fill(quote, width, QUOTE_INDENT, QUOTE_INDENT),
        f"{QUOTE_INDENT}{escaped(where)}",
    ]


def heading(title: str, author: str, date: str, section: str, kind: str = "body") -> str:
    """``Title — Author, date, § section (note)``, leaving out what is unknown."""
    who = ", ".join(x for x in (author, date) if x)
    text = f"{title} — {who}" if who else title
    if section:
        text += f", § {plain_text(section)}"
    return text + (" (note)" if kind == "note" else "")


def see_also_line(p: Passage, chars: int = 200) -> str:
    """A closest passage in one line: its heading and the start of its text."""
    text = " ".join(plain_text(p.text).split())
    if len(text) > chars:
        text = text[:chars].rsplit(" ", 1)[0] + " …"
    return f"{heading(p.title, p.author, p.date, p.section, p.kind)}: {text}"


def _fill(text: str, width: int | None, first: str = "", rest: str = "") -> str:
    text = escaped(text)
    if width is None:
        return first + " ".join(text.split())
    return textwrap.fill(
        " ".join(text.split()), width, initial_indent=first, subsequent_indent=rest
    )
