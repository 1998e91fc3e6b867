"""The evaluation runner, summary, report and CLI, driven by a fake assistant."""

from __future__ import annotations

import argparse
import json
import math
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import EmptyStoreError, InvalidQuestionError
from assistant.evaluation import cli
from assistant.evaluation.questions import Evidence, Question
from assistant.evaluation.report import write_report
from assistant.evaluation.runner import COMPARE_MODES, EvalRun, run_questions, summarize
from assistant.types import Answer, Citation, Passage

TEXT = (
    "Preface about the archive and its typescripts.\n\n"
    "The Opposition will defend its views in the party, openly and by every legal means.\n\n"
    "Greetings to Krupskaya and to all friends of the Opposition.\n"
)
QUOTE = "The Opposition will defend its views in the party"
History = list[dict[str, str]]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_VECTORSTORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "corpus"))


@pytest.fixture
def source(tmp_path: Path) -> str:
    return write_letter(tmp_path)


def write_letter(tmp_path: Path) -> str:
    """The one-file corpus of these tests; returns the file's path."""
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    path = corpus / "letter.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)  # absolute: resolve_source keeps it as is


def passage(source: str, snippet: str) -> Passage:
    start = TEXT.index(snippet)
    return Passage(
        id=f"p{start}",
        doc_id="letter",
        title="Letter",
        section="",
        kind="body",
        language="en",
        text=snippet,
        source=source,
        start=start,
        end=start + len(snippet),
    )


def answer(question: str, source: str, snippet: str = "", text: str = "") -> Answer:
    """An answer citing ``snippet`` as [1]; abstains when there is no snippet."""
    if not snippet:
        return Answer(question=question, text=text or "The documents do not say.", abstained=True)
    start = TEXT.index(snippet)
    c = Citation(
        n=1, passage_id="p", doc_id="letter", title="Letter", author="L. T.", section="",
        kind="body", source=source, start=start, end=start + len(snippet), quote=snippet,
        score=1.0,
    )  # fmt: skip
    return Answer(question=question, text=text or f"{snippet} [1].", citations=[c])


class FakeAssistant:
    """Returns fixed rankings per mode and fixed answers per question; records every call."""

    def __init__(self, rankings: dict[str, list[Passage]], answers: dict[str, Answer]) -> None:
        self.rankings = rankings
        self.answers = answers
        self.calls: list[tuple[str, str, History | None, str]] = []

    def retrieve(
        self, question: str, k: int = 10, history: History | None = None, mode: str = "hybrid"
    ) -> list[Passage]:
        self.calls.append(("retrieve", question, history and list(history), mode))
        return self.rankings[mode][:k]

    def ask(self, question: str, history: History | None = None, mode: str = "hybrid") -> Answer:
        self.calls.append(("ask", question, history and list(history), mode))
        result = self.answers[question]
        if isinstance(result, Exception):
            raise result
        return result


def question(qid: str, **changes: Any) -> Question:
    fields: dict[str, Any] = {
        "id": qid,
        "question": f"question {qid}?",
        "reference": "They will defend their views.",
        "must_include": ("defend", "views|opinions"),
        "evidence": (Evidence(doc="letter.txt", quote=QUOTE),),
        "type": "factual",
        "answerable": True,
        "where": f"q.jsonl:{qid}",
    }
    return Question(**(fields | changes))


@pytest.fixture
def fake(source: str) -> FakeAssistant:
    return make_fake(source)


def make_fake(source: str) -> FakeAssistant:
    """Rankings that put the evidence second (hybrid); a abstains never, b and u always."""
    noise = passage(source, "Preface about the archive and its typescripts.")
    hit = passage(source, TEXT.split("\n\n")[1])
    other = passage(source, "Greetings to Krupskaya and to all friends of the Opposition.")
    rankings = {"hybrid": [noise, hit, other], "dense": [hit], "lexical": [other, noise]}
    answers = {
        "question a?": answer("a", source, QUOTE),
        "question b?": answer("b", source),  # abstains although answerable
        "question u?": answer("u", source),  # abstains, rightly
    }
    return FakeAssistant(rankings, answers)


