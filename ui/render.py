"""Answers and their citations as HTML for the page: pure functions, no gradio.

Every string that comes from the corpus, the manifest, the user or a model is HTML-escaped
first; only then are the corpus's two markup conventions (``<sup>n</sup>`` note markers and
``*italics*``) turned back into the elements they stand for, from the escaped text, so a file
holding ``<script>`` shows the characters and runs nothing. Anchors: the ``[n]`` marker of
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
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant import Answer, Citation, Passage

# Escaped forms of the corpus markup; the group can hold no "&", "<" or ">", so nothing else
# turns back into a tag.
_SUP = re.compile(r"&lt;sup&gt;([^&<>\s]{1,8})&lt;/sup&gt;")
_EMPHASIS = re.compile(r"\*(?=[^\s*])((?:(?!&lt;/?sup&gt;)[^*\n<>]){1,300}?)(?<=[^\s*])\*")
_MARKER = re.compile(r"\[(\d{1,3})\]")
# What Markdown autolinkers (GFM's, marked's) take for a link in plain text.
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}):(?=//)|\b(mailto|javascript|data):")
_WWW = re.compile(r"(?i)\b(www)\.")
_AT = re.compile(r"@(?=[\w-])")

EMPTY_PANEL = (
    '<div class="sources-empty">Sources appear here: for each answer, every cited excerpt '
    "with its document, author, date and section, the quoted sentences highlighted in "
    "their passage.</div>"
)


@dataclass(frozen=True)
class Turn:
    """One answered question of a chat session."""

    n: int  # 1-based position in the session; anchors use it
    question: str
    answer: Answer
    history: list[dict[str, str]] = field(default_factory=list)  # the chat before the question


def esc(text: object) -> str:
    """HTML-escape any value (quotes too, so it is safe in attributes as well), with URLs
    and e-mail addresses made plain text (see the module docstring)."""
    out = html.escape(str(text), quote=True)
    out = _SCHEME.sub(lambda m: (m.group(1) or m.group(2)) + "&#58;", out)
    out = _WWW.sub(r"\1&#46;", out)
    return _AT.sub("&#64;", out)


def text_html(raw: str) -> str:
    """Corpus text as safe HTML: escaped, then ``<sup>n</sup>`` and ``*italic*`` rendered."""
    out = _EMPHASIS.sub(r"<em>\1</em>", esc(raw))
    return _SUP.sub(r"<sup>\1</sup>", out)


def anchor(turn: int, n: int) -> str:
    """The element id of citation ``n`` of answer ``turn``."""
    return f"src-{turn}-{n}"


def highlighted(passage: str, start: int, end: int) -> str:
    """The passage with ``passage[start:end]`` inside ``<mark>``, all of it escaped."""
    if not 0 <= start < end <= len(passage):
        return text_html(passage)
    before, quote, after = passage[:start], passage[start:end], passage[end:]
    return f"{text_html(before)}<mark>{text_html(quote)}</mark>{text_html(after)}"


def citation_excerpt(c: Citation) -> str:
    """The quote highlighted inside its passage; the bare quote when the offsets disagree."""
    rel_start, rel_end = c.start - c.passage_start, c.end - c.passage_start
    if c.passage_text and c.passage_text[rel_start:rel_end] == c.quote:
        return highlighted(c.passage_text, rel_start, rel_end)
    return f"<mark>{text_html(c.quote)}</mark>"


def _meta(author: str, date: str, section: str, extra: str = "") -> str:
    parts = [esc(x) for x in (author, date) if x]
    if section:
        parts.append(f"§ {esc(section)}")
    if extra:
        parts.append(extra)
    return '<div class="src-meta">' + " · ".join(parts) + "</div>"


def citation_html(c: Citation, turn: int) -> str:
    """One Sources entry: number, title, author, date, section, location and the excerpt."""
    is_note = c.kind == "note"
    badge = '<span class="badge">note</span>' if is_note else ""
    parts = [
        f'<article class="src" id="{anchor(turn, c.n)}">',
        f'<div class="src-head"><span class="src-n">[{c.n}]</span> '
        f'<span class="src-title">{esc(c.title)}</span></div>',
        _meta(c.author, c.date, c.section, badge),
        f'<div class="src-where">{esc(c.source)}, characters {c.start}–{c.end}</div>',
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
            f"{_meta(p.author, p.date, p.section, kind)}"
            f'<div class="src-where">{esc(p.source)}, characters {p.start}–{p.end}</div>'
            f'<blockquote class="excerpt">{text_html(p.text)}</blockquote></article>'
        )
    return "".join(items)


def answer_html(answer: Answer, turn: int) -> str:
    """The answer for the chat: escaped, each known ``[n]`` a link to its Sources entry."""
    if answer.abstained:
        body = (
            f'<div class="abstain">⚠ <strong>{esc(answer.text)}</strong><br>'
            "The closest passages are offered as “see also” in the Sources panel.</div>"
        )
    else:
        known = {c.n for c in answer.citations}
        body = _MARKER.sub(lambda m: _marker_link(m, known, turn), text_html(answer.text))
    if answer.notes:
        body += "".join(f'<div class="answer-note">Note: {esc(n)}</div>' for n in answer.notes)
    return body


def _marker_link(m: re.Match[str], known: set[int], turn: int) -> str:
    n = int(m.group(1))
    if n not in known:
        return m.group(0)
    return f'<a class="cite" href="#{anchor(turn, n)}">[{n}]</a>'


def turn_html(t: Turn, open_: bool) -> str:
    """The Sources of one answer, in a collapsible group headed by its question."""
    a = t.answer
    n = len(a.citations)
    plural = "" if n == 1 else "s"
    label = "no answer in the documents" if a.abstained else f"{n} source{plural}"
    head = (
        f'<summary><span class="turn-n">Answer {t.n}</span> '
        f'<span class="turn-q">{esc(t.question)}</span> '
        f'<span class="turn-info">{label} · answerer: {esc(answerer_name(a.answerer))}</span>'
        "</summary>"
    )
    body: list[str] = []
    if a.abstained:
        body.append(f'<div class="abstain-box">⚠ {esc(a.text)}</div>')
    body += [citation_html(c, t.n) for c in a.citations]
    if a.abstained or a.see_also:
        body.append(see_also_html(a.see_also))
    cls = "turn abstained" if a.abstained else "turn"
    return f'<details class="{cls}"{" open" if open_ else ""}>{head}{"".join(body)}</details>'


def sources_html(turns: Sequence[Turn]) -> str:
    """The whole Sources panel: the latest answer first and open, earlier ones folded."""
    if not turns:
        return EMPTY_PANEL
    latest = max(t.n for t in turns)
    ordered = sorted(turns, key=lambda t: t.n, reverse=True)
    groups = "".join(turn_html(t, t.n == latest) for t in ordered)
    return f'<div class="sources">{groups}</div>'


def answerer_name(answerer: str) -> str:
    """How an Answer's ``answerer`` field reads on the page."""
    return "excerpt-based" if answerer in ("", "default") else answerer


