"""The LLM answerer: a LangChain chat model answers from numbered excerpts; its reply is checked.

    excerpts numbered 1..n (the retrieved passages, then two linked notes), inside <excerpts>
      -> chat model (any LangChain chat model given to the Assistant, or the settings'
         OpenAI-compatible server or Ollama)
      -> check (:mod:`assistant.reply_check`): [n] naming no excerpt dropped, quotes verified verbatim (else unquoted),
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

from assistant.citations import MARKER_RE
from assistant.conversation import Turn, standalone_question
from assistant.errors import ChatModelError
from assistant.prompts import (
    ANSWER_SYSTEM_PROMPT,
    ANSWER_USER_PROMPT,
    CANNOT_ANSWER,
    CONDENSE_PROMPT,
    LLM_FALLBACK_NOTE,
)
from assistant.question import QuestionState
from assistant.reply_check import Excerpts, check_reply, is_cannot_answer
from assistant.settings import Settings
from assistant.tuning import LinkTuning
from assistant.types import Answer

# Fixed sentences of this stage (candidates for assistant.prompts).
UNCITED_FALLBACK_NOTE = (
    "The language model's answer cited none of the excerpts; this answer was composed from the "
    "excerpts instead."
)

DELIMITER_RE = re.compile(r"<\s*/?\s*excerpts\s*>", re.I)


# -- the chat model ---------------------------------------------------------------------------
def make_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model the settings name: an OpenAI-compatible endpoint or Ollama.

    Raises:
        ChatModelError: its client is not installed (the ``llm`` extra).
    """
    try:
        if settings.llm_provider == "ollama":
            from langchain_ollama import ChatOllama

            return ChatOllama(
                model=settings.llm_model,
                base_url=settings.llm_base_url,
                temperature=settings.llm_temperature,
                client_kwargs={"timeout": settings.llm_timeout},
            )
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ChatModelError(
            f"the {settings.llm_provider} chat client is not installed ({exc.name} is missing); "
            "install it with pip install 'trotsky-assistant[llm]', or pass any LangChain chat "
            "model as Assistant(settings, chat_model=...)."
        ) from None
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
    if is_cannot_answer(reply):
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


def _reason(exc: BaseException, settings: Settings) -> str:
    timeouts, transport = _client_errors()
    if isinstance(exc, (TimeoutError, *timeouts)):
        return f"no reply within {settings.llm_timeout:g} s"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"the server answered with HTTP error {status}"
    if isinstance(exc, (ConnectionError, *transport)):
        where = settings.llm_base_url or f"the default {settings.llm_provider} address"
        return f"no connection to {where}; is the server running?"
    return f"its reply could not be read: {type(exc).__name__}"


def _client_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """The timeout and connection errors of the HTTP clients (httpx; openai's, when the
    ``llm`` extra is installed: a chat model of the user's own may not need it)."""
    import httpx

    timeouts: tuple[type[BaseException], ...] = (httpx.TimeoutException,)
    transport: tuple[type[BaseException], ...] = (httpx.TransportError,)
    try:
        import openai
    except ImportError:
        return timeouts, transport
    return (*timeouts, openai.APITimeoutError), (*transport, openai.APIConnectionError)


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
