"""An Answer as the page's HTML (pure functions; every character of a document is escaped).

Corpus text is shown clean (:func:`assistant.text_runs`: note markers as superscripts, emphasis
as italics, link and label syntax gone) and a quote is highlighted at its exact offsets inside
its passage. Each answer says which documents it searched, and carries the plain text that its
"Copy answer with citations" button copies.

Every string that comes from the corpus, the manifest, the user or a model is HTML-escaped
before any element is written around it, so a file holding ``<script>`` shows the characters
and runs nothing. Anchors: the ``[n]`` marker of
answer ``turn`` links to ``#src-{turn}-{n}``, the Sources entry of that citation.

Links: none but those anchors. The chat renders its messages as Markdown, whose autolinker
turns ``http://…``, ``www.…`` and ``name@host`` in plain text into links; a document (or a
model) saying "visit http://… to verify your account" would come back as a cited, clickable
link. :func:`esc` writes the characters that trigger it (the ``:`` of a scheme, the ``.`` after
``www``, the ``@``) as entities: the reader sees the same text, the autolinker sees no URL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from assistant import (
    Answer,
    Citation,
    DocumentSummary,
    Passage,
    TextRun,
    format_answer,
    split_runs,
    text_runs,
)

_MARKER = re.compile(r"\[(\d{1,3})\]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# What Markdown autolinkers (GFM's, marked's) take for a link in plain text.
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}):(?=//)|\b(mailto|javascript|data):")
_WWW = re.compile(r"(?i)\b(www)\.")
_AT = re.compile(r"@(?=[\w-])")

EMPTY_PANEL = (
    '<div class="sources-empty">Sources appear here: for each answer, every cited excerpt '
    "with its document, author, date and section, the quoted sentences highlighted in "
    "their passage.</div>"
)
COPY_LABEL = "Copy answer with citations"


@dataclass(frozen=True)
class Turn:
    """One answered question of a chat session."""

    n: int  # 1-based position in the session; anchors use it
    question: str
    answer: Answer
    history: list[dict[str, str]] = field(default_factory=list)  # the chat before the question
    verdict: str = ""  # "up" or "down" once the reader has rated the answer


def esc(text: object) -> str:
    """HTML-escape any value (quotes too, so it is safe in attributes as well), with URLs
    and e-mail addresses made plain text (see the module docstring)."""
    out = html.escape(str(text), quote=True)
    out = _SCHEME.sub(lambda m: (m.group(1) or m.group(2)) + "&#58;", out)
    out = _WWW.sub(r"\1&#46;", out)
    return _AT.sub("&#64;", out)


def run_html(run: TextRun, marked: bool = False) -> str:
    """One run: escaped, then styled; newlines kept (the excerpts are ``pre-wrap``)."""
    out = esc(run.text)
    if run.note:
        out = f"<sup>{out}</sup>"
    if run.bold:
        out = f"<strong>{out}</strong>"
    if run.italic:
        out = f"<em>{out}</em>"
    return f"<mark>{out}</mark>" if marked else out


def text_html(raw: str, notes: bool = True) -> str:
    """Corpus text as safe HTML, its markup rendered (see :func:`assistant.text_runs`)."""
    return "".join(run_html(r) for r in text_runs(raw, notes))


def anchor(turn: int, n: int) -> str:
    """The element id of citation ``n`` of answer ``turn``."""
    return f"src-{turn}-{n}"


def highlighted(passage: str, start: int, end: int) -> str:
    """The passage, clean, with whatever is visible of ``passage[start:end]`` in ``<mark>``."""
    if not 0 <= start < end <= len(passage):
        return text_html(passage)
    runs = split_runs(text_runs(passage), start, end)
    return "".join(run_html(r, start <= r.start and r.end <= end) for r in runs)


def citation_excerpt(c: Citation) -> str:
    """The quote highlighted inside its passage; the bare quote when the offsets disagree."""
    rel_start, rel_end = c.start - c.passage_start, c.end - c.passage_start
    if c.passage_text and c.passage_text[rel_start:rel_end] == c.quote:
        return highlighted(c.passage_text, rel_start, rel_end)
    return highlighted(c.quote, 0, len(c.quote))


def _meta(author: str, date: str, section: str, extra: str = "") -> str:
    parts = [esc(x) for x in (author, date) if x]
    if section:
        parts.append(f"§ {text_html(section)}")
    if extra:
        parts.append(extra)
    return '<div class="src-meta">' + " · ".join(parts) + "</div>"


def _where(source: str, start: int, end: int) -> str:
    return f'<div class="src-where">{esc(source)}, characters {start}–{end}</div>'


def citation_html(c: Citation, turn: int) -> str:
    """One Sources entry: number, title, author, date, section, location and the excerpt."""
    is_note = c.kind == "note"
    badge = '<span class="badge">note</span>' if is_note else ""
    parts = [
        f'<article class="src" id="{anchor(turn, c.n)}">',
        f'<div class="src-head"><span class="src-n">[{c.n}]</span> '
        f'<span class="src-title">{esc(c.title)}</span></div>',
        _meta(c.author, c.date, c.section, badge),
        _where(c.source, c.start, c.end),
    ]
    if is_note:
        parts.append('<div class="src-label">The note</div>')
    parts.append(f'<blockquote class="excerpt">{citation_excerpt(c)}</blockquote>')
    if is_note and c.annotated_text:
        parts.append('<div class="src-label">The paragraph this note annotates</div>')
        parts.append(f'<blockquote class="annotated">{text_html(c.annotated_text)}</blockquote>')
    parts.append("</article>")
    return "".join(parts)


def see_also_html(passages: Sequence[Passage]) -> str:
    """The closest passages offered after an abstention (they do not answer the question)."""
    if not passages:
        return '<p class="src-label">No passage came close enough to offer.</p>'
    items = [
        '<p class="src-label">See also: the closest passages. They do not answer the '
        "question, but may help you rephrase it.</p>"
    ]
    for i, p in enumerate(passages, 1):
        kind = '<span class="badge">note</span>' if p.kind == "note" else ""
        items.append(
            f'<article class="src see-also"><div class="src-head"><span class="src-n">{i}.</span> '
            f'<span class="src-title">{esc(p.title)}</span></div>'
            f"{_meta(p.author, p.date, p.section, kind)}{_where(p.source, p.start, p.end)}"
            f'<blockquote class="excerpt">{text_html(p.text)}</blockquote></article>'
        )
    return "".join(items)


def searched_line(answer: Answer, docs: Sequence[DocumentSummary]) -> str:
    """What the answer searched, in words: all the documents, or which of them."""
    if not answer.searched or not docs:
        return ""
    titles: Mapping[str, str] = {d.id: d.title for d in docs}
    if set(titles) <= set(answer.searched):
        return f"Searched all {len(titles)} documents."
    names = "; ".join(titles.get(i, i) for i in answer.searched)
    return f"Searched {len(answer.searched)} of {len(titles)} documents: {names}."


def answer_html(answer: Answer, turn: int, docs: Sequence[DocumentSummary] = ()) -> str:
    """The answer for the chat: clean text, each known ``[n]`` a link to its Sources entry.

    The message is one HTML block without blank lines, so the chat's Markdown leaves it be.
    """
    if answer.abstained:
        body = (
            f'<div class="abstain">⚠ <strong>{esc(answer.text)}</strong><br>'
            "The closest passages are offered as “see also” in the Sources panel.</div>"
        )
    else:
        known = {c.n for c in answer.citations}
        paragraphs = _PARAGRAPH_BREAK.split(answer.text.strip())
        body = "".join(
            "<p>" + _MARKER.sub(lambda m: _marker_link(m, known, turn), text_html(par, False))
            + "</p>"
            for par in paragraphs
        ).replace("\n", " ")  # fmt: skip
    body += "".join(f'<div class="answer-note">Note: {esc(n)}</div>' for n in answer.notes)
    searched = searched_line(answer, docs)
    if searched:
        body += f'<div class="searched">{esc(searched)}</div>'
    return f'<div class="answer">{body}</div>'


def _marker_link(m: re.Match[str], known: set[int], turn: int) -> str:
    n = int(m.group(1))
    if n not in known:
        return m.group(0)
    return f'<a class="cite" href="#{anchor(turn, n)}">[{n}]</a>'


def copy_text(t: Turn, docs: Sequence[DocumentSummary] = ()) -> str:
    """What "Copy answer with citations" copies: question, answer, numbered sources."""
    lines = [f"Q: {t.question}", "", format_answer(t.answer, width=None)]
    searched = searched_line(t.answer, docs)
    return "\n".join([*lines, "", searched] if searched else lines)


def turn_html(t: Turn, open_: bool, docs: Sequence[DocumentSummary] = ()) -> str:
    """The Sources of one answer, in a collapsible group headed by its question."""
    a = t.answer
    n = len(a.citations)
    plural = "" if n == 1 else "s"
    label = "no answer in the documents" if a.abstained else f"{n} source{plural}"
    searched = searched_line(a, docs)
    head = (
        f'<summary><span class="turn-n">Answer {t.n}</span> '
        f'<span class="turn-q">{esc(t.question)}</span> '
        f'<span class="turn-info">{label} · {esc(searched or "all documents searched")}</span>'
        "</summary>"
    )
    body = [
        f'<div class="turn-tools"><button type="button" class="copy-answer" '
        f'data-copy="copy-{t.n}">{COPY_LABEL}</button></div>'
        f'<textarea class="copy-text" id="copy-{t.n}" hidden readonly>'
        f"{esc(copy_text(t, docs))}</textarea>"
    ]
    if a.abstained:
        body.append(f'<div class="abstain-box">⚠ {esc(a.text)}</div>')
    body += [citation_html(c, t.n) for c in a.citations]
    if a.abstained or a.see_also:
        body.append(see_also_html(a.see_also))
    cls = "turn abstained" if a.abstained else "turn"
    return f'<details class="{cls}"{" open" if open_ else ""}>{head}{"".join(body)}</details>'


def sources_html(turns: Sequence[Turn], docs: Sequence[DocumentSummary] = ()) -> str:
    """The whole Sources panel: the latest answer first and open, earlier ones folded."""
    if not turns:
        return EMPTY_PANEL
    latest = max(t.n for t in turns)
    ordered = sorted(turns, key=lambda t: t.n, reverse=True)
    groups = "".join(turn_html(t, t.n == latest, docs) for t in ordered)
    count = len(next(t for t in ordered if t.n == latest).answer.citations)
    jump = (
        f'<a id="to-sources" href="#col-sources" data-jump="col-sources">'
        f"Sources{f' · {count}' if count else ''} ↓</a>"
    )
    return f'<div class="sources">{groups}</div>{jump}'


def answerer_name(answerer: str) -> str:
    """How an Answer's ``answerer`` field reads on the page."""
    return "excerpt-based" if answerer in ("", "default") else answerer


def answerer_line(answerer: str, provider: str, model: str) -> str:
    """Which answerer is active, in words (HTML)."""
    if answerer == "llm":
        return f"answers by the language model <b>{esc(model)}</b> ({esc(provider)}), cited"
    return "answers quoted from the documents (<b>no language model</b>)"


def status_html(passages: int, documents: int, answerer: str, note: str = "") -> str:
    """The status line: what is loaded (documents, passages) and which answerer answers."""
    if not passages:
        return (
            '<div class="status">The store is empty. Run <code>assistant ingest</code>, '
            "then reload this page.</div>"
        )
    sep = '<span class="sep">·</span>'
    loaded = f"<b>{documents}</b> documents{sep}<b>{passages:,}</b> passages{sep}{answerer}"
    extra = f'<div class="status-note">{esc(note)}</div>' if note else ""
    return f'<div class="status">Loaded: {loaded}{extra}</div>'


def notice_html(message: str, kind: str = "error") -> str:
    """A message shown above the question box (an error, or a confirmation)."""
    if not message:
        return ""
    icon = "⚠" if kind == "error" else "✓"
    return f'<div class="notice notice-{esc(kind)}" role="alert">{icon} {esc(message)}</div>'