def answerer_line(answerer: str, provider: str, model: str) -> str:
    """Which answerer is active, in words."""
    if answerer == "llm":
        return (
            f"Answerer: language model <b>{esc(model)}</b> via {esc(provider)}, told to answer "
            "only from the numbered excerpts and to cite them."
        )
    return (
        "Answerer: <b>excerpt-based</b>: answers are sentences copied verbatim from the "
        "documents, no language model."
    )


def status_html(passages: int, documents: int, answerer: str, note: str = "") -> str:
    """The status line: the store's size, the active answerer and the launch's store check."""
    store = (
        f"Store: {passages} passages from {documents} documents."
        if passages
        else "Store: empty. Run <code>assistant ingest</code>, then reload this page."
    )
    extra = f'<div class="status-note">{esc(note)}</div>' if note else ""
    return f'<div class="status">{store} {answerer}{extra}</div>'


def notice_html(message: str, kind: str = "error") -> str:
    """A message shown above the question box (an error, or a confirmation)."""
    if not message:
        return ""
    icon = "⚠" if kind == "error" else "✓"
    return f'<div class="notice notice-{esc(kind)}" role="alert">{icon} {esc(message)}</div>'


# The page's look; the classes above are styled here.
CSS = """
.intro h1 { font-size: 1.45rem; margin: 0.2rem 0; }
.intro p { margin: 0 0 0.4rem 0; font-size: 0.95rem; }
.status { font-size: 0.92rem; padding: 0.35rem 0.6rem; border-radius: 6px;
  background: var(--background-fill-secondary); }
.status-note { font-size: 0.84rem; opacity: 0.8; }
.panel-title { font-size: 1.1rem; margin: 0.2rem 0; }
#sources { max-height: 80vh; overflow-y: auto; }
.sources-empty { opacity: 0.8; padding: 1rem; border: 1px dashed var(--border-color-primary);
  border-radius: 8px; }
details.turn { border: 1px solid var(--border-color-primary); border-radius: 8px;
  margin: 0 0 0.7rem 0; padding: 0.3rem 0.7rem; }
details.turn.abstained { border: 2px solid #c98a1b; }
details.turn > summary { cursor: pointer; padding: 0.25rem 0; }
.turn-n { font-weight: 700; }
.turn-q { font-style: italic; }
.turn-info { display: block; font-size: 0.82rem; opacity: 0.8; }
#sources article.src { border-top: 1px solid var(--border-color-primary); padding: 0.55rem 0.3rem;
  margin: 0; scroll-margin-top: 1rem; transition: background-color 0.4s; }
#sources article.src.flash { background: rgba(255, 214, 0, 0.3); }
.src-head { font-size: 1rem; line-height: 1.3; }
.src-n { font-weight: 700; color: var(--color-accent); margin-right: 0.2rem; }
.src-title { font-weight: 600; }
.src-meta { font-size: 0.86rem; }
.src-where { font-size: 0.78rem; opacity: 0.7; font-family: ui-monospace, monospace; }
#sources .src-label { font-size: 0.84rem; font-weight: 600; margin: 0.4rem 0 0.1rem 0; }
.badge { background: #5b6b8c; color: #fff; border-radius: 4px; padding: 0 0.35rem;
  font-size: 0.78rem; }
/* Gradio sets ".prose blockquote" margins with !important; the excerpts sit closer. */
#sources blockquote.excerpt, #sources blockquote.annotated { white-space: pre-wrap;
  margin: 0.35rem 0 0 0 !important; padding: 0.45rem 0.7rem; border-left: 3px solid #b8a46a;
  background: var(--background-fill-secondary); font-family: Georgia, "Times New Roman", serif;
  font-size: 0.95rem; line-height: 1.45; font-style: normal; quotes: none; }
#sources blockquote.annotated { border-left-style: dashed; }
#sources blockquote mark { background: #ffe680; color: #000; padding: 0 1px; }
.abstain, .abstain-box { border-left: 4px solid #c98a1b; background: rgba(201, 138, 27, 0.12);
  padding: 0.45rem 0.7rem; border-radius: 4px; }
.answer-note { font-size: 0.85rem; font-style: italic; margin-top: 0.3rem; }
a.cite { text-decoration: none; font-weight: 600; color: var(--color-accent); }
a.cite:hover { text-decoration: underline; }
.notice { padding: 0.45rem 0.7rem; border-radius: 6px; margin: 0.3rem 0; }
.notice-error { background: rgba(200, 40, 40, 0.12); border-left: 4px solid #c82828; }
.notice-ok { background: rgba(40, 150, 70, 0.12); border-left: 4px solid #289646; }
.pending { font-style: italic; opacity: 0.8; }
"""
# A click on [n] in the chat scrolls its Sources entry into view (the page's own script;
# no corpus text is ever placed here).
HEAD = """<script>
document.addEventListener("click", function (ev) {
  const link = ev.target.closest ? ev.target.closest('a[href^="#src-"]') : null;
  if (!link) return;
  const target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  ev.preventDefault();
  ev.stopPropagation();
  const group = target.closest("details");
  if (group) group.open = true;
  target.scrollIntoView({behavior: "smooth", block: "start"});
  target.classList.add("flash");
  setTimeout(function () { target.classList.remove("flash"); }, 1800);
}, true);
</script>"""
