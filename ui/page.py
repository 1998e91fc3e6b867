"""What the page does when a reader acts: ask, clear, rate an answer, choose documents.

``ChatPage`` holds the handlers; every session's chat lives in its own ``gr.State`` (a list of
:class:`ui.render.Turn`), never here. ``answer_json`` is the programmatic endpoint ``/answer``.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import Any, Protocol

import gradio as gr

from assistant import Answer, AssistantError, DocumentSummary, Settings
from assistant.conversation import check_text
from assistant.safe_text import without_surrogates

from .feedback import VERDICTS, Verdict, append_jsonl, feedback_record
from .render import (
    EMPTY_PANEL,
    Turn,
    answer_html,
    answerer_line,
    esc,
    notice_html,
    sources_html,
    status_html,
)

log = logging.getLogger(__name__)

PENDING = '<span class="pending">Searching the documents…</span>'
EMPTY_QUESTION = "The question is empty; type a question about the documents."
NO_DOCUMENTS = "No document is chosen; tick at least one under “Documents to search”."
UNEXPECTED = "Something went wrong while answering ({kind}); the server log has the details."
NOTHING_TO_RATE = "That message has no answer to rate; ask a question first."

Messages = list[dict[str, str]]
Outputs = tuple[Any, ...]  # chat, sources, notice, question box, turns
VERDICT_OF_LIKE: dict[bool, Verdict] = {True: "up", False: "down"}


class Backend(Protocol):
    """What the page uses of :class:`assistant.Assistant` (tests pass fakes)."""

    @property
    def settings(self) -> Settings: ...

    def documents(self) -> list[DocumentSummary]: ...

    def ask(
        self, question: str, history: Messages | None = None, doc_ids: Sequence[str] | None = None
    ) -> Answer: ...


class ChatPage:
    """The event handlers of one page; state lives in the sessions, not here."""

    def __init__(self, assistant: Backend) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self.docs = _documents(assistant)

    # -- asking -------------------------------------------------------------------------------
    def respond(
        self, question: str, turns: list[Turn], documents: list[str] | None
    ) -> Generator[Outputs, None, None]:
        """Answer ``question`` after this session's ``turns``; streams when the answerer can.

        Yields the chat, the Sources panel, a notice, the question box and the new turns.
        """
        turns = list(turns or [])
        doc_ids, problem = self.doc_ids(documents)
        if not (question or "").strip():
            problem = EMPTY_QUESTION
        try:
            check_text(question or "", "the question")
        except AssistantError as exc:  # bytes that were not UTF-8: say so, echo them safely
            problem, question = _sentence(exc), without_surrogates(question)
        if problem:
            yield self.chat(turns), gr.skip(), notice_html(problem), question, turns
            return
        pending = [*self.chat(turns), _user(question), {"role": "assistant", "content": PENDING}]
        yield pending, gr.skip(), "", question, turns
        history = history_of(turns)
        try:
            answer = yield from self._answer(question, history, doc_ids, pending)
        except AssistantError as exc:
            yield self.chat(turns), gr.skip(), notice_html(_sentence(exc)), question, turns
            return
        except Exception as exc:  # the page must say so, not hang on "Searching…"
            log.exception("answering %r failed", question)
            message = UNEXPECTED.format(kind=type(exc).__name__)
            yield self.chat(turns), gr.skip(), notice_html(message), question, turns
            return
        turns.append(Turn(len(turns) + 1, question.strip(), answer, history))
        yield self.chat(turns), sources_html(turns, self.docs), "", "", turns

    def _answer(
        self, question: str, history: Messages, doc_ids: list[str] | None, pending: Messages
    ) -> Generator[Outputs, None, Answer]:
        """The Answer; on the way, the growing text when the LLM answerer streams.

        A streaming backend is ``assistant.ask_stream(question, history, doc_ids)`` yielding
        text pieces and, last, the checked ``Answer`` (which replaces the streamed text).
        """
        stream = getattr(self.assistant, "ask_stream", None)
        if self.settings.answerer != "llm" or not callable(stream):
            return self.assistant.ask(question, history=history, doc_ids=doc_ids)
        text = ""
        for item in stream(question, history=history, doc_ids=doc_ids):
            if isinstance(item, Answer):
                return item
            text += str(item)
            shown = [*pending[:-1], {"role": "assistant", "content": esc(text) + " ▌"}]
            yield shown, gr.skip(), "", question, gr.skip()
        raise AssistantError("the answer stream ended without an answer; ask again.")

    def doc_ids(self, documents: Sequence[str] | None) -> tuple[list[str] | None, str]:
        """The ids to search (None: all of them) or the reason there are none."""
        all_ids = [d.id for d in self.docs]
        if documents is None or not all_ids or set(all_ids) <= set(documents):
            return None, ""
        picked = [i for i in documents if i in all_ids]
        return (picked, "") if picked else (None, NO_DOCUMENTS)

    def chat(self, turns: Sequence[Turn]) -> Messages:
        """The chat messages of a session, rebuilt from its turns."""
        messages: Messages = []
        for t in turns:
            messages += [_user(t.question),
                         {"role": "assistant", "content": answer_html(t.answer, t.n, self.docs)}]  # fmt: skip
        return messages

    def clear(self) -> Outputs:
        """A fresh chat for this session."""
        return self.chat([]), EMPTY_PANEL, "", []

    # -- feedback -----------------------------------------------------------------------------
    def like(self, data: gr.LikeData, turns: list[Turn]) -> tuple[str, list[Turn]]:
        """Store the thumb clicked under an answer; a second click (withdrawn) stores nothing."""
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turn_no = int(index) // 2  # each turn is a question then its answer
        if not turns or not 0 <= turn_no < len(turns):
            return notice_html(NOTHING_TO_RATE), turns
        verdict = VERDICT_OF_LIKE.get(data.liked) if isinstance(data.liked, bool) else None
        if verdict is None:
            return "", _rated(turns, turn_no, "")
        return self._save(verdict, "", turns[turn_no]), _rated(turns, turn_no, verdict)

    def rate(
        self, verdict: str, comment: str, answer: float | None, turns: list[Turn]
    ) -> tuple[str, list[Turn]]:
        """``/feedback`` for programs: a verdict ("up"/"down") on answer ``answer``.

        ``answer`` counts from 1; 0 or None means the latest answer.
        """
        if verdict not in VERDICTS:
            return notice_html(f"The verdict must be 'up' or 'down', not {verdict!r}."), turns
        if not turns:
            return notice_html("Ask a question first: feedback is about an answer."), turns
        n = int(answer or len(turns))
        if not 1 <= n <= len(turns):
            return notice_html(f"There is no answer {n}; this chat has {len(turns)}."), turns
        checked: Verdict = "up" if verdict == "up" else "down"
        return self._save(checked, comment or "", turns[n - 1]), _rated(turns, n - 1, verdict)

    def _save(self, verdict: Verdict, comment: str, turn: Turn) -> str:
        comment = without_surrogates(comment or "")
        record = feedback_record(verdict, turn.question, turn.history, turn.answer, comment)
        try:
            append_jsonl(self.settings.feedback_path, record)
        except Exception as exc:  # a full disk or a held lock must not break the chat
            log.exception("feedback not saved")
            return notice_html(f"Feedback could not be saved ({type(exc).__name__}); try again.")
        word = "helpful" if verdict == "up" else "not helpful"
        return notice_html(f"Thank you: answer {turn.n} marked “{word}”, saved.", kind="ok")

    # -- what the page shows of the store ------------------------------------------------------
    def status(self, note: str = "") -> str:
        """The status line: documents and passages loaded, and the answerer."""
        s = self.settings
        return status_html(
            sum(d.passages for d in self.docs),
            len(self.docs),
            answerer_line(s.answerer, s.llm_provider, s.llm_model),
            note,
        )

    def answer_json(
        self,
        question: str,
        history: list[dict[str, str]] | None = None,
        documents: list[str] | None = None,
    ) -> dict[str, Any]:
        """Answer a question; returns the Answer as JSON (text, citations, searched, ...).

        Args:
            question: the question.
            history: the chat before it, as [{"role": "user"|"assistant", "content": ...}].
            documents: ids of the documents to search (all when empty).
        """
        try:
            answer = self.assistant.ask(question, history=history or [], doc_ids=documents or None)
        except AssistantError as exc:
            raise gr.Error(_sentence(exc), print_exception=False) from None
        return answer.to_dict()


def _documents(assistant: Backend) -> list[DocumentSummary]:
    try:
        return assistant.documents()
    except AssistantError:
        return []  # an empty store: the status line says what to do


def _rated(turns: list[Turn], i: int, verdict: str) -> list[Turn]:
    return [replace(t, verdict=verdict) if j == i else t for j, t in enumerate(turns)]


def _user(question: str) -> dict[str, str]:
    return {"role": "user", "content": esc(question.strip())}


def history_of(turns: Sequence[Turn]) -> Messages:
    """The plain-text history the API expects (no HTML)."""
    out: Messages = []
    for t in turns:
        out += [{"role": "user", "content": t.question},
                {"role": "assistant", "content": t.answer.text}]  # fmt: skip
    return out


def _sentence(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[0].upper() + text[1:]
