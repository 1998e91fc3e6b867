"""The LLM answerer through the real ChatOpenAI client against a loopback OpenAI-style server."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from assistant.llm import LLMAnswerer, make_chat_model
from assistant.prompts import LLM_FALLBACK_NOTE
from assistant.settings import Settings
from assistant.types import Answer
from tests.test_llm_answerer import assert_resolves, make_state, write_doc

TIMEOUT = 1.0
UNAVAILABLE = LLM_FALLBACK_NOTE.split("(")[0]


class FakeOpenAI(ThreadingHTTPServer):
    """Speaks POST /v1/chat/completions; ``mode`` picks ok, slow, error or garbage."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.stop = threading.Event()


class Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        self.server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        mode = self.server.mode
        if self.path != "/v1/chat/completions":
            return self._send(404, b'{"error": {"message": "not found"}}')
        if mode == "slow":  # longer than the client's timeout (cut short at teardown)
            self.server.stop.wait(TIMEOUT * 3)
            return self._try_send(200, _completion(body, reply_to(body)))
        if mode == "error":
            return self._send(500, b'{"error": {"message": "internal error"}}')
        if mode == "garbage":
            return self._send(200, b'{"id": "x", "choices": [{"mess')
        if body.get("stream"):
            return self._stream(body)
        return self._send(200, _completion(body, reply_to(body)))

    def _send(self, status: int, data: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _try_send(self, status: int, data: bytes) -> None:
        with contextlib.suppress(OSError):  # the client gave up long ago
            self._send(status, data)

    def _stream(self, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = re.findall(r"\S+\s*", reply_to(body))
        for piece in [*words, None]:
            self.wfile.write(b"data: " + _chunk(body, piece) + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


def reply_to(body: dict[str, Any]) -> str:
    """An answer that depends on the prompt: it cites the excerpt that mentions the fuss."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    for n, text in re.findall(r"^\[(\d+)\] [^\n]*\n([^\n]*)", user, re.M):
        if "fuss" in text:
            return f'Kosior used the word "fuss" [{n}].'
    return "I do not know."


def _completion(body: dict[str, Any], content: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    ).encode()


def _chunk(body: dict[str, Any], piece: str | None) -> bytes:
    delta = {"role": "assistant", "content": piece} if piece is not None else {}
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": None if piece is not None else "stop"}
            ],
        }
    ).encode()


@contextmanager
def running_server() -> Iterator[FakeOpenAI]:
    """A FakeOpenAI serving on a free loopback port until the block ends."""
    srv = FakeOpenAI()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with running_server() as srv:
        yield srv


def client_of(port: int) -> LLMAnswerer:
    settings = Settings(
        answerer="llm",
        llm_base_url=f"http://127.0.0.1:{port}/v1",
        llm_timeout=TIMEOUT,
        llm_model="test-model",
        llm_api_key="sk-test",
    )
    return LLMAnswerer(make_chat_model(settings), settings)


def reorder(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """The fuss passage retrieved second, so the server must read the prompt to cite [2]."""
    text, passages = write_doc(tmp_path)
    return text, make_state([passages[1], passages[0], passages[2], passages[3]])


def test_an_answer_with_citations_arrives(server: FakeOpenAI, tmp_path: Path) -> None:
    text, state = reorder(tmp_path)
    answer = client_of(server.server_port).answer(state)
    assert answer.answerer == "llm:test-model"
    assert answer.text == 'Kosior used the word "fuss" [1].'
    assert answer.citations[0].passage_id == "letters:0" and answer.citations[0].quote == "fuss"
    assert_resolves(answer, text)
    sent = server.requests[0]
    assert sent["model"] == "test-model" and sent["messages"][0]["role"] == "system"
    assert "<excerpts>\n[1] Letters — Part 1\nThe secretaries" in sent["messages"][1]["content"]
    assert server.headers_seen[0]["authorization"] == "Bearer sk-test"


def test_a_streamed_answer_arrives_in_pieces(server: FakeOpenAI, tmp_path: Path) -> None:
    text, state = reorder(tmp_path)
    *chunks, final = client_of(server.server_port).stream(state)
    assert len(chunks) > 1 and "".join(map(str, chunks)) == 'Kosior used the word "fuss" [2].'
    assert server.requests[0]["stream"] is True
    assert isinstance(final, Answer) and final.text == 'Kosior used the word "fuss" [1].'
    assert_resolves(final, text)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("slow", f"no reply within {TIMEOUT:g} s"), ("error", "HTTP error 500"), ("garbage", "")],
)
def test_a_failing_server_gives_the_default_answer_with_a_note(
    server: FakeOpenAI, tmp_path: Path, mode: str, reason: str
) -> None:
    text, state = reorder(tmp_path)
    server.mode = mode
    answer = client_of(server.server_port).answer(state)
    assert answer.answerer == "default (LLM unavailable)"
    assert answer.notes[0].startswith(UNAVAILABLE) and reason in answer.notes[0]
    assert len(server.requests) == 1  # no retries: the user is not kept waiting twice
    assert_resolves(answer, text)


def test_a_failing_stream_gives_the_default_answer(server: FakeOpenAI, tmp_path: Path) -> None:
    text, state = reorder(tmp_path)
    server.mode = "error"
    items = list(client_of(server.server_port).stream(state))
    assert len(items) == 1 and isinstance(items[0], Answer)
    assert items[0].answerer == "default (LLM unavailable)"
    assert_resolves(items[0], text)


def test_a_closed_port_gives_the_default_answer(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text, state = reorder(tmp_path)
    answer = client_of(port).answer(state)
    assert answer.answerer == "default (LLM unavailable)"
    assert f"no connection to http://127.0.0.1:{port}/v1" in answer.notes[0]
    assert_resolves(answer, text)
