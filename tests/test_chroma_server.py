"""Chroma's own server as the store: `chroma run` is started for real on 127.0.0.1, the corpus
is ingested through it, and ingest, retrieval and answers must equal the embedded store's. A
server that is down, or a front that refuses the token, gives an error saying what to do."""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assistant import Answer, Assistant, IngestReport, Settings, StoreUnavailableError
from assistant.cli import main
from assistant.evaluation.questions import Question, load_questions
from assistant.evaluation.runner import chat_history
from assistant.settings import PROJECT_ROOT
from tests.conftest import fake

HOST = "127.0.0.1"
START_TIMEOUT = 60.0  # seconds for `chroma run` to answer its heartbeat


def free_port() -> int:
    """A port nothing listens on at the moment of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def chroma_executable() -> Path:
    """The `chroma` command installed next to the running interpreter (any venv)."""
    exe = Path(sys.executable).parent / "chroma"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: install the project (`make install`) to get chromadb's CLI")
    return exe


def _heartbeat(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v2/heartbeat", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@contextmanager
def chroma_server(data: Path) -> Iterator[int]:
    """`chroma run` on a free port of 127.0.0.1, persisting into ``data``; yields the port."""
    port = free_port()
    log = data.parent / f"{data.name}.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"}
    cmd = [str(chroma_executable()), "run", "--path", str(data), "--host", HOST]
    cmd += ["--port", str(port)]
    with log.open("wb") as out:  # a file: a full pipe would block the server
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _heartbeat(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = (
                    f"gave no heartbeat within {START_TIMEOUT:.0f} s"
                    if proc.returncode is None
                    else f"exited ({proc.returncode}) before its heartbeat answered"
                )
                pytest.fail(
                    f"`{' '.join(cmd)}` {why}; its stdout and stderr ({log}):\n"
                    + log.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def first_of_each_type(path: Path) -> list[Question]:
    """One question of every type in the set (unanswerable and follow-up among them)."""
    questions, problems = load_questions(path)
    assert not problems, problems
    chosen: dict[str, Question] = {}
    for q in questions:
        chosen.setdefault(q.type, q)
    return list(chosen.values())


QUESTIONS = first_of_each_type(PROJECT_ROOT / "eval" / "questions" / "dev.jsonl")


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "data") as port:
        yield port


@pytest.fixture(scope="module")
def served(
    fake_full: Assistant, chroma_port: int, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Assistant, IngestReport]:
    """The whole corpus ingested through the server (the fake embedder), with every other setting the embedded
    store's; and the report of that first ingest."""
    settings = fake_full.settings.model_copy(
        update={
            "chroma_host": HOST,
            "chroma_port": chroma_port,
            "vectorstore_dir": tmp_path_factory.mktemp("server-client"),  # the ingest lock only
        }
    )
    a = fake(settings)
    return a, a.ingest()


def cited(answer: Answer) -> list[tuple[str, int, int, str]]:
    return [(c.passage_id, c.start, c.end, c.quote) for c in answer.citations]


def test_ingest_through_the_server_builds_what_the_embedded_store_holds(
    served: tuple[Assistant, IngestReport], fake_full: Assistant
) -> None:
    server, report = served
    embedded = fake_full.store
    docs = embedded.state().docs
    assert (report.added, report.updated, report.removed, report.unchanged) == (len(docs), 0, 0, 0)
    assert report.failed == ()
    assert report.passages == report.embedded == embedded.count() > 3000
    assert server.store.state() == embedded.state()  # model, chunker, every document's hash
    by_id = sorted(server.store.all_passages(), key=lambda p: p.id)
    assert by_id == sorted(embedded.all_passages(), key=lambda p: p.id)  # metadata round-trips
    # Nothing went into a local Chroma folder: the server holds it all.
    assert not (server.settings.vectorstore_dir / "chroma.sqlite3").exists()


