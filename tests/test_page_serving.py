"""Issue 7, cases 14, 16 and 17: the running page under many sessions at once, a full
queue, concurrent feedback, and what it binds and serves. The real Gradio app driven by
gradio_client, over the fake embedder's store."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError

from assistant import Answer, Assistant, DocumentSummary, Settings
from assistant.settings import PROJECT_ROOT
from assistant_ui.app import build_app, serve
from assistant_ui.feedback import read_jsonl
from assistant_ui.render import answer_html, esc
from tests.helpers import KRUPSKAYA_Q, SEDOVA, SEDOVA_Q
from tests.test_ui_app import Fake, Recording, client, free_port, texts

pytestmark = [
    # gradio's own queue statistics use pandas options that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]


# -- 14, 16, 17: the page ----------------------------------------------------------------------
SESSIONS = [
    (KRUPSKAYA_Q, "Did she answer him?"),
    (SEDOVA_Q, "And what did she say about the Soviet bureaucracy?"),
    ("Who was Kosior?", "What word did he use about the Opposition?"),
    ("When did Trotsky and Krupskaya first meet?", "Where did they meet?"),
    ("Why did Krupskaya favor the troika during Lenin's illness?", "And who was in it?"),
    ("What did Krupskaya smuggle to Max Eastman in 1926?", "When did she do that?"),
    ("What did Stalin tell the Fifteenth Party Conference about Krupskaya?", "Was it true?"),
    ("What did Zinoviev ask Krupskaya to do in 1927?", "Did she agree with him?"),
    ("What does Sedova say about criticism of the bureaucracy?", "And about appeasement?"),
    ("What is the internal enemy in Sedova's letter?", "Why is it the most dangerous one?"),
    ("What did Trotsky predict about Chiang Kai-shek?", "And about the Berlin capitulation?"),
    ("Why did Stalin change the war of attrition into a war of annihilation?", "Who pressed him?"),
    ("What did Trotsky write in his own hand at the end of the letter?", "What did he cross out?"),
    ("Where did the Trotsky and Lenin households share a dining room?", "In which years?"),
    ("What did Krupskaya write to Trotsky after Lenin's death?", "Did he reply to that note?"),
    ("What happened at the special meeting of May 22, 1924?", "What was decided there?"),
    ("Who wrote Bride of the Revolution?", "Where was it published?"),
    ("What does Sedova say about the military defense of the USSR?", "Has its need fallen away?"),
    ("How did the Shanghai massacre affect the united opposition?", "What did it resume?"),
    ("What did Trotsky mean by swimming against the stream?", "Whom was he answering?"),
]  # fmt: skip


@pytest.fixture(scope="module")
def live(shared: Assistant) -> Iterator[tuple[str, Recording]]:
    backend = Recording(shared)
    demo = build_app(backend)
    url = serve(demo, shared.settings, port=free_port(), block=False)
    yield url, backend
    demo.close()


@dataclass
class InFlight:
    """How many questions have been sent and not yet answered, at most."""

    now: int = 0
    most: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ask(self, c: Any, question: str) -> Any:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return c.submit(question, api_name="/ask").result(timeout=600)
        finally:
            with self.lock:
                self.now -= 1


def run_session(
    url: str, pair: tuple[str, str], start: threading.Barrier, flight: InFlight
) -> list[Any]:
    c = client(url)
    start.wait(timeout=120)
    return [flight.ask(c, pair[0]), flight.ask(c, pair[1])]


def test_case_14_twenty_sessions_at_once_each_get_their_own_answers(
    live: tuple[str, Recording], shared: Assistant
) -> None:
    url, backend = live
    assert len({q for pair in SESSIONS for q in pair}) == 2 * len(SESSIONS) == 40
    start = threading.Barrier(len(SESSIONS))
    flight = InFlight()
    results: dict[int, list[Any]] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = run_session(url, SESSIONS[i], start, flight)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(SESSIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not errors and len(results) == len(SESSIONS)
    assert flight.most > shared.settings.ui_concurrency  # more waited than could be answered
    calls = {c["question"]: c for c in backend.calls}
    for i, (q1, q2) in enumerate(SESSIONS):
        (chat1, *_), (chat2, sources, notice, box) = results[i]
        first, second = calls[q1], calls[q2]
        assert first["history"] == []
        assert second["history"] == [{"role": "user", "content": q1},
                                     {"role": "assistant", "content": first["answer"].text}]  # fmt: skip
        shown = texts(chat2)
        assert shown[0::2] == [esc(q1), esc(q2)] and notice == "" and box == ""
        docs = shared.documents()
        assert shown[1::2] == [answer_html(first["answer"], 1, docs),
                               answer_html(second["answer"], 2, docs)]  # fmt: skip
        assert texts(chat1) == shown[:2]
        others = {esc(q) for j, pair in enumerate(SESSIONS) if j != i for q in pair}
        assert not any(q in sources or q in shown for q in others)  # nothing from elsewhere
    for q1, _ in SESSIONS[:3]:  # served concurrently, answered as when asked alone
        assert shared.ask(q1).to_dict() == calls[q1]["answer"].to_dict()


@dataclass
class Gated:
    """The real assistant behind a gate: questions wait until the test opens it."""

    inner: Assistant
    settings: Settings
    gate: threading.Event = field(default_factory=threading.Event)

    def documents(self) -> list[DocumentSummary]:
        return self.inner.documents()

    def ask(self, question: str, history: Any = None, doc_ids: Any = None) -> Answer:
        assert self.gate.wait(timeout=300)
        return self.inner.ask(question, history=history, doc_ids=doc_ids)


def test_case_14_a_full_queue_answers_with_a_message_not_a_hang(shared: Assistant) -> None:
    s = shared.settings.model_copy(update={"ui_concurrency": 1, "ui_queue_size": 2})
    backend = Gated(shared, s)
    demo = build_app(backend)
    try:
        url = serve(demo, s, port=free_port(), block=False)
        questions = [q for q, _ in SESSIONS[:8]]  # 8 > 1 answered + 2 waiting
        clients = [client(url) for _ in questions]
        jobs = [c.submit(q, api_name="/ask") for c, q in zip(clients, questions, strict=True)]
        deadline = time.monotonic() + 120
        while sum(j.done() for j in jobs) < len(jobs) - 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        backend.gate.set()
        answered, refused = [], []
        for q, job in zip(questions, jobs, strict=True):
            try:
                chat, *_ = job.result(timeout=300)  # bounded: a hang fails here
                answered.append((q, texts(chat)))
            except (QueueError, AppError) as exc:
                refused.append(str(exc))
    finally:
        backend.gate.set()
        demo.close()
    assert 1 <= len(answered) <= 3 and len(answered) + len(refused) == len(questions)
    assert refused and all("queue is full" in r.lower() for r in refused)
    assert all(shown[0] == esc(q) and len(shown) == 2 for q, shown in answered)


def test_case_16_feedback_from_many_sessions_at_once_loses_no_line(tmp_path: Path) -> None:
    # test_feedback.py hammers append_jsonl from threads and processes; here the writers are
    # twenty sessions of the running page rating their answers at once.
    s = Settings(feedback_path=tmp_path / "fb" / "feedback.jsonl")
    demo = build_app(Fake(s))
    try:
        url = serve(demo, s, port=free_port(), block=False)
        start = threading.Barrier(20)
        errors: list[BaseException] = []

        def rate(i: int) -> None:
            try:
                c = client(url)
                c.predict(f"Question {i}?", api_name="/ask")
                start.wait(timeout=120)
                notice = c.predict("up", f"comment {i} " + "é" * 2000, 1, api_name="/feedback")
                assert "saved" in notice
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=rate, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        demo.close()
    assert not errors
    records = read_jsonl(s.feedback_path)  # every line parses: none torn or interleaved
    assert sorted((r["question"], r["comment"].split(" ")[1]) for r in records) == sorted(
        (f"Question {i}?", str(i)) for i in range(20)
    )
    assert all(r["verdict"] == "up" and r["comment"].endswith("é" * 2000) for r in records)


def test_case_17_the_page_binds_loopback_and_serves_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSISTANT_UI_HOST", raising=False)
    s = Settings(feedback_path=tmp_path / "fb.jsonl")
    assert s.ui_host == "127.0.0.1" and s.ui_auth is None and not s.ui_share
    monkeypatch.setenv("ASSISTANT_UI_HOST", "0.0.0.0")
    assert Settings().ui_host == "0.0.0.0"  # binding elsewhere is an explicit setting
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "ASSISTANT_UI_AUTH" in readme and "put authentication in front" in readme
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a", encoding="utf-8")
    demo = build_app(Fake(s))
    try:
        url = serve(demo, s, port=free_port(), block=False)
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert url.startswith("http://127.0.0.1:")
        with pytest.raises(OSError), socket.create_connection(("127.0.0.2", port), timeout=5):
            pass  # bound to 127.0.0.1 only, not to every address
        corpus_file = PROJECT_ROOT / "corpus" / SEDOVA
        for path in (
            f"gradio_api/file={secret}", f"file={secret}", f"gradio_api/file={corpus_file}",
            f"gradio_api/file=corpus/{SEDOVA}", "gradio_api/file=/etc/passwd",
            f"gradio_api/file=..%2F..%2F..%2F..%2F..{secret}", "static/../../../../etc/passwd",
            "assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "gradio_api/file=%2Fetc%2Fpasswd",
            f"gradio_api/proxy=file://{secret}", f"gradio_api/file=file://{secret}",
        ):  # fmt: skip
            body = fetch(url + path)
            assert "TOP-SECRET" not in body and "Dear Friends" not in body, path
            assert "root:x:0:0" not in body, path
    finally:
        demo.close()


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return str(resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        assert exc.code in (400, 403, 404, 405, 422), (url, exc.code)
        return ""
