"""The chat page: questions on the left, the Sources of every answer on the right.

``launch()`` is what ``assistant ui`` runs: it brings the store in line with the corpus
(printing progress when it has to embed), then serves ``build_app(assistant)`` on
``settings.ui_host:ui_port``. The page calls only the public API of :mod:`assistant`.
Each browser session keeps its own chat in a ``gr.State``; the queue bounds the work done at
once (``ui_concurrency``) and the questions waiting (``ui_queue_size``).

Exposure: the page binds loopback unless told otherwise, and refuses to bind anything else
without ``ASSISTANT_UI_AUTH`` unless ``--insecure-public`` says that is meant. It takes no
files: Gradio's upload endpoint answers 403.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Awaitable, Callable, Generator, MutableMapping, Sequence
from functools import partial
from typing import Any, Protocol

import gradio as gr
from starlette.middleware import Middleware

from assistant import (
    Answer,
    Assistant,
    AssistantError,
    EmptyStoreError,
    Settings,
    StoreLockedError,
)
from assistant.conversation import check_text
from assistant.ingest import CUTTING
from assistant.safe_text import escaped, without_surrogates
from ui.feedback import Verdict, append_jsonl, feedback_record
from ui.render import (
    CSS,
    EMPTY_PANEL,
    HEAD,
    Turn,
    answer_html,
    answerer_line,
    esc,
    notice_html,
    sources_html,
    status_html,
)

log = logging.getLogger(__name__)

TITLE = "Trotsky and the Left Opposition, 1923–1927: ask the documents"
INTRO = (
    "Answers come only from the documents in the store, and every claim carries a number "
    "that opens the excerpt it rests on in the Sources panel. When the documents do not "
    "answer, the page says so and offers the closest passages instead."
)
EXAMPLE_QUESTIONS = [
    "Why did Trotsky write to Krupskaya in May 1927?",
    "What did Trotsky say about the secretarial apparatus in his letter of 8 October 1923?",
    "Why did Natalia Sedova reject the slogan of the defense of the USSR in 1944?",
    "What does Trotsky ask of the Bureau of Party History?",
    "In the 1921 purge, what share of those expelled were thrown out for careerism?",
    "What is the French proverb behind Trotsky's line about slander?",
]
PENDING = '<span class="pending">Searching the documents…</span>'
EMPTY_QUESTION = "The question is empty; type a question about the documents."
NO_DOCUMENTS = "No document is chosen; tick at least one under “Documents to search”."
UNEXPECTED = "Something went wrong while answering ({kind}); the server log has the details."
NO_UPLOADS = "This page takes no files."
PUBLIC_WITHOUT_LOGIN = (
    "the page would be served on {host}, beyond this machine, to anyone who reaches port "
    "{port}, without a login. Set ASSISTANT_UI_AUTH=user:password (Gradio's login), or bind "
    "127.0.0.1 (unset ASSISTANT_UI_HOST); if an authenticating proxy stands in front of it, "
    "start it with `assistant ui --insecure-public`."
)

Messages = list[dict[str, str]]
Outputs = tuple[Any, ...]  # chat, sources, notice, question box, turns


class Backend(Protocol):
    """What the page uses of :class:`assistant.Assistant` (tests pass fakes)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Any: ...  # only .count()

    def documents(self) -> list[dict[str, str]]: ...

    def ask(
        self, question: str, history: Messages | None = None, doc_ids: Sequence[str] | None = None
    ) -> Answer: ...


class ChatPage:
    """The event handlers of one page; state lives in the sessions, not here."""

    def __init__(self, assistant: Backend) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self.docs = _documents(assistant)

    def respond(
        self, question: str, turns: list[Turn], chosen: list[str] | None
    ) -> Generator[Outputs, None, None]:
        """Answer ``question`` after this session's ``turns``; streams when the answerer can."""
        turns = list(turns or [])
        doc_ids, problem = self._doc_ids(chosen)
        if not (question or "").strip():
            problem = EMPTY_QUESTION
        try:
            check_text(question or "", "the question")
        except AssistantError as exc:  # bytes that were not UTF-8: say so, echo them safely
            problem, question = _sentence(exc), without_surrogates(question)
        if problem:
            yield _chat(turns), gr.skip(), notice_html(problem), question, turns
            return
        pending = [*_chat(turns), _user(question), {"role": "assistant", "content": PENDING}]
        yield pending, gr.skip(), "", question, turns
        history = _history(turns)
        try:
            answer = yield from self._answer(question, history, doc_ids, pending)
        except AssistantError as exc:
            yield _chat(turns), gr.skip(), notice_html(_sentence(exc)), question, turns
            return
        except Exception as exc:  # the page must say so, not hang on "Searching…"
            log.exception("answering %r failed", question)
            message = UNEXPECTED.format(kind=type(exc).__name__)
            yield _chat(turns), gr.skip(), notice_html(message), question, turns
            return
        turns.append(Turn(len(turns) + 1, question.strip(), answer, history))
        yield _chat(turns), sources_html(turns), "", "", turns

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

    def _doc_ids(self, chosen: list[str] | None) -> tuple[list[str] | None, str]:
        """The ids to search (None: all of them) or the reason there are none."""
        all_ids = [d["id"] for d in self.docs]
        if chosen is None or not all_ids or set(all_ids) <= set(chosen):
            return None, ""
        picked = [i for i in chosen if i in all_ids]
        return (picked, "") if picked else (None, NO_DOCUMENTS)

    def clear(self) -> Outputs:
        """A fresh chat for this session."""
        return [], EMPTY_PANEL, "", "", []

    def rate(self, verdict: Verdict, comment: str, turns: list[Turn]) -> tuple[str, str]:
        """Store a verdict on the latest answer; returns the notice and the cleared comment."""
        if not turns:
            return notice_html("Ask a question first: feedback is about an answer."), comment
        return self._save(verdict, comment, turns[-1]), ""

    def like(self, data: gr.LikeData, comment: str, turns: list[Turn]) -> tuple[str, str]:
        """Store the thumb clicked under an answer in the chat."""
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turn_no = int(index) // 2  # each turn is a question then its answer
        if not turns or not 0 <= turn_no < len(turns) or data.liked not in (True, False):
            return notice_html("That message has no answer to rate."), comment
        return self._save("up" if data.liked else "down", comment, turns[turn_no]), ""

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

    def status(self, note: str = "") -> str:
        s = self.settings
        return status_html(
            _passage_count(self.assistant),
            len(self.docs),
            answerer_line(s.answerer, s.llm_provider, s.llm_model),
            note,
        )


