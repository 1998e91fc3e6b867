"""The terminal: line editing in `chat`, clean answers, one ingest bar, described commands."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import Answer, Citation, format_answer
from assistant.cli import build_parser
from assistant.settings import PROJECT_ROOT
from tests.conftest import small_corpus
from tests.fake_cli import fake_main

QUOTE = "The regime is crude and disloyal.*<sup>5</sup> Do you think *Pravda* [26] said so?"


def citation(n: int = 1, quote: str = QUOTE) -> Citation:
    return Citation(
        n=n, passage_id="d:1", doc_id="d", title="A Letter", author="L. Trotsky",
        section="Part *one*", kind="body", source="corpus/d.txt", start=10,
        end=10 + len(quote), quote=quote, score=1.0, date="1927-05-17",
    )  # fmt: skip


def test_answers_and_sources_print_without_markup() -> None:
    long_quote = QUOTE + " " + "It went on and on about the apparatus. " * 6
    ans = Answer(question="Q?", text="He *wrote* it. [1] And more. [2]",
                 citations=[citation(1), citation(2, long_quote)])  # fmt: skip
    out = format_answer(ans, width=72)
    assert "*" not in out and "<sup>" not in out and "[26]" not in out
    assert "He wrote it. [1] And more. [2]" in out  # citation markers stay
    assert "disloyal.⁵ Do you think Pravda ²⁶ said so?" in " ".join(out.split())
    assert "[1] A Letter — L. Trotsky, 1927-05-17, § Part one" in out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 72
    quote_lines = [line for line in lines if "apparatus" in line]
    assert len(quote_lines) > 1 and all(line.startswith("    ") for line in quote_lines)
    assert "    corpus/d.txt, characters 10–" in out


def test_copied_text_keeps_one_line_a_paragraph() -> None:
    ans = Answer(question="Q?", text="He wrote it. [1]", citations=[citation()])
    out = format_answer(ans, width=None)
    assert out.splitlines()[0] == "He wrote it. [1]"
    assert "    “The regime is crude and disloyal.⁵ Do you think Pravda ²⁶ said so?”" in out


def test_every_command_has_a_description() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices = sub.choices  # type: ignore[attr-defined]
    assert {"ingest", "retrieve", "ask", "chat", "ui", "run", "eval"} <= set(choices)
    for name, command in choices.items():
        assert command.description and len(command.description) > 40, name


CHAT_CHILD = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from assistant.terminal import ChatInput
for q in ChatInput(Path({history!r})):
    print("asked:", repr(q), flush=True)
print("bye", flush=True)
"""


class Pty:
    """A child process on a pseudo-terminal, so that input() goes through readline."""

    def __init__(self, code: str) -> None:
        import pty

        self.fd, child = pty.openpty()
        env = {**os.environ, "TERM": "xterm"}
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=child, stdout=child,
                                     stderr=child, env=env, close_fds=True)  # fmt: skip
        os.close(child)
        self.seen = ""

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096).decode("utf-8", "replace")
                except OSError:
                    break
        assert text in self.seen, self.seen[-500:]


def test_chat_input_edits_lines_and_keeps_history(tmp_path: Path) -> None:
    history = tmp_path / "sub" / "history"
    history.parent.mkdir()
    history.write_text("Who was Kosior?\n", encoding="utf-8")  # an earlier chat's question
    term = Pty(CHAT_CHILD.format(root=str(PROJECT_ROOT), history=str(history)))
    try:
        term.wait_for("> ")
        term.send("Why did she write?\r")
        term.wait_for("asked: 'Why did she write?'")
        term.send("\x1b[A\x1b[A\r")  # up twice: the earlier chat's question
        term.wait_for("asked: 'Who was Kosior?'")
        term.send("abc\x1b[D\x1b[DX\r")  # left twice, insert: editing inside the line
        term.wait_for("asked: 'aXbc'")
        term.send("\r")  # an empty line ends the chat
        term.wait_for("bye")
    finally:
        term.proc.wait(timeout=30)
        os.close(term.fd)
    assert history.read_text(encoding="utf-8").splitlines()[-3:] == [
        "Why did she write?", "Who was Kosior?", "aXbc"
    ]  # fmt: skip


def test_ingest_shows_one_bar_and_each_warning_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = small_corpus(tmp_path / "corpus", ("sedova_letter_to_friends_1944-11-06.txt",))
    (corpus / "stray_note.txt").write_text("A stray note.\n\nAbout a samovar.\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus))
    assert fake_main(["ingest"]) == 0
    err = capsys.readouterr()
    assert err.err.count("stray_note.txt: no manifest entry") == 1
    bars = re.findall(r"(\w+):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) ", err.err)
    assert {b[0] for b in bars} == {"embedding"}  # one bar for the whole run
    totals = {int(b[2]) for b in bars}
    assert len(totals) == 1 and max(int(b[1]) for b in bars) == totals.pop()
    assert "file 2/2" in err.err and "passages/s" in err.err
    assert "2 added" in err.out
