"""The LLM answerer: a LangChain chat model answers from numbered excerpts; its reply is checked.

    excerpts numbered 1..n (the retrieved passages, then two linked notes), inside <excerpts>
      -> chat model (OpenAI-compatible server or Ollama; an injected model in tests)
      -> check: [n] naming no excerpt dropped, quotes verified verbatim (else unquoted),
         a citation of an excerpt sharing no content word with its sentence dropped,
         uncited sentences left out, citations built from exact source spans, renumbered 1, 2, 3
      -> backend down, slow or talking garbage, or an answer citing nothing:
         the default answerer's answer, with a note saying why

The model's reply is never trusted: a citation only reaches the user when its quote is
``source[start:end]`` of the excerpt it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import SecretStr

from assistant.citations import MARKER_RE, find_quote, make_citation, renumber
from assistant.conversation import Turn, standalone_question
from assistant.lexical import tokenize
from assistant.prompts import (
    ANSWER_SYSTEM_PROMPT,
    ANSWER_USER_PROMPT,
    CANNOT_ANSWER,
    CONDENSE_PROMPT,
    LLM_FALLBACK_NOTE,
    UNSUPPORTED_NOTE,
)
from assistant.question import QuestionState
from assistant.sentences import sentence_spans
from assistant.settings import Settings
from assistant.tuning import LinkTuning
from assistant.types import Answer, Citation, Passage

# Fixed sentences of this stage (candidates for assistant.prompts).
UNCITED_FALLBACK_NOTE = (
    "The language model's answer cited none of the excerpts; this answer was composed from the "
    "excerpts instead."
)
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
DELIMITER_RE = re.compile(r"<\s*/?\s*excerpts\s*>", re.I)

Excerpts = dict[int, Passage]


# -- the chat model ---------------------------------------------------------------------------
def make_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model the settings name: an OpenAI-compatible endpoint or Ollama."""
    if settings.llm_provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            temperature=settings.llm_temperature,
            client_kwargs={"timeout": settings.llm_timeout},
        )
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=SecretStr(settings.llm_api_key),
        timeout=settings.llm_timeout,
        max_retries=0,  # a retry doubles the wait; the fallback answer is better
        temperature=settings.llm_temperature,
    )


# -- the prompt -------------------------------------------------------------------------------
def number_excerpts(state: QuestionState, linked: int) -> Excerpts:
    """Excerpts numbered from 1: the retrieved passages, then the first ``linked`` linked
    notes."""
    out: Excerpts = {}
    seen: set[str] = set()
    for p in [*state.passages, *state.linked[:linked]]:
        if p.id not in seen:
            seen.add(p.id)
            out[len(out) + 1] = p
    return out


def _defang(text: str) -> str:
    """A document cannot close the delimited context early: its own delimiters are disarmed."""
    return DELIMITER_RE.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)


def format_excerpts(excerpts: Excerpts) -> str:
    """``[n] <title> — <section>`` then the passage text, for each excerpt."""
    blocks = []
    for n, p in excerpts.items():
        head = f"{p.title} — {p.section}" if p.section else p.title
        blocks.append(f"[{n}] {_defang(head)}\n{_defang(p.text.strip())}")
    return "\n\n".join(blocks)


def answer_messages(state: QuestionState, excerpts: Excerpts, max_words: int) -> list[BaseMessage]:
    """System rules, then the excerpts (as data, between delimiters) and the question."""
    question = state.query or state.question
    return [
        SystemMessage(
            ANSWER_SYSTEM_PROMPT.format(cannot_answer=CANNOT_ANSWER, max_words=max_words)
        ),
        HumanMessage(
            ANSWER_USER_PROMPT.format(excerpts=format_excerpts(excerpts), question=question)
        ),
    ]


