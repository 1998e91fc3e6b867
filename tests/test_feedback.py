"""Feedback lines are appended, never lost, even with writers in many threads and processes."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from assistant import Answer, Citation
from assistant_ui.feedback import append_jsonl, feedback_record, read_jsonl

LINES_PER_WRITER = 40


def _answer() -> Answer:
    c = Citation(
        n=1, passage_id="d:1", doc_id="d", title="A Letter", author="L. Trotsky", section="",
        kind="body", source="corpus/d.txt", start=3, end=20, quote="The quoted words.",
        score=0.9, passage_text="Long passage " * 50,
    )  # fmt: skip
    return Answer(question="Why?", text="Because. [1]", citations=[c], answerer="default")


def _write_many(path: str, writer: str) -> None:
    for i in range(LINES_PER_WRITER):
        # long lines: a torn write would show up as an unparsable line
        append_jsonl(Path(path), {"writer": writer, "i": i, "pad": "x" * 5000})


def test_record_holds_question_history_answer_citations_verdict_time() -> None:
    history = [{"role": "user", "content": "Before?"}, {"role": "assistant", "content": "Yes."}]
    rec = feedback_record("down", "Why?", history, _answer(), comment="  too short ")
    assert rec["verdict"] == "down" and rec["comment"] == "too short"
    assert rec["question"] == "Why?" and rec["history"] == history
    assert rec["answer"] == "Because. [1]"
    assert rec["citations"][0]["quote"] == "The quoted words."
    assert rec["citations"][0]["source"] == "corpus/d.txt"
    assert "passage_text" not in rec["citations"][0]
    assert rec["time"].endswith("+00:00")
    json.dumps(rec)


def test_record_rejects_an_unknown_verdict() -> None:
    with pytest.raises(ValueError):
        feedback_record("meh", "Q", [], _answer())  # type: ignore[arg-type]


def test_append_keeps_earlier_lines_and_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "feedback.jsonl"
    append_jsonl(path, {"n": 1})
    append_jsonl(path, {"n": 2, "text": "Сталин «борьба»"})
    assert read_jsonl(path) == [{"n": 1}, {"n": 2, "text": "Сталин «борьба»"}]


def test_a_torn_last_line_does_not_swallow_the_next(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text('{"n": 1}\n{"n": 2, "cut', encoding="utf-8")
    append_jsonl(path, {"n": 3})
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == '{"n": 1}' and json.loads(lines[-1]) == {"n": 3}


def test_concurrent_threads_and_processes_lose_no_line(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    append_jsonl(path, {"writer": "earlier", "i": 0})
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), f"p{k}")) for k in range(3)]
    threads = [threading.Thread(target=_write_many, args=(str(path), f"t{k}")) for k in range(4)]
    for p in procs:
        p.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    records = read_jsonl(path)  # every line parses: none interleaved
    assert records[0] == {"writer": "earlier", "i": 0}
    seen = {(r["writer"], r["i"]) for r in records[1:]}
    expected = {(w, i) for w in [*(f"p{k}" for k in range(3)), *(f"t{k}" for k in range(4))]
                for i in range(LINES_PER_WRITER)}  # fmt: skip
    assert seen == expected
    assert len(records) == 1 + len(expected)
