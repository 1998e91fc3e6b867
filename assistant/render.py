"""Plain-text rendering of an Answer for the terminal.

Everything that comes from a document, a model or the user passes through
:func:`assistant.safe_text.escaped` first: an escape sequence in a corpus file shows as
``\\x1b[2J``, it does not clear the screen.
"""

from __future__ import annotations

import textwrap

from assistant.safe_text import escaped
from assistant.types import Answer


def format_answer(ans: Answer) -> str:
    """The answer, then its numbered sources (title, section, the quote)."""
    lines = [textwrap.fill(escaped(ans.text), 100)]
    lines += [f"note: {escaped(n)}" for n in ans.notes]
    if ans.citations:
        lines.append("\nSources:")
        for c in ans.citations:
            where = f"{c.title} — {c.section}" if c.section else c.title
            kind = " (note)" if c.kind == "note" else ""
            lines.append(f"[{c.n}] {escaped(where)}{kind}  [{escaped(c.source)}:{c.start}-{c.end}]")
            quote = escaped(" ".join(c.quote.split()))
            lines.append(textwrap.indent(textwrap.fill(quote, 96), "    "))
    if ans.abstained and ans.see_also:
        lines.append("\nSee also:")
        for p in ans.see_also:
            text = escaped(" ".join(p.text.split())[:160])
            lines.append(f"- {escaped(p.title)} — {escaped(p.section)}: {text}…")
    return "\n".join(lines)
