"""Text from documents, models and users, made safe to print and to quote in messages.

A document may hold escape sequences (``ESC ]0;title BEL`` retitles a terminal, ``ESC [2J``
clears it), carriage returns that overwrite a line, bidirectional overrides that reorder it,
and a command-line argument or a chat line that is not UTF-8 arrives holding lone surrogates
(Python's ``surrogateescape``), which cannot even be printed. :func:`escaped` shows every one of
them as a visible escape (``\\x1b``, ``\\u202e``, ``\\udcff``); newlines and tabs stay.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, bidirectional embeddings, overrides and
# isolates, and lone surrogates.
UNSAFE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
SURROGATE_RE = re.compile("[\ud800-\udfff]")


def escaped(text: str) -> str:
    """``text`` with every unsafe character shown as its escape, e.g. ``\\x1b``."""
    return UNSAFE_RE.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def first_surrogate(text: str) -> int | None:
    """Where the first lone surrogate (a byte that was not UTF-8) is, or None."""
    m = SURROGATE_RE.search(text)
    return m.start() if m else None


def without_surrogates(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (safe to send as JSON or UTF-8)."""
    return SURROGATE_RE.sub("\ufffd", text)