# -- answering --------------------------------------------------------------------------------
class LLMAnswerer:
    """Answers with a chat model from the state's excerpts; the snapshot's default answerer
    when the model fails or cites nothing. Also rewrites follow-ups as standalone questions."""

    def __init__(
        self, model: BaseChatModel, settings: Settings, links: LinkTuning | None = None
    ) -> None:
        self.model = model
        self.settings = settings
        self.links = links or LinkTuning()

    def answer(self, state: QuestionState) -> Answer:
        """The chat model's answer, checked; the default answerer's when the model fails."""
        excerpts = number_excerpts(state, self.links.linked_excerpts)
        try:
            reply = self.model.invoke(
                answer_messages(state, excerpts, self.settings.max_answer_words)
            ).text
        except Exception as exc:  # any failure of the backend means: answer without it
            return unavailable(state, _reason(exc, self.settings))
        return finish(self.settings, state, excerpts, reply)

    def stream(self, state: QuestionState) -> Iterator[str | Answer]:
        """The model's raw text as it arrives, then the checked Answer (always last).

        The streamed text is unchecked: show it as provisional and replace it by the final
        Answer's text, which may differ (markers renumbered, quotes unquoted) or be the fallback.
        """
        excerpts = number_excerpts(state, self.links.linked_excerpts)
        parts: list[str] = []
        try:
            for chunk in self.model.stream(
                answer_messages(state, excerpts, self.settings.max_answer_words)
            ):
                if piece := chunk.text:
                    parts.append(piece)
                    yield piece
        except Exception as exc:
            yield unavailable(state, _reason(exc, self.settings))
            return
        yield finish(self.settings, state, excerpts, "".join(parts))

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up rewritten by the model as a standalone question (deterministic on
        failure)."""
        if not history:
            return question
        history_text = _format_history(history, self.links.history_chars)
        prompt = CONDENSE_PROMPT.format(history=history_text, question=question)
        try:
            reply = self.model.invoke([HumanMessage(prompt)]).text
        except Exception:  # the answer step will report the backend; here just do without it
            return standalone_question(question, history)
        condensed = _first_line(reply)
        if not condensed or len(condensed) > self.settings.max_question_chars:
            return standalone_question(question, history)
        return condensed


def finish(settings: Settings, state: QuestionState, excerpts: Excerpts, reply: str) -> Answer:
    """The reply turned into an Answer whose every marker resolves to a verbatim citation."""
    reply = reply.strip()
    if not reply:
        return unavailable(state, "it sent an empty reply")
    answerer = f"llm:{settings.llm_model}"
    if _is_cannot_answer(reply):
        ans = state.snapshot.answerer.abstain(state.question, state.query, state.passages)
        return replace(ans, answerer=answerer)
    text, citations, notes = check_reply(reply, excerpts, [*state.passages, *state.linked])
    if not citations:
        ans = state.excerpt_answer()
        return replace(
            ans, notes=[UNCITED_FALLBACK_NOTE, *ans.notes], answerer="default (LLM answer uncited)"
        )
    return Answer(
        question=state.question,
        text=text,
        citations=citations,
        standalone_question=state.query,
        answerer=answerer,
        notes=notes,
    )


def unavailable(state: QuestionState, reason: str) -> Answer:
    """The default answerer's answer, with a note saying why the model was not used."""
    ans = state.excerpt_answer()
    note = LLM_FALLBACK_NOTE.format(reason=reason)
    return replace(ans, notes=[note, *ans.notes], answerer="default (LLM unavailable)")


def _is_cannot_answer(reply: str) -> bool:
    head = reply.strip(" \"'“”«»*").casefold()
    return head.startswith(CANNOT_ANSWER.rstrip(".").casefold())


def _reason(exc: BaseException, settings: Settings) -> str:
    import httpx  # the OpenAI client's transport (installed with it); only to name a failure
    import openai

    if isinstance(exc, TimeoutError | httpx.TimeoutException | openai.APITimeoutError):
        return f"no reply within {settings.llm_timeout:g} s"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"the server answered with HTTP error {status}"
    if isinstance(exc, ConnectionError | httpx.TransportError | openai.APIConnectionError):
        where = settings.llm_base_url or f"the default {settings.llm_provider} address"
        return f"no connection to {where}; is the server running?"
    return f"its reply could not be read: {type(exc).__name__}"


# -- checking the reply -----------------------------------------------------------------------
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
            if _is_cannot_answer(bare):  # states a gap, claims nothing: needs no citation
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


# -- follow-ups -------------------------------------------------------------------------------
def _format_history(history: Sequence[Turn], chars: int) -> str:
    lines = []
    for msg in history:
        who = "User" if msg.role == "user" else "Assistant"
        content = " ".join(MARKER_RE.sub("", msg.content).split())[:chars]
        lines.append(f"{who}: {content}")
    return "\n".join(lines)


def _first_line(reply: str) -> str:
    for line in reply.splitlines():
        line = re.sub(r"^\s*(standalone question\s*:)?", "", line, flags=re.I).strip()
        line = line.strip("\"“”«»'` ")
        if line:
            return line
    return ""
