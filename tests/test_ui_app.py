"""The running page, driven through its HTTP API with gradio_client (one Client = one session).

A tiny real store (two short corpus files, the fake embedder) backs the answer tests; a fake
backend covers the error, streaming and security paths.
"""

from __future__ import annotations

import html
import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, AuthenticationError

from assistant import (
    Answer,
    Assistant,
    AssistantError,
    Citation,
    DocumentSummary,
    Settings,
)
from assistant_ui.app import build_app, launch, parse_auth, serve, sync_store
from assistant_ui.feedback import read_jsonl
from tests.conftest import SMALL_DOCS, fake, small_corpus

pytestmark = [
    # gradio's own queue statistics use pandas options that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]

ROOT = Path(__file__).resolve().parents[1]
TINY = SMALL_DOCS  # the Sedova letter and McNeal's edition of the letter to Krupskaya
KRUPSKAYA = "Why did Trotsky write to Krupskaya in May 1927?"
SEDOVA = "What did Natalia Sedova write to her friends about the defense of the USSR?"
FOLLOW_UP = "Did she answer him?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recording:
    """The real Assistant, with every ask() call kept for the assertions."""

    inner: Assistant
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.inner.settings

    def documents(self) -> list[DocumentSummary]:
        return self.inner.documents()

    def ask(self, question: str, history: Any = None, doc_ids: Any = None) -> Answer:
        ans = self.inner.ask(question, history=history, doc_ids=doc_ids)
        self.calls.append({"question": question, "history": history, "doc_ids": doc_ids,
                           "answer": ans})  # fmt: skip
        return ans


@pytest.fixture(scope="module")
def tiny_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("ui_app")
    corpus = small_corpus(tmp / "corpus", TINY)
    settings = Settings(
        corpus_dir=corpus, vectorstore_dir=tmp / "vs", feedback_path=tmp / "fb" / "feedback.jsonl"
    )
    fake(settings).ingest()
    return settings


@pytest.fixture(scope="module")
def live(tiny_settings: Settings) -> Iterator[tuple[str, Recording]]:
    backend = Recording(fake(tiny_settings))
    demo = build_app(backend)
    url = serve(demo, tiny_settings, port=free_port(), block=False)
    yield url, backend
    demo.close()


def client(url: str, **kw: Any) -> Client:
    return Client(url, verbose=False, download_files=False, **kw)


def ask(c: Client, question: str, docs: list[str] | None = None) -> tuple[Any, ...]:
    if docs is None:
        return tuple(c.predict(question, api_name="/ask"))
    return tuple(c.predict(question, docs, api_name="/ask"))


def texts(chat: list[dict[str, Any]]) -> list[str]:
    """The text of each chat message (gradio_client gives content as a list of parts)."""
    out = []
    for m in chat:
        content = m["content"]
        parts = content if isinstance(content, list) else [content]
        out.append("".join(p["text"] if isinstance(p, dict) else str(p) for p in parts))
    return out


def marked(sources: str) -> list[str]:
    """The highlighted quotes of a Sources panel, as plain text runs (markup removed)."""
    runs = []
    for m in re.findall(r"<mark>(.*?)</mark>", sources, re.S):
        runs += [html.unescape(r) for r in re.split(r"<[^>]+>", m) if r.strip()]
    return runs


def test_an_answer_arrives_with_its_sources(live: tuple[str, Recording]) -> None:
    url, _ = live
    chat, sources, notice, box = ask(client(url), KRUPSKAYA)
    user, bot = texts(chat)
    assert user == KRUPSKAYA and notice == "" and box == ""
    assert 'href="#src-1-1"' in bot
    assert 'id="src-1-1"' in sources
    corpus = "".join((ROOT / "corpus" / n).read_text(encoding="utf-8") for n in TINY)
    runs = marked(sources)
    assert runs and all(r in corpus for r in runs)  # verbatim excerpts from the files
    assert any(len(r) > 40 for r in runs)


def test_two_sessions_keep_separate_histories(live: tuple[str, Recording]) -> None:
    url, backend = live
    a, b = client(url), client(url)
    ask(a, KRUPSKAYA)
    chat_b, *_ = ask(b, SEDOVA)
    chat_a, *_ = ask(a, FOLLOW_UP)
    assert texts(chat_b)[0] == SEDOVA and len(chat_b) == 2
    assert texts(chat_a)[::2] == [KRUPSKAYA, FOLLOW_UP]
    assert SEDOVA not in " ".join(texts(chat_a))
    follow_up = backend.calls[-1]
    assert [m["content"] for m in follow_up["history"] if m["role"] == "user"] == [KRUPSKAYA]


def test_a_follow_up_uses_its_own_sessions_history(live: tuple[str, Recording]) -> None:
    url, backend = live
    a, b = client(url), client(url)
    ask(a, KRUPSKAYA)
    ask(b, SEDOVA)
    ask(a, FOLLOW_UP)
    in_a = backend.calls[-1]["answer"]
    ask(b, FOLLOW_UP)
    in_b = backend.calls[-1]["answer"]
    assert "Krupskaya" in in_a.standalone_question
    assert "Sedova" in in_b.standalone_question and "Krupskaya" not in in_b.standalone_question


def test_the_document_filter_limits_the_search(live: tuple[str, Recording]) -> None:
    url, backend = live
    _, sources, *_ = ask(client(url), KRUPSKAYA, docs=["sedova-1944"])
    assert backend.calls[-1]["doc_ids"] == ["sedova-1944"]
    assert "mcneal_trotsky_letter_to_krupskaya_1927.txt" not in sources
    *_, notice, _ = ask(client(url), KRUPSKAYA, docs=[])
    assert "No document is chosen" in notice


def test_an_empty_question_shows_a_message(live: tuple[str, Recording]) -> None:
    chat, _, notice, _ = ask(client(live[0]), "   ")
    assert chat == [] and "question is empty" in notice


def test_feedback_is_appended_and_clear_starts_afresh(
    live: tuple[str, Recording], tiny_settings: Settings
) -> None:
    c = client(live[0])
    notice = c.predict("up", "nothing to rate", 0, api_name="/feedback")
    assert "Ask a question first" in notice
    ask(c, KRUPSKAYA)
    ask(c, FOLLOW_UP)
    before = len(read_jsonl(tiny_settings.feedback_path))
    assert "no answer 3" in c.predict("down", "", 3, api_name="/feedback")
    assert "'up' or 'down'" in html.unescape(c.predict("meh", "", 1, api_name="/feedback"))
    notice = c.predict("down", "Too short.", 1, api_name="/feedback")
    assert "answer 1 marked “not helpful”, saved" in notice
    rec = read_jsonl(tiny_settings.feedback_path)[before]
    assert rec["verdict"] == "down" and rec["comment"] == "Too short."
    assert rec["question"] == KRUPSKAYA and rec["citations"] and rec["answer"]
    assert len(read_jsonl(tiny_settings.feedback_path)) == before + 1
    c.predict(api_name="/clear")
    chat, *_ = ask(c, FOLLOW_UP)
    assert len(chat) == 2 and live[1].calls[-1]["history"] == []


def test_the_answer_endpoint_returns_the_answer_as_json(live: tuple[str, Recording]) -> None:
    url, backend = live
    c = client(url)
    first = c.predict(KRUPSKAYA, None, None, api_name="/answer")
    assert first == json.loads(json.dumps(backend.calls[-1]["answer"].to_dict()))
    assert first["citations"] and first["text"] and not first["abstained"]
    assert sorted(first["searched"]) == sorted(d.id for d in backend.documents())
    for cited in first["citations"]:  # verbatim, at its offsets
        source = (
            Path(cited["source"]) if Path(cited["source"]).is_absolute() else ROOT / cited["source"]
        )
        assert source.read_text(encoding="utf-8")[cited["start"] : cited["end"]] == cited["quote"]
    history = [{"role": "user", "content": KRUPSKAYA},
               {"role": "assistant", "content": first["text"]}]  # fmt: skip
    follow = c.predict(FOLLOW_UP, history, ["mcneal-krupskaya"], api_name="/answer")
    assert backend.calls[-1]["history"] == history
    assert backend.calls[-1]["doc_ids"] == ["mcneal-krupskaya"]
    assert follow["searched"] == ["mcneal-krupskaya"]
    assert "Krupskaya" in follow["standalone_question"]
    with pytest.raises(AppError, match="question is empty"):
        c.predict("   ", None, None, api_name="/answer")


def test_the_readme_example_runs(live: tuple[str, Recording]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    (example,) = [b for b in blocks if 'api_name="/answer"' in b]
    scope: dict[str, Any] = {}
    exec(example.replace("http://127.0.0.1:7860/", live[0]), scope)
    assert scope["first"]["citations"] and scope["again"]["searched"] == ["mcneal-krupskaya"]
    assert live[1].calls[-1]["history"] == scope["history"]


def test_the_endpoints_have_names_a_client_can_read(live: tuple[str, Recording]) -> None:
    api = client(live[0]).view_api(print_info=False, return_format="dict")
    named = api["named_endpoints"]
    assert {"/ask", "/answer", "/feedback", "/clear"} <= set(named)
    assert [p["parameter_name"] for p in named["/ask"]["parameters"]] == ["question", "documents"]
    assert [r["label"] for r in named["/ask"]["returns"]] == ["chat", "sources", "notice",
                                                            "question"]  # fmt: skip
    assert [p["parameter_name"] for p in named["/answer"]["parameters"]] == [
        "question", "history", "documents"
    ]  # fmt: skip
    assert not any(n.startswith("/feedback_") for n in named)


# -- a fake backend: no model, deterministic ---------------------------------------------------
@dataclass
class Fake:
    settings: Settings
    fail: Exception | None = None

    def documents(self) -> list[DocumentSummary]:
        return [DocumentSummary("d", "Doc", "A", "1927", "letter", 1)]

    def ask(self, question: str, history: Any = None, doc_ids: Any = None) -> Answer:
        if self.fail:
            raise self.fail
        c = Citation(n=1, passage_id="d:1", doc_id="d", title="Doc", author="A", section="",
                     kind="body", source="corpus/d.txt", start=0, end=5, quote="Quote",
                     score=1.0, passage_text="Quote", passage_start=0)  # fmt: skip
        return Answer(question=question, text="Quote [1]", citations=[c])

    def ask_stream(self, question: str, history: Any = None, doc_ids: Any = None) -> Iterator[Any]:
        yield from ("Streamed ", "words ")
        yield self.ask(question, history, doc_ids)


@pytest.fixture
def fake_app(tmp_path: Path) -> Iterator[Any]:
    demos: list[gr.Blocks] = []

    def start(**settings: Any) -> tuple[str, Fake]:
        s = Settings(feedback_path=tmp_path / "fb.jsonl", **settings)
        backend = Fake(s)
        demo = build_app(backend)
        demos.append(demo)
        return serve(demo, s, port=free_port(), block=False), backend

    yield start
    for d in demos:
        d.close()


def test_a_backend_error_shows_as_a_message(fake_app: Any) -> None:
    url, backend = fake_app()
    backend.fail = AssistantError("the chat model at http://x did not answer; start it.")
    chat, _, notice, box = ask(client(url), "Why?")
    assert chat == [] and "did not answer" in notice and box == "Why?"
    backend.fail = RuntimeError("boom")
    _, _, notice, _ = ask(client(url), "Why?")
    assert "Something went wrong" in notice and "RuntimeError" in notice


def test_llm_answers_stream(fake_app: Any) -> None:
    url, _ = fake_app(answerer="llm")
    job = client(url).submit("Why?", api_name="/ask")
    job.result(timeout=60)
    shown = [texts(out[0])[-1] for out in job.outputs() if out[0]]
    assert any("Streamed words" in t for t in shown)
    assert 'href="#src-1-1"' in shown[-1]


def test_the_queue_and_bind_address_come_from_settings(fake_app: Any) -> None:
    url, backend = fake_app(ui_concurrency=3, ui_queue_size=7)
    assert url.startswith("http://127.0.0.1:")
    demo = build_app(backend)
    assert demo._queue.max_size == 7
    assert demo._queue.default_concurrency_limit == 3


def test_auth_from_settings_is_required(fake_app: Any) -> None:
    url, _ = fake_app(ui_auth="historian:secret")
    with pytest.raises(AuthenticationError):
        client(url)
    with pytest.raises(ValueError, match="Could not login"):
        client(url, auth=("historian", "wrong"))
    assert texts(ask(client(url, auth=("historian", "secret")), "Why?")[0])[0] == "Why?"


def test_parse_auth() -> None:
    assert parse_auth(None) is None
    assert parse_auth("u:p:q") == ("u", "p:q")
    with pytest.raises(AssistantError):
        parse_auth("nopassword")


def test_no_endpoint_serves_arbitrary_files(fake_app: Any) -> None:
    url, _ = fake_app()
    target = ROOT / "corpus" / TINY[0]
    for path in (f"gradio_api/file={target}", f"file={target}", "gradio_api/file=/etc/passwd"):
        try:
            with urllib.request.urlopen(url + path, timeout=10) as resp:
                body = resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            assert exc.code in (403, 404), path
            continue
        assert "Dear Friends" not in body and "root:" not in body, path


# -- launch: the store is built first, with visible progress; errors are messages -------------
def test_sync_store_builds_a_missing_store_with_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = small_corpus(tmp_path / "corpus", TINY[:1])
    a = fake(Settings(corpus_dir=corpus, vectorstore_dir=tmp_path / "vs"))
    assert sync_store(a) == ""  # nothing to warn the page's reader about
    out = capsys.readouterr().out
    assert "embedding sedova_letter_to_friends_1944-11-06.txt (file 1/1)" in out
    assert a.documents() and "1 added" in out
    sync_store(a)
    assert "1 unchanged" in capsys.readouterr().out  # an up-to-date store is left as it is


def test_launch_with_an_empty_corpus_exits_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "corpus").mkdir()
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "corpus"))
    monkeypatch.setenv("ASSISTANT_VECTORSTORE_DIR", str(tmp_path / "vs"))
    with pytest.raises(SystemExit) as exc:
        launch(port=free_port())
    assert exc.value.code == 1
    assert "holds no .txt or .md files" in capsys.readouterr().err
