"""Checking a language model's reply: every claim tied to a verbatim span of a given excerpt.

A sentence is kept only if one of its markers names a given excerpt that shares a content word
with it; a quotation only if it is found word for word in an excerpt its sentence cites;
citations are built from exact source spans and renumbered 1, 2, 3 (see :mod:`assistant.llm`).
"""

from __future__ import annotations

import re

from assistant.citations import MARKER_RE, find_quote, make_citation, renumber
from assistant.lexical import tokenize
from assistant.prompts import CANNOT_ANSWER, UNSUPPORTED_NOTE
from assistant.sentences import sentence_spans
from assistant.types import Citation, Passage

# Fixed sentences of this stage (candidates for assistant.prompts).
UNQUOTED_NOTE = (
    "{count} quotation(s) in the language model's answer were not found word for word in the "
    "excerpts they cite; their quotation marks were removed."
)
DROPPED_NOTE = (
    "{count} sentence(s) of the language model's answer cited no given excerpt and were left out."
)
INVENTED_NOTE = "The language model cited excerpts it was not given ({markers}); removed."
QUOTE_RE = re.compile(r"“([^“”]+)”|\"([^\"]+)\"|«([^«»]+)»")
LEADING_MARKERS_RE = re.compile(r"(?:\s*\[\d{1,3}\])+")

Excerpts = dict[int, Passage]


def is_cannot_answer(reply: str) -> bool:
    head = reply.strip(" \"'“”«»*").casefold()
    return head.startswith(CANNOT_ANSWER.rstrip(".").casefold())


def check_reply(
    reply: str, excerpts: Excerpts, linked: list[Passage]
) -> tuple[str, list[Citation], list[str]]:
    """The reply's text, citations and notes once every claim is tied to a verbatim span.

    A sentence is kept only if one of its markers names a given excerpt that shares a content
    word with it (a word beyond stop words: "[1]" on a made-up claim supports nothing); a
    quotation is kept only if it is found word for word in an excerpt its sentence cites.
    """
    kept: list[str] = []
    quotes: dict[int, list[tuple[int, int]]] = {}
    claims: dict[int, list[str]] = {}
    invented: set[int] = set()
    dropped = unquoted = unsupported = 0
    words = {n: set(tokenize(p.text)) for n, p in excerpts.items()}
    for gap, sentence in _sentences(reply):
        markers = [int(m) for m in MARKER_RE.findall(sentence)]
        named = list(dict.fromkeys(n for n in markers if n in excerpts))
        invented |= {n for n in markers if n not in excerpts}
        valid = _supporting(sentence, named, words)
        if named and not valid:
            unsupported += 1
            continue
        sentence = _only_markers(sentence, valid, excerpts)
        if not valid:
            bare = MARKER_RE.sub("", sentence).strip()
            if is_cannot_answer(bare):  # states a gap, claims nothing: needs no citation
                kept.append((gap if kept else "") + bare)
            else:
                dropped += bool(re.search(r"\w", bare))
            continue
        sentence, found, bad = _check_quotes(sentence, valid, excerpts)
        unquoted += bad
        for n in valid:
            quotes.setdefault(n, []).extend(found.get(n, []))
            claims.setdefault(n, []).append(MARKER_RE.sub("", sentence))
        kept.append((gap if kept else "") + sentence)
    citations = [
        make_citation(n, excerpts[n], *_span(excerpts[n], quotes[n], claims[n]), linked=linked)
        for n in claims
    ]
    text, citations = renumber("".join(kept), citations)
    return text, citations, _notes(invented, dropped, unquoted, unsupported)


def _supporting(sentence: str, named: list[int], words: dict[int, set[str]]) -> list[int]:
    """The cited excerpts that share a content word with the sentence (quotes included)."""
    claim = set(tokenize(MARKER_RE.sub(" ", sentence)))
    return [n for n in named if claim & words[n]]


def _only_markers(sentence: str, keep: list[int], excerpts: Excerpts) -> str:
    """The sentence without markers of given excerpts that do not support it."""
    return MARKER_RE.sub(
        lambda m: m.group(0) if int(m.group(1)) in keep or int(m.group(1)) not in excerpts else "",
        sentence,
    )


def _notes(invented: set[int], dropped: int, unquoted: int, unsupported: int = 0) -> list[str]:
    notes = []
    if unsupported:
        notes.append(UNSUPPORTED_NOTE.format(count=unsupported))
    if invented:
        notes.append(INVENTED_NOTE.format(markers=", ".join(f"[{n}]" for n in sorted(invented))))
    if dropped:
        notes.append(DROPPED_NOTE.format(count=dropped))
    if unquoted:
        notes.append(UNQUOTED_NOTE.format(count=unquoted))
    return notes


def _sentences(reply: str) -> list[tuple[str, str]]:
    """(whitespace before, sentence) pairs, line by line; markers opening a sentence are
    moved to the one before (``ready." [1] Then`` cites the first sentence)."""
    spans: list[list[int]] = []
    for line in re.finditer(r"[^\n]+", reply):
        for u in sentence_spans(reply, line.start(), line.end()):
            start = u.start
            lead = LEADING_MARKERS_RE.match(reply, start)
            if lead and spans:
                spans[-1][1] = start = lead.end()
            body = reply[start : u.end]
            if body.strip():
                start += len(body) - len(body.lstrip())
                spans.append([start, start + len(body.strip())])
    out = []
    prev = 0
    for start, end in spans:
        out.append((reply[prev:start] or " ", reply[start:end]))
        prev = end
    return out


def _check_quotes(
    sentence: str, cited: list[int], excerpts: Excerpts
) -> tuple[str, dict[int, list[tuple[int, int]]], int]:
    """Quotations found verbatim in a cited excerpt (with their spans); others unquoted."""
    found: dict[int, list[tuple[int, int]]] = {}
    bad = 0

    def check(m: re.Match[str]) -> str:
        nonlocal bad
        quote = next(g for g in m.groups() if g is not None)
        for n in cited:
            if span := locate(excerpts[n], quote.strip()):
                found.setdefault(n, []).append(span)
                return m.group(0)
        bad += 1
        return quote

    return QUOTE_RE.sub(check, sentence), found, bad


def locate(p: Passage, quote: str) -> tuple[int, int] | None:
    """Source offsets of ``quote`` in ``p``: exact, else with any whitespace and either
    apostrophe between the same characters (the span is always the source's own text)."""
    if span := find_quote(p, quote):
        return span
    words = [re.sub(r"['’]", "['’]", re.escape(w)) for w in quote.split()]
    m = re.search(r"\s+".join(words), p.text) if words else None
    return (p.start + m.start(), p.start + m.end()) if m else None


def _span(p: Passage, quotes: list[tuple[int, int]], claims: list[str]) -> tuple[int, int]:
    """What a citation of ``p`` quotes: the answer's own quotations, else the sentence of
    ``p`` sharing the most words with the claims citing it."""
    if quotes:
        return min(s for s, _ in quotes), max(e for _, e in quotes)
    words = set(tokenize(" ".join(claims)))
    units = sentence_spans(p.text, 0, len(p.text))
    spans = [(u.start, u.start + len(p.text[u.start : u.end].rstrip())) for u in units]
    spans = [(s, e) for s, e in spans if e > s] or [(0, len(p.text))]
    best = max(spans, key=lambda se: len(words & set(tokenize(p.text[se[0] : se[1]]))))
    return p.start + best[0], p.start + best[1]
