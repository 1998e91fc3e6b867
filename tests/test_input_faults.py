"""Issue 17, the input's faults: no name is looked up on the network; every bad input (bytes
that are not UTF-8, lone surrogates, unknown ids, empty or binary files, torn feedback lines)
is a message and nothing is lost; escape sequences and URLs from documents stay text; a large
file is cut batch by batch; the page refuses to be exposed without a login and takes no files.

The fake embedder on small corpora; real processes run the CLI with it; only the network test
runs the real model (ONNX Runtime's telemetry is what it looks for), under ``strace``.
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from assistant import (
    Answer,
    Assistant,
    AssistantError,
    Citation,
    InvalidQuestionError,
    Settings,
    cli,
)
from assistant.conversation import MAX_K
from assistant.corpus import load_manifest, load_source
from assistant.embedding import token_counts
from assistant.passages import Chunker
from assistant.render import format_answer
from assistant.settings import PROJECT_ROOT
from assistant_ui.app import ChatPage, build_app, serve
from assistant_ui.feedback import load_jsonl, read_jsonl
from assistant_ui.render import Turn, answer_html, sources_html
from tests.conftest import SMALL_DOCS, fake
from tests.fake_cli import fake_main
from tests.helpers import SEDOVA_Q, env_for, no_traceback, run_cli, settings_for
from tests.test_ui_app import Fake, free_port, texts

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]

SEDOVA, MCNEAL = SMALL_DOCS


# -- no network --------------------------------------------------------------------------------
NO_NETWORK = """
import sys, time, urllib.request
from pathlib import Path
from assistant import Assistant, Settings
from assistant_ui.app import build_app, serve
from gradio_client import Client
s = Settings(corpus_dir=Path(sys.argv[1]), vectorstore_dir=Path(sys.argv[2]),
             feedback_path=Path(sys.argv[2]) / "fb.jsonl")