def test_answerable_question_gets_every_metric(fake: FakeAssistant) -> None:
    (r,) = run_questions(fake, [question("a")], progress=False)
    scores = r.retrieval["hybrid"]
    assert (scores.hit1, scores.hit4, scores.hit10) == (0.0, 1.0, 1.0)
    assert scores.rr == 0.5
    assert scores.ndcg == pytest.approx(1 / math.log2(3))
    assert scores.relevant_ranks == (2,)
    assert r.recall == 1.0
    assert r.words == 9  # "The Opposition will defend its views in the party [1]."
    assert r.citations_valid is True
    assert r.supported is True
    assert r.latency is not None and r.latency >= 0
    assert r.passes() == {
        "retrieval": True,
        "key facts": True,
        "citations": True,
        "support": True,
        "abstention": True,
    }


def test_summary_overall_and_per_type(fake: FakeAssistant) -> None:
    questions = [
        question("a"),
        question("b"),
        question("u", answerable=False, must_include=(), evidence=(), type="unanswerable"),
    ]
    summary = summarize(run_questions(fake, questions, progress=False), ["hybrid"])
    overall = summary["overall"]
    assert overall["questions"] == 3
    assert overall["retrieval"]["hybrid"]["n"] == 2  # the unanswerable one has no evidence
    assert overall["retrieval"]["hybrid"]["mrr@10"] == 0.5
    assert overall["key_fact_recall"] == 0.5  # a finds both facts, b none
    assert overall["support"] == 1.0  # only a answered, and its citation overlaps
    assert overall["abstention_rate"] == 1.0
    assert overall["false_abstention_rate"] == 0.5
    assert overall["citation_validity"] == 1.0
    assert overall["latency_p50"] is not None
    assert set(summary["by_type"]) == {"factual", "unanswerable"}
    assert summary["by_type"]["unanswerable"]["false_abstention_rate"] is None
    assert summary["by_type"]["factual"]["abstention_rate"] is None


def test_follow_up_is_asked_as_a_chat(fake: FakeAssistant, source: str) -> None:
    fake.answers["first?"] = answer("first", source, "Greetings to Krupskaya")
    fake.answers["second?"] = answer("second", source)
    q = question("a", history=("first?", "second?"))
    run_questions(fake, [q], progress=False)
    asks = [(c[1], c[2]) for c in fake.calls if c[0] == "ask"]
    first_turn = [
        {"role": "user", "content": "first?"},
        {"role": "assistant", "content": "Greetings to Krupskaya [1]."},
    ]
    second_turn = [
        {"role": "user", "content": "second?"},
        {"role": "assistant", "content": "The documents do not say."},
    ]
    assert asks == [
        ("first?", None),
        ("second?", first_turn),
        ("question a?", first_turn + second_turn),
    ]
    (retrieve,) = [c for c in fake.calls if c[0] == "retrieve"]
    assert retrieve[2] == first_turn + second_turn


def test_compare_scores_every_mode(fake: FakeAssistant) -> None:
    results = run_questions(fake, [question("a")], COMPARE_MODES, progress=False)
    assert [c[3] for c in fake.calls if c[0] == "retrieve"] == ["dense", "lexical", "hybrid"]
    retrieval = summarize(results, COMPARE_MODES)["overall"]["retrieval"]
    assert retrieval["dense"]["hit@1"] == 1.0
    assert retrieval["lexical"]["hit@10"] == 0.0
    assert retrieval["hybrid"]["mrr@10"] == 0.5


def test_invalid_citation_fails_validity(fake: FakeAssistant, source: str) -> None:
    good = answer("a", source, QUOTE)
    moved = Citation(**{**good.citations[0].__dict__, "start": 0})
    fake.answers["question a?"] = Answer(question="a", text="Claim [1] and [3].", citations=[moved])
    (r,) = run_questions(fake, [question("a")], progress=False)
    assert r.citations_valid is False
    assert len(r.citation_problems) == 2  # [3] unresolved, [1] not at its offsets
    assert summarize([r], ["hybrid"])["overall"]["citation_validity"] == 0.0