def test_reingest_through_the_server_embeds_nothing(
    served: tuple[Assistant, IngestReport],
) -> None:
    server, first = served
    again = server.ingest()
    assert (again.added, again.updated, again.removed, again.embedded) == (0, 0, 0, 0)
    assert again.unchanged == first.added
    assert again.passages == first.passages
    assert not again.rebuilt


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: f"{q.id}-{q.type}")
def test_answers_through_the_server_equal_the_embedded_stores(
    q: Question, served: tuple[Assistant, IngestReport], fake_full: Assistant
) -> None:
    server, _ = served
    history = chat_history(server, q.history) or None
    assert history == (chat_history(fake_full, q.history) or None)
    got, want = server.ask(q.question, history=history), fake_full.ask(q.question, history)
    assert got.text == want.text
    assert got.abstained == want.abstained
    assert cited(got) == cited(want)
    assert [c.score for c in got.citations] == [c.score for c in want.citations]
    assert [p.id for p in got.see_also] == [p.id for p in want.see_also]


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: f"{q.id}-{q.type}")
def test_retrieval_through_the_server_equals_the_embedded_stores(
    q: Question, served: tuple[Assistant, IngestReport], fake_full: Assistant
) -> None:
    server, _ = served
    history: list[dict[str, Any]] = [{"role": "user", "content": h} for h in q.history]
    got = server.retrieve(q.question, k=10, history=history or None)
    want = fake_full.retrieve(q.question, k=10, history=history or None)
    assert [p.id for p in got] == [p.id for p in want]
    # Scores agree to the third decimal: under load, one passage's fused score once differed
    # in the fourth (0.6686 against 0.6697; see the closing note of issue 13).
    assert [p.score for p in got] == pytest.approx([p.score for p in want], abs=5e-3)


def test_the_question_sample_has_an_unanswerable_and_a_follow_up() -> None:
    assert any(not q.answerable for q in QUESTIONS)
    assert any(q.history for q in QUESTIONS)


def _says_what_to_do(error: StoreUnavailableError, port: int, scheme: str = "http") -> None:
    message = str(error)
    assert message.startswith(f"the Chroma server at {scheme}://{HOST}:{port} cannot be used")
    assert f"`chroma run --path <folder> --host {HOST} --port {port}`" in message


def test_a_server_that_is_not_running_is_named_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    a = Assistant(Settings(chroma_host=HOST, chroma_port=port))
    for call in (a.ingest, lambda: a.ask("Who was Kosior?")):
        with pytest.raises(StoreUnavailableError) as caught:
            call()
        _says_what_to_do(caught.value, port)

    monkeypatch.setenv("ASSISTANT_CHROMA_HOST", HOST)
    monkeypatch.setenv("ASSISTANT_CHROMA_PORT", str(port))
    assert main(["ask", "Who was Kosior?"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: the Chroma server at http://{HOST}:{port} cannot be used")
    assert "Traceback" not in err


def test_a_server_that_stops_mid_session_is_not_called_a_damaged_store(tmp_path: Path) -> None:
    with chroma_server(tmp_path / "data") as port:
        a = Assistant(Settings(chroma_host=HOST, chroma_port=port))
        assert a.store.count() == 0
    for call in (lambda: a.store.count(), lambda: a.ask("Who was Kosior?")):
        with pytest.raises(StoreUnavailableError) as caught:
            call()
        _says_what_to_do(caught.value, port)


class _TokenGate(http.server.BaseHTTPRequestHandler):
    """What an nginx or Envoy in front of `chroma run` does for auth: pass on only the requests
    that bear the token, refuse the rest with 401."""

    server: _GateServer

    def _relay(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self.send_error(401, "missing or wrong token")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(HOST, self.server.upstream, timeout=30)
        upstream.request(self.command, self.path, body, dict(self.headers))
        reply = upstream.getresponse()
        data = reply.read()
        upstream.close()
        self.send_response(reply.status)
        for name, value in reply.getheaders():
            if name.lower() not in ("connection", "content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _relay

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _GateServer(http.server.ThreadingHTTPServer):
    def __init__(self, upstream: int, token: str) -> None:
        super().__init__((HOST, 0), _TokenGate)
        self.upstream, self.token = upstream, token


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the openssl command (no download)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=IP:{HOST}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def token_gate(upstream: int, token: str, tls: tuple[Path, Path] | None) -> Iterator[int]:
    """A front for the server on a free port, over TLS with ``tls`` (cert, key); yields the port."""
    gate = _GateServer(upstream, token)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        gate.socket = context.wrap_socket(gate.socket, server_side=True)
    threading.Thread(target=gate.serve_forever, daemon=True).start()
    try:
        yield gate.server_address[1]
    finally:
        gate.shutdown()
        gate.server_close()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_token_and_tls_work_through_a_front_that_checks_them(
    tls: bool, chroma_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_key = self_signed_cert(tmp_path) if tls else None
    if cert_key:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_key[0]))  # trust the test's own certificate
    with token_gate(chroma_port, "s3cret", cert_key) as port:

        def store(token: str | None) -> Any:
            settings = Settings(
                chroma_host=HOST, chroma_port=port, chroma_ssl=tls, chroma_token=token,
                collection="token-check",
            )  # fmt: skip
            return Assistant(settings).store

        assert store("s3cret").count() == 0
        for token in (None, "wrong"):
            with pytest.raises(StoreUnavailableError) as caught:
                store(token)
            _says_what_to_do(caught.value, port, "https" if tls else "http")