a = Assistant(s)
a.ingest()
print(a.ask("Why did Natalia Sedova reject the slogan?").text[:60], flush=True)
demo = build_app(a)
url = serve(demo, s, port=int(sys.argv[3]), block=False)
urllib.request.urlopen(url, timeout=30).read()
Client(url, verbose=False, download_files=False).predict("What did Sedova write?", api_name="/ask")
time.sleep(20)  # ONNX Runtime sent its events about 10 s after its first session
demo.close()
print("served", flush=True)
"""


@pytest.mark.real_model  # ONNX Runtime's own telemetry is what this test looks for
def test_no_name_is_looked_up_while_ingesting_asking_and_serving(tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("needs strace")
    s = settings_for(tmp_path)
    log = tmp_path / "strace.log"
    env = env_for(s)
    for name in (
        "ORT_DISABLE_TELEMETRY",
        "ANONYMIZED_TELEMETRY",
        "GRADIO_ANALYTICS_ENABLED",
        "HF_HUB_OFFLINE",
        "HF_HUB_DISABLE_TELEMETRY",
    ):  # the assistant sets them itself
        env.pop(name, None)
    out = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect,sendto,openat", "-o", str(log),
         sys.executable, "-c", NO_NETWORK, str(s.corpus_dir), str(s.vectorstore_dir),
         str(free_port())],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0 and "served" in out.stdout, out.stderr[-3000:]
    trace = log.read_text(encoding="utf-8", errors="replace")
    assert "connect(" in trace  # strace saw the page's own loopback connections
    lookups = [line for line in trace.splitlines()
               if "/etc/resolv.conf" in line or "htons(53)" in line
               or ".onnxruntime" in line or "DeveloperTools" in line
               or (("AF_INET" in line) and "connect(" in line
                   and not re.search(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"', line))]  # fmt: skip
    assert lookups == []  # before: resolv.conf and port 53 for mobile.events.data.microsoft.com


# -- every bad input a message, nothing lost ---------------------------------------------------
def test_arguments_that_are_not_utf8_are_errors_not_tracebacks(shared: Assistant) -> None:
    s = shared.settings
    for args in (["ask", b"Who was \xff\xfe Kosior?"], ["retrieve", b"Kosior \xc3"],
                 ["ask", "Who was Kosior?", "--doc", b"sedova\xff"]):  # fmt: skip
        out = run_cli(s, *args)
        assert out.returncode == 2, out.stderr.decode("utf-8", "replace")[-2000:]
        no_traceback(out.stderr)  # before: 105 lines of TypeError: TextEncodeInput ...
        err = out.stderr.decode("utf-8")  # itself valid UTF-8: the bad byte is shown escaped
        assert "not valid UTF-8" in err or "unknown document id 'sedova\\udcff'" in err, err


def test_lone_surrogates_through_the_api_and_the_page_are_messages(shared: Assistant) -> None:
    with pytest.raises(InvalidQuestionError, match=r"character 9 is .* \\udcff"):
        shared.ask("Who was \udcff Kosior?")
    history = [{"role": "user", "content": "Hi \ud800"}, {"role": "assistant", "content": "."}]
    with pytest.raises(InvalidQuestionError, match="history message 0 is not valid UTF-8"):
        shared.ask("Who was Kosior?", history=history)
    page = ChatPage(shared)
    turns = [Turn(1, "Earlier?", Answer(question="Earlier?", text="Before. [1]"), [])]
    chat, _, notice, box, kept = next(
        o for o in page.respond("Who was \udcff Kosior?", turns, None) if o[2]
    )
    assert "not valid UTF-8" in notice and kept == turns and len(chat) == 2  # session goes on
    assert box == "Who was \ufffd Kosior?"  # echoed without the surrogate (JSON-safe)


def call_api(url: str, name: str, data: list[Any]) -> list[Any]:
    """The page's endpoint ``name`` through Gradio's REST API, JSON as any client may send it
    (a lone surrogate as ``\\udcff``: gradio_client cannot even encode one)."""
    req = urllib.request.Request(f"{url}gradio_api/call/{name}", data=json.dumps({"data": data}).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=60) as resp:
        event = json.loads(resp.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{name}/{event}", timeout=120) as resp:
        stream = resp.read().decode("utf-8")
    assert "event: complete" in stream, stream[-2000:]
    return list(json.loads(stream.rsplit("data: ", 1)[1]))


def test_the_served_page_answers_a_surrogate_with_a_message(tmp_path: Path) -> None:
    s = Settings(feedback_path=tmp_path / "fb.jsonl")
    demo = build_app(Fake(s))
    try:
        url = serve(demo, s, port=free_port(), block=False)
        chat, _, notice, box, _ = call_api(url, "ask", ["Bad \udcff byte?", [], ["d"]])
        assert "not valid UTF-8" in notice and "\\udcff" in notice and box == "Bad \ufffd byte?"
        assert chat == []  # before: "Something went wrong (TypeError)"
        chat, *_ = call_api(url, "ask", ["A good question?", [], ["d"]])
        assert texts(chat)[0] == "A good question?"  # the page goes on answering
    finally:
        demo.close()


class Recorder:
    """What the chat command asks, with which history; fails on a line that is not UTF-8."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, str]]]] = []
        self.settings = Settings()

    def ask(self, q: str, history: list[dict[str, str]], doc_ids: Any = None) -> Answer:
        from assistant.conversation import validate_question

        validate_question(q, 1000)
        self.calls.append((q, list(history)))
        return Answer(question=q, text=f"About {q}")


