"""The chat page: the chat and its tools on the left, the Sources of every answer on the right.

``launch()`` is what ``assistant ui`` runs: it brings the store in line with the corpus
(printing progress when it has to embed), then serves ``build_app(assistant)`` on
``settings.ui_host:ui_port``. The page calls only the public API of :mod:`assistant`.
Each browser session keeps its own chat in a ``gr.State``; the queue bounds the work done at
once (``ui_concurrency``) and the questions waiting (``ui_queue_size``).

Endpoints (``gradio_client``): ``/ask`` is the chat (question, documents -> chat, sources,
notice, question box), ``/answer`` the Answer as JSON, ``/feedback`` a verdict on an answer of
the session, ``/clear`` a fresh chat.

Exposure: the page binds loopback unless told otherwise, and refuses to bind anything else
without ``ASSISTANT_UI_AUTH`` unless ``--insecure-public`` says that is meant. It takes no
files: Gradio's upload endpoint answers 403.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from assistant import (
    Assistant,
    AssistantError,
    DocumentSummary,
    EmptyStoreError,
    IngestProgress,
    Settings,
    StoreLockedError,
)
from assistant.ingest import CUTTING
from assistant.offline import quiet
from assistant.safe_text import escaped

from .page import Backend, ChatPage
from .render import EMPTY_PANEL, esc
from .theme import CSS, HEAD, make_theme

TITLE = "Trotsky and the Left Opposition, 1923–1927"
INTRO = (
    "Ask the documents. Answers come only from them, and every claim carries a number that "
    "opens its excerpt in the Sources. When the documents do not answer, the page says so."
)
# After an answer the Sources column shows its top, where the new answer's sources are.
SOURCES_TO_TOP = "() => { const s = document.getElementById('sources'); if (s) s.scrollTop = 0; }"
EXAMPLE_QUESTIONS = [
    "Why did Trotsky write to Krupskaya in May 1927?",
    "What did Trotsky say about the secretarial apparatus in his letter of 8 October 1923?",
    "Why did Natalia Sedova reject the slogan of the defense of the USSR in 1944?",
    "What does Trotsky ask of the Bureau of Party History?",
    "In the 1921 purge, what share of those expelled were thrown out for careerism?",
    "What is the French proverb behind Trotsky's line about slander?",
]
NO_UPLOADS = "This page takes no files."
PUBLIC_WITHOUT_LOGIN = (
    "the page would be served on {host}, beyond this machine, to anyone who reaches port "
    "{port}, without a login. Set ASSISTANT_UI_AUTH=user:password (Gradio's login), or bind "
    "127.0.0.1 (unset ASSISTANT_UI_HOST); if an authenticating proxy stands in front of it, "
    "start it with `assistant ui --insecure-public`."
)


def build_app(assistant: Backend, note: str = "") -> gr.Blocks:
    """The page for ``assistant``, its queue configured from the settings.

    Args:
        assistant: the public API object, or anything shaped like it (:class:`Backend`).
        note: a warning shown under the status line (e.g. another ingest held the store).
    """
    quiet()  # Gradio's analytics off, Hugging Face offline (unless set otherwise)
    page = ChatPage(assistant)
    with gr.Blocks(title=f"{TITLE}: ask the documents", analytics_enabled=False) as demo:
        turns = gr.State([])
        gr.HTML(f'<header id="masthead"><h1>{esc(TITLE)}</h1><p>{esc(INTRO)}</p></header>')
        gr.HTML(page.status(note), elem_id="status")
        with gr.Row(elem_id="layout"):
            with gr.Column(elem_id="col-chat"):
                chat, notice, question, ask = _chat_column(page)
            with gr.Column(elem_id="col-sources"):
                gr.HTML(
                    '<h2 class="panel-title">Sources <a class="back-to-chat" href="#col-chat" '
                    'data-jump="col-chat">↑ back to the chat</a></h2>'
                )
                sources = gr.HTML(EMPTY_PANEL, elem_id="sources", label="sources", js_on_load=None)
            with gr.Column(elem_id="col-tools"):
                documents, clear = _tools_column(page, question)
        _wire(page, turns, chat, notice, question, ask, sources, documents, clear)
        gr.api(page.answer_json, api_name="answer")
    demo.queue(
        default_concurrency_limit=assistant.settings.ui_concurrency,
        max_size=assistant.settings.ui_queue_size,
    )
    return demo


def _chat_column(page: ChatPage) -> tuple[Any, ...]:
    """The chat (a thumb under each answer), the notice line and the question box."""
    chat = gr.Chatbot(
        label="chat", show_label=False, elem_id="chat", height=None, buttons=[],
        feedback_options=["Like", "Dislike"], layout="panel",
        placeholder="Ask a question about the documents; the answer cites its excerpts.",
    )  # fmt: skip
    notice = gr.HTML("", elem_id="notice", label="notice")
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            label="question", show_label=False, placeholder="Ask about the documents…",
            elem_id="question", scale=6, lines=1, max_lines=4,
            max_length=page.settings.max_question_chars,
        )  # fmt: skip
        ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
    return chat, notice, question, ask


def _tools_column(page: ChatPage, question: gr.Textbox) -> tuple[Any, ...]:
    """The document filter (with all / none), example questions and "Clear chat"."""
    ids = [d.id for d in page.docs]
    documents = gr.CheckboxGroup(
        choices=[(doc_label(d), d.id) for d in page.docs], value=ids,
        label="Documents to search", elem_id="docs",
    )  # fmt: skip
    with gr.Row(elem_id="doc-tools"):
        every = gr.Button("All", size="sm", elem_id="docs-all")
        none = gr.Button("None", size="sm", elem_id="docs-none")
        clear = gr.Button("Clear chat", size="sm", elem_id="clear")
    every.click(lambda: ids, None, documents, api_visibility="private", queue=False)
    none.click(lambda: [], None, documents, api_visibility="private", queue=False)
    gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Example questions")
    return documents, clear


def _wire(
    page: ChatPage,
    turns: gr.State,
    chat: gr.Chatbot,
    notice: gr.HTML,
    question: gr.Textbox,
    ask: gr.Button,
    sources: gr.HTML,
    documents: gr.CheckboxGroup,
    clear: gr.Button,
) -> None:
    """The events: ask, clear, a thumb under an answer, and /feedback for programs."""
    outs = [chat, sources, notice, question, turns]
    asked = gr.on([ask.click, question.submit], page.respond, [question, turns, documents],
                  outs, api_name="ask")  # fmt: skip
    asked.then(None, js=SOURCES_TO_TOP, api_visibility="private")
    clear_outs = [chat, sources, notice, turns]
    clear.click(page.clear, None, clear_outs, api_name="clear")
    chat.clear(page.clear, None, clear_outs, api_visibility="private")
    chat.like(page.like, [turns], [notice, turns], api_visibility="private")
    with gr.Group(visible=False):  # inputs of /feedback: no control on the page
        verdict = gr.Textbox(label="verdict")
        comment = gr.Textbox(label="comment")
        answer = gr.Number(label="answer", precision=0)
        rate = gr.Button("rate")
    rate.click(page.rate, [verdict, comment, answer, turns], [notice, turns],
               api_name="feedback")  # fmt: skip


def doc_label(d: DocumentSummary) -> str:
    """A document as the filter lists it: title (author, year)."""
    who = ", ".join(x for x in (d.author, d.date[:4]) if x)
    return f"{d.title} ({who})" if who else d.title


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
        theme=make_theme(), css=CSS, head=HEAD,
        footer_links=["api"], enable_monitoring=False, mcp_server=False, ssr_mode=False,
        pwa=False, run_history=False, quiet=not block,
        app_kwargs={"middleware": [Middleware(NoUploads)]},
    )  # fmt: skip
    return str(url)


def sync_store(assistant: Assistant) -> str:
    """Bring the store in line with the corpus, printing progress; returns a warning or "".

    An unchanged corpus costs a few seconds; a missing or stale store (a new file, a new
    model or chunker) is built here, with a progress line per batch of passages.
    """
    s = assistant.settings
    print(f"Checking the store {s.vectorstore_dir} against {s.corpus_dir} …", flush=True)
    try:
        report = assistant.ingest(progress=_print_progress)
    except StoreLockedError as exc:
        if not _has_passages(assistant):
            raise
        print(f"warning: {exc} Serving the store as it is.", file=sys.stderr)
        return "Another ingest is writing the store; answers use the store as it was."
    for w in report.warnings:
        print(f"warning: {escaped(w)}", file=sys.stderr)
    print(escaped(report.summary()), flush=True)
    return ""


def _print_progress(p: IngestProgress) -> None:
    if p.stage == CUTTING:  # a large file is parsed first: a line per tenth
        tenth = p.done * 10 // max(p.total, 1)
        if p.done == p.total or tenth > (p.done - 1) * 10 // max(p.total, 1):
            print(f"  cutting {escaped(p.file)}: {10 * tenth}%", flush=True)
        return
    print(f"  embedding {escaped(p.file)} (file {p.file_number}/{p.files}): "
          f"{p.done}/{p.total} passages", flush=True)  # fmt: skip


def warm_up(assistant: Assistant) -> None:
    """Load the question model and the indexes, and answer one question, before the page
    says it is ready: the first visitor's answer should not pay for the loading."""
    print("Loading the model and the indexes …", flush=True)
    assistant.ask(EXAMPLE_QUESTIONS[0])


def _has_passages(assistant: Assistant) -> bool:
    try:
        return bool(assistant.documents())
    except AssistantError:
        return False


def launch(host: str | None = None, port: int | None = None, insecure_public: bool = False) -> None:
    """``assistant ui``: sync the store (visible progress), then serve the page until Ctrl-C."""
    quiet()
    settings = Settings()
    assistant = Assistant(settings)
    try:
        check_exposure(host or settings.ui_host, port or settings.ui_port, settings,
                       insecure_public)  # fmt: skip
        note = sync_store(assistant)
        if not _has_passages(assistant):
            raise EmptyStoreError("the store is still empty; add documents to corpus/.")
        warm_up(assistant)
        demo = build_app(assistant, note)
    except AssistantError as exc:
        print(f"error: {escaped(str(exc))}", file=sys.stderr)
        raise SystemExit(1) from None
    serve(demo, settings, host, port, insecure_public=insecure_public)