def _documents(assistant: Backend) -> list[dict[str, str]]:
    try:
        return assistant.documents()
    except AssistantError:
        return []  # an empty store: the status line says what to do


def _passage_count(assistant: Backend) -> int:
    try:
        return int(assistant.store.count())
    except AssistantError:
        return 0


def _user(question: str) -> dict[str, str]:
    return {"role": "user", "content": esc(question.strip())}


def _chat(turns: Sequence[Turn]) -> Messages:
    """The chat messages of a session, rebuilt from its turns."""
    out: Messages = []
    for t in turns:
        out += [_user(t.question), {"role": "assistant", "content": answer_html(t.answer, t.n)}]
    return out


def _history(turns: Sequence[Turn]) -> Messages:
    """The plain-text history the API expects (no HTML)."""
    out: Messages = []
    for t in turns:
        out += [{"role": "user", "content": t.question},
                {"role": "assistant", "content": t.answer.text}]  # fmt: skip
    return out


def _sentence(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[0].upper() + text[1:]


def _doc_label(d: dict[str, str]) -> str:
    who = ", ".join(x for x in (d.get("author", ""), d.get("date", "")) if x)
    return f"{d['title']} ({who})" if who else d["title"]


def build_app(assistant: Backend, note: str = "") -> gr.Blocks:
    """The page for ``assistant``, its queue configured from the settings.

    Args:
        assistant: the public API object, or anything shaped like it (:class:`Backend`).
        note: shown under the status line, e.g. what the launch's store check did.
    """
    page = ChatPage(assistant)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        turns = gr.State([])
        gr.HTML(f'<div class="intro"><h1>{esc(TITLE)}</h1><p>{esc(INTRO)}</p></div>')
        gr.HTML(page.status(note), elem_id="status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=380):
                chat, notice, question, ask, comment, up, down, clear, chosen = _chat_column(page)
            with gr.Column(scale=6, min_width=380):
                gr.HTML('<h2 class="panel-title">Sources</h2>')
                sources = gr.HTML(EMPTY_PANEL, elem_id="sources", js_on_load=None)
        outs = [chat, sources, notice, question, turns]
        gr.on([ask.click, question.submit], page.respond, [question, turns, chosen], outs,
              api_name="ask")  # fmt: skip
        clear_outs = [chat, sources, notice, comment, turns]
        clear.click(page.clear, None, clear_outs, api_name="clear")
        chat.clear(page.clear, None, clear_outs, api_name=False)  # the chat's own trash icon
        fb_outs = [notice, comment]
        up.click(partial(page.rate, "up"), [comment, turns], fb_outs, api_name="feedback_up")
        down.click(partial(page.rate, "down"), [comment, turns], fb_outs, api_name="feedback_down")
        chat.like(page.like, [comment, turns], fb_outs, api_name=False)
    demo.queue(
        default_concurrency_limit=assistant.settings.ui_concurrency,
        max_size=assistant.settings.ui_queue_size,
    )
    return demo


def _chat_column(page: ChatPage) -> tuple[Any, ...]:
    """The chat, the question box, examples, the document filter and the feedback row."""
    chat = gr.Chatbot(
        label="Chat", elem_id="chat", height=520, buttons=["copy"],
        placeholder="Ask a question about the documents; the answer cites its excerpts.",
    )  # fmt: skip
    notice = gr.HTML("", elem_id="notice")
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            show_label=False, placeholder="Ask about the documents…", elem_id="question",
            scale=6, lines=1, max_lines=4, max_length=page.settings.max_question_chars,
        )  # fmt: skip
        ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
    gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Example questions")
    with gr.Accordion("Documents to search (all, unless you untick some)", open=False):
        chosen = gr.CheckboxGroup(
            choices=[(_doc_label(d), d["id"]) for d in page.docs],
            value=[d["id"] for d in page.docs], show_label=False, elem_id="docs",
        )  # fmt: skip
    with gr.Group(elem_id="feedback"):
        comment = gr.Textbox(
            label="Feedback on the latest answer", max_lines=3, elem_id="comment",
            placeholder="Comment (optional), then choose Helpful or Not helpful",
        )  # fmt: skip
        with gr.Row(equal_height=True):
            up = gr.Button("▲ Helpful", size="sm", elem_id="thumb-up")
            down = gr.Button("▼ Not helpful", size="sm", elem_id="thumb-down")
            clear = gr.Button("Clear chat", size="sm", elem_id="clear")
    return chat, notice, question, ask, comment, up, down, clear, chosen


THEME = gr.themes.Default(
    font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``"user:password"`` as Gradio's auth pair; None for no login."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise AssistantError("ASSISTANT_UI_AUTH must look like 'user:password'; fix or unset it.")
    return user, password


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def check_exposure(host: str, port: int, settings: Settings, insecure_public: bool) -> None:
    """Refuse to serve beyond loopback without a login, unless told that is meant."""
    if is_loopback(host) or settings.ui_auth or insecure_public:
        return
    raise AssistantError(PUBLIC_WITHOUT_LOGIN.format(host=escaped(host), port=port))


class NoUploads:
    """ASGI middleware: the page takes no files, so Gradio's upload endpoint is closed."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        path = str(scope.get("path", "")).rstrip("/")
        if scope.get("type") == "http" and path.endswith("/upload"):
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})  # fmt: skip
            await send({"type": "http.response.body", "body": NO_UPLOADS.encode()})
            return
        await self.app(scope, receive, send)


def serve(
    demo: gr.Blocks,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    block: bool = True,
    insecure_public: bool = False,
) -> str:
    """Serve ``demo`` on ``host:port`` (settings by default); returns the local URL.

    No extra file is served (no ``allowed_paths``), none is taken (uploads answer 403), no
    share link unless ``ui_share``.

    Raises:
        AssistantError: ``host`` is not loopback, no login is set and ``insecure_public`` is
            not given.
    """
    host = host or settings.ui_host
    port = port or settings.ui_port
    check_exposure(host, port, settings, insecure_public)
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=settings.ui_share,
        auth=parse_auth(settings.ui_auth),
        prevent_thread_lock=not block,
        theme=THEME, css=CSS, head=HEAD,
        footer_links=["api"], enable_monitoring=False, mcp_server=False, ssr_mode=False,
        pwa=False, run_history=False, quiet=not block,
        app_kwargs={"middleware": [Middleware(NoUploads)]},
    )  # fmt: skip
    return str(url)


def sync_store(assistant: Assistant) -> str:
    """Bring the store in line with the corpus, printing progress; returns what it did.

    An unchanged corpus costs a few seconds; a missing or stale store (a new file, a new
    model or chunker) is built here, with a progress line per batch of passages.
    """
    s = assistant.settings
    print(f"Checking the store {s.vectorstore_dir} against {s.corpus_dir} …", flush=True)

    def progress(done: int, total: int, what: str) -> None:
        if what.startswith(CUTTING):  # a large file is parsed first: a line per tenth
            if done == total or done * 10 // max(total, 1) > (done - 1) * 10 // max(total, 1):
                print(f"  {escaped(what)}: {100 * done // max(total, 1)}%", flush=True)
            return
        print(f"  embedding {escaped(what)}: {done}/{total} passages", flush=True)

    try:
        report = assistant.ingest(progress=progress)
    except StoreLockedError as exc:
        if _passage_count(assistant) == 0:
            raise
        print(f"warning: {exc} Serving the store as it is.", file=sys.stderr)
        return "Another ingest is writing the store; answers use the store as it was."
    for w in report.warnings:
        print(f"warning: {escaped(w)}", file=sys.stderr)
    summary = report.summary()
    print(escaped(summary), flush=True)
    return f"Store check at launch: {summary}"


def launch(host: str | None = None, port: int | None = None, insecure_public: bool = False) -> None:
    """``assistant ui``: sync the store (visible progress), then serve the page until Ctrl-C."""
    settings = Settings()
    assistant = Assistant(settings)
    try:
        check_exposure(host or settings.ui_host, port or settings.ui_port, settings,
                       insecure_public)  # fmt: skip
        note = sync_store(assistant)
        if _passage_count(assistant) == 0:
            raise EmptyStoreError("the store is still empty; add documents to corpus/.")
        demo = build_app(assistant, note)
    except AssistantError as exc:
        print(f"error: {escaped(str(exc))}", file=sys.stderr)
        raise SystemExit(1) from None
    serve(demo, settings, host, port, insecure_public=insecure_public)