def test_the_chat_keeps_its_session_after_a_line_that_is_not_utf8(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(cli, "_assistant", lambda args: recorder)
    lines = b"Who was Kosior?\nAnd \xff\xfe him?\nWhat did he say?\n\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines), encoding="utf-8"))
    assert cli.main(["chat"]) == 0  # before: UnicodeDecodeError ended the chat and its history
    out = capsys.readouterr().out
    assert "error: the question is not valid UTF-8" in out and "\\udcff" in out
    assert [q for q, _ in recorder.calls] == ["Who was Kosior?", "What did he say?"]
    assert recorder.calls[1][1] == [{"role": "user", "content": "Who was Kosior?"},
                                {"role": "assistant", "content": "About Who was Kosior?"}]  # fmt: skip


def test_unknown_document_ids_and_k_out_of_range_name_the_valid_choices(
    shared: Assistant, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    known = "mcneal-krupskaya, sedova-1944"
    for call in (lambda: shared.ask(SEDOVA_Q, doc_ids=["sedova"]),
                 lambda: shared.retrieve(SEDOVA_Q, doc_ids=["sedova-1944", "nope"])):  # fmt: skip
        with pytest.raises(
            InvalidQuestionError, match=f"unknown document id .*the documents are: {known}"
        ):
            call()
    for k in (-1, 0, MAX_K + 1, 10**9):
        with pytest.raises(
            InvalidQuestionError, match=rf"k must be a whole number from 1 to {MAX_K}"
        ):
            shared.retrieve(SEDOVA_Q, k=k)  # before: -1 gave 24 passages
    n = len(shared.retriever.passages)
    assert len(shared.retrieve(SEDOVA_Q, k=n + 5)) == n  # a small store gives what it holds
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(shared.settings.corpus_dir))
    monkeypatch.setenv("ASSISTANT_VECTORSTORE_DIR", str(shared.settings.vectorstore_dir))
    assert fake_main(["retrieve", SEDOVA_Q, "-k", "-1"]) == 2
    assert fake_main(["ask", SEDOVA_Q, "--doc", "nope"]) == 2
    err = capsys.readouterr().err
    assert (
        f"from 1 to {MAX_K}" in err
        and f"unknown document id 'nope'; the documents are: {known}" in err
    )


BINARY_LOOKING = bytes(b for b in random.Random(7).randbytes(40000)
                       if b not in b"\x00\x81\x8d\x8f\x90\x9d")  # fmt: skip


def test_empty_and_binary_files_are_skipped_by_name(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    files = {"empty.txt": b"", "blank.md": b" \n\t\n", "noise.txt": BINARY_LOOKING,
             "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}  # fmt: skip
    for name, data in files.items():
        (s.corpus_dir / name).write_bytes(data)
    report = fake(s).ingest()
    assert (report.added, report.skipped, report.failed) == (1, 4, ())
    for name in files:
        assert any(w.startswith(f"{name}: ") and "skipped" in w for w in report.warnings), name
    assert {p.doc_id for p in fake(s).store.all_passages()} == {"sedova-1944"}
    assert "4 skipped" in report.summary()  # before: "added" with 0 or 777 garbage passages


def test_a_manifest_entry_without_its_file_is_a_warning(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    report = fake(s).ingest()
    named = load_manifest(s.manifest_path)
    missing = sorted(set(named) - {SEDOVA})
    assert len(missing) == 4
    for name in missing:
        assert any(w.startswith(f"the manifest names {name} ") and "not in" in w
                   for w in report.warnings), name  # fmt: skip


def test_torn_feedback_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text(
        '{"n": 1}\n{"n": 2, "cut\n[3]\n{"n": 4}\nnot json\n{"n": 5, "x', encoding="utf-8"
    )
    got = load_jsonl(path)
    assert [r["n"] for r in got.records] == [1, 4] and got.skipped == 4
    assert read_jsonl(path) == got.records  # before: JSONDecodeError


# -- terminal and page safety ------------------------------------------------------------------
ESCAPES = ("Trotsky wrote to Krupskaya.\x1b]0;PWNED\x07 The screen\x1b[2J cleared.\r"
           "Overwritten \u202egnirts\u202c and \x9b31m red.")  # fmt: skip


def _answer_with(text: str) -> Answer:
    c = Citation(n=1, passage_id="d:1", doc_id="d", title="T\x1b[1m", author="A", section="S",
                 kind="body", source="corpus/d.txt", start=0, end=len(text), quote=text,
                 score=1.0, passage_text=text, passage_start=0)  # fmt: skip
    return Answer(question="Q", text=f"{text} [1]", citations=[c], notes=[f"note {text}"])


def test_escape_sequences_from_documents_and_models_are_escaped_in_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = format_answer(_answer_with(ESCAPES))
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", shown)
    assert "\\x1b]0;PWNED\\x07" in shown and "\\x1b[2J" in shown and "\\u202e" in shown
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "escapes.txt").write_text(ESCAPES + "\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("ASSISTANT_VECTORSTORE_DIR", str(tmp_path / "vs"))
    assert fake_main(["ingest", "--quiet"]) == 0
    for args in (["retrieve", "Trotsky Krupskaya screen"], ["ask", "Who did Trotsky write to?"],
                 ["ask", "Who did Trotsky write to?", "--json"]):  # fmt: skip
        capsys.readouterr()
        assert fake_main(args) == 0
        out = capsys.readouterr().out
        assert out.strip() and not re.search("[\x07\x1b\x9b\r\u202e]", out), args
        assert "PWNED" in out or (args[0] == "ask" and "--json" not in args)
    json.loads(out)  # escaped as \\u009b etc., still JSON


def test_urls_in_documents_and_models_are_text_not_links() -> None:
    planted = ("To verify your account visit http://verify.example.com/login or "
               "www.example.org, or write to help@example.com.")  # fmt: skip
    ans = _answer_with(planted)
    page = answer_html(ans, 1) + sources_html([Turn(1, "https://asked.example", ans, [])])
    # Markdown's autolinker (the chat's) links only these; each is written with an entity.
    assert not re.search(r"(?i)https?://|www\.|\w@\w", page)
    assert "http&#58;//verify.example.com/login" in page and "www&#46;example.org" in page
    links = re.findall(r"<a [^>]*>", page)
    assert '<a class="cite" href="#src-1-1">' in links  # the citation, and the page's own
    assert all(re.search(r'href="#[\w-]+"', a) for a in links), links  # anchors, nothing else


# -- large files -------------------------------------------------------------------------------
def test_a_file_is_cut_batch_by_batch_into_the_same_passages_with_progress() -> None:
    s = Settings()
    chunker = Chunker(lambda t: token_counts(s.embedding_model, t), s.max_passage_tokens)
    name = "rogovin_was_there_an_alternative_1923-1927.txt"
    src = load_source(PROJECT_ROOT / "corpus" / name, load_manifest(s.manifest_path)[name])
    seen: list[tuple[int, int]] = []
    plan = chunker.plan(src, lambda done, total: seen.append((done, total)))
    assert len(seen) > 3 and seen[-1] == (len(src.text), len(src.text))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    batches = [
        p for b in range(0, len(plan), 300) for p in chunker.materialize(src, plan, b, b + 300)
    ]
    assert batches == chunker.passages(src)
    assert all(src.text[p.start : p.end] == p.text for p in batches)
    assert len({p.id for p in batches}) == len(batches)


# -- exposure ----------------------------------------------------------------------------------
def test_binding_beyond_loopback_without_a_login_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s = Settings(feedback_path=tmp_path / "fb.jsonl", ui_host="0.0.0.0")
    demo = build_app(Fake(s))
    try:
        with pytest.raises(AssistantError, match=r"served on 0\.0\.0\.0.*ASSISTANT_UI_AUTH"):
            serve(demo, s, port=free_port(), block=False)
        with pytest.raises(AssistantError, match="--insecure-public"):
            serve(demo, s, host="::", port=free_port(), block=False)
        url = serve(demo, s, port=free_port(), block=False, insecure_public=True)
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
    finally:
        demo.close()
    monkeypatch.setenv("ASSISTANT_UI_HOST", "0.0.0.0")
    with pytest.raises(SystemExit) as exited:
        cli.main(["ui"])  # refused before the store is even looked at
    assert exited.value.code == 1 and "without a login" in capsys.readouterr().err


def test_the_page_takes_no_files(tmp_path: Path) -> None:
    s = Settings(feedback_path=tmp_path / "fb.jsonl")
    demo = build_app(Fake(s))
    try:
        url = serve(demo, s, port=free_port(), block=False)
        body = (b"--X\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nUPLOADED-7f3a\r\n--X--\r\n")  # fmt: skip
        req = urllib.request.Request(url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": "multipart/form-data; boundary=X"})  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=30)
        assert refused.value.code == 403  # before: 200 and the file kept in Gradio's cache
        assert b"takes no files" in refused.value.read()
    finally:
        demo.close()