def test_question_error_is_recorded_and_the_rest_runs(fake: FakeAssistant) -> None:
    fake.answers["question b?"] = InvalidQuestionError("too long; shorten it.")  # type: ignore[assignment]
    results = run_questions(fake, [question("b"), question("a")], progress=False)
    assert results[0].error == "InvalidQuestionError: too long; shorten it."
    assert results[0].recall == 0.0
    assert results[0].passes()["key facts"] is False
    assert results[1].error == ""
    assert summarize(results, ["hybrid"])["overall"]["errors"] == 1


def test_store_error_stops_the_run(fake: FakeAssistant) -> None:
    fake.answers["question a?"] = EmptyStoreError("run `assistant ingest`.")  # type: ignore[assignment]
    with pytest.raises(EmptyStoreError):
        run_questions(fake, [question("a")], progress=False)


def test_report_files(fake: FakeAssistant, tmp_path: Path, source: str) -> None:
    fake.answers["<script>alert(1)</script>?"] = answer("x", source, QUOTE)
    questions = [question("a"), question("x", question="<script>alert(1)</script>?")]
    results = run_questions(fake, questions, COMPARE_MODES, progress=False)
    run = EvalRun(results, COMPARE_MODES, errors=["q.jsonl:9: not valid JSON"], answerer="default")
    paths = write_report(run, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html", "scores.png"]
    data = json.loads(paths[0].read_text(encoding="utf-8"))
    assert [q["id"] for q in data["questions"]] == ["a", "x"]
    assert data["questions"][0]["passes"]["retrieval"] is True
    assert data["line_errors"] == ["q.jsonl:9: not valid JSON"]
    assert data["summary"]["overall"]["retrieval"]["dense"]["hit@1"] == 1.0
    page = paths[2].read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page  # the page's own filter script is its only one
    assert page.count("<script>") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;?" in page
    assert "data:image/png;base64," in page
    md = paths[1].read_text(encoding="utf-8")
    assert "| retrieval hit@4 | 1.00 (0.34–1.00) | 1.00 (0.34–1.00) |" in md  # n=2: wide
    assert "## Retrieval modes compared" in md
    assert paths[3].read_bytes().startswith(b"\x89PNG")


def _args(**changes: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_eval_parser(parser.add_subparsers())
    args = parser.parse_args(["eval"])
    for name, value in changes.items():
        setattr(args, name, value)
    return args


def test_cli_runs_the_rest_after_a_malformed_line(
    fake: FakeAssistant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = [
        json.dumps({**question("a").__dict__, "evidence": [{"doc": "letter.txt", "quote": QUOTE}]}),
        '{"id": "broken", "question": ',
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    api = types.ModuleType("assistant.api")
    api.Assistant = lambda settings: fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "assistant.api", api)
    out = tmp_path / "report"
    code = cli.run_eval(_args(questions=path, out=out, no_progress=True))
    assert code == 1
    assert "error: q.jsonl:2: not valid JSON" in capsys.readouterr().err
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [q["id"] for q in data["questions"]] == ["a"]
    assert data["line_errors"][0].startswith("q.jsonl:2:")


def test_cli_check(source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = {**question("a").__dict__, "evidence": [{"doc": "letter.txt", "quote": QUOTE}]}
    good = {k: v for k, v in good.items() if k != "where"}
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(good, default=list) + "\n", encoding="utf-8")
    assert cli.run_eval(_args(check=path)) == 0
    bad = good | {"must_include": ["Bukharin"]}
    path.write_text(json.dumps(bad, default=list) + "\n", encoding="utf-8")
    assert cli.run_eval(_args(check=path)) == 1
    assert "q.jsonl:1: a: key fact 'Bukharin'" in capsys.readouterr().out


def test_types_and_limit_select_questions() -> None:
    qs = [question("a"), question("b", type="quote"), question("c")]
    assert [q.id for q in cli.select(qs, "factual", None)] == ["a", "c"]
    assert [q.id for q in cli.select(qs, "factual, quote", 2)] == ["a", "b"]
