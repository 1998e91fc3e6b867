"""Plain-text rendering of an Answer for the terminal."""

from __future__ import annotations

import textwrap

from assistant.types import Answer


def format_answer(ans: Answer) -> str:
    """The answer, then its numbered sources (title, section, the quote)."""
    lines = [textwrap.fill(ans.text, 100)]
    lines += [f"note: {n}" for n in ans.notes]
    if ans.citations:
        lines.append("\nSources:")
        for c in ans.citations:
            where = f"{c.title} — {c.section}" if c.section else c.title
            kind = " (note)" if c.kind == "note" else ""
            lines.append(f"[{c.n}] {where}{kind}  [{c.source}:{c.start}-{c.end}]")
            lines.append(textwrap.indent(textwrap.fill(" ".join(c.quote.split()), 96), "    "))
    if ans.abstained and ans.see_also:
        lines.append("\nSee also:")
        for p in ans.see_also:
            lines.append(f"- {p.title} — {p.section}: {' '.join(p.text.split())[:160]}…")
    return "\n".join(lines)
