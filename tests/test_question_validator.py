"""The question-set loader and validator on good and bad lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.evaluation.questions import (
    Evidence,
    check_questions,
    load_questions,
    parse_question,
)
from assistant.settings import PROJECT_ROOT

LETTER = (
    "Dear comrades,\nThe Opposition will defend its views in the party.\nGreetings to Krupskaya.\n"
)
QUOTE = "The Opposition will defend its views in the party."


@pytest.fixture
def corpus_dirs(tmp_path: Path) -> list[Path]:
    """The same text under a project name in corpus/ and its original name in shared/."""
    corpus, shared = tmp_path / "corpus", tmp_path / "shared"
    corpus.mkdir()
    shared.mkdir()
    (corpus / "letter.txt").write_text(LETTER, encoding="utf-8")
    (shared / "000_original.txt").write_text(LETTER, encoding="utf-8")
    (corpus / "other.txt").write_text("An unrelated note about the weather.\n", encoding="utf-8")
    (shared / "README.md").write_text(QUOTE.replace("party", "README"), encoding="utf-8")
    return [corpus, shared]


def line(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "q1",
        "question": "What will the Opposition do?",
        "reference": "Defend its views in the party.",
        "must_include": ["defend|uphold", "party"],
        "evidence": [{"doc": "letter.txt", "quote": QUOTE}],
        "type": "factual",
        "answerable": True,
        "history": [],
    }
    return record | changes


def write(path: Path, *lines: dict[str, Any] | str) -> Path:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_good_line_loads(tmp_path: Path) -> None:
    questions, errors = load_questions(write(tmp_path / "q.jsonl", line(history=["Who?"])))
    assert errors == []
    (q,) = questions
    assert q.id == "q1"
    assert q.evidence == (Evidence(doc="letter.txt", quote=QUOTE),)
    assert q.history == ("Who?",)
    assert q.where == "q.jsonl:1"


def test_good_lines_pass_the_check(tmp_path: Path, corpus_dirs: list[Path]) -> None:
    path = write(
        tmp_path / "q.jsonl",
        line(),
        line(id="q2", evidence=[{"doc": "000_original.txt", "quote": QUOTE}]),  # original name
        line(id="q3", evidence=[{"doc": "corpus/letter.txt", "quote": QUOTE}]),  # a path
        line(id="q4", answerable=False, must_include=[], evidence=[], type="unanswerable"),
    )
    assert check_questions(path, corpus_dirs) == []


def test_quote_not_verbatim_is_reported_with_its_line(
    tmp_path: Path, corpus_dirs: list[Path]
) -> None:
    bad = line(evidence=[{"doc": "letter.txt", "quote": "The Opposition will defend its view"}])
    bad["evidence"][0]["quote"] = QUOTE.replace("party", "Party")
    (problem,) = check_questions(write(tmp_path / "q.jsonl", "", bad), corpus_dirs)
    assert problem.startswith("q.jsonl:2: q1: evidence #1")
    assert "not verbatim" in problem


def test_quote_in_another_file_than_doc_is_reported(
    tmp_path: Path, corpus_dirs: list[Path]
) -> None:
    bad = line(evidence=[{"doc": "other.txt", "quote": QUOTE}])
    (problem,) = check_questions(write(tmp_path / "q.jsonl", bad), corpus_dirs)
    assert "not in 'other.txt'" in problem
    assert "letter.txt" in problem


def test_unknown_doc_name_is_reported(tmp_path: Path, corpus_dirs: list[Path]) -> None:
    bad = line(evidence=[{"doc": "leter.txt", "quote": QUOTE}])
    (problem,) = check_questions(write(tmp_path / "q.jsonl", bad), corpus_dirs)
    assert "'leter.txt' is not a corpus file" in problem


def test_key_fact_missing_from_evidence_is_reported(
    tmp_path: Path, corpus_dirs: list[Path]
) -> None:
    bad = line(must_include=["DEFEND", "Krupskaya|Ulyanova"])
    (problem,) = check_questions(write(tmp_path / "q.jsonl", bad), corpus_dirs)
    assert "key fact 'Krupskaya|Ulyanova'" in problem


def test_answerable_question_needs_evidence_and_key_facts(
    tmp_path: Path, corpus_dirs: list[Path]
) -> None:
    problems = check_questions(
        write(tmp_path / "q.jsonl", line(evidence=[], must_include=[])), corpus_dirs
    )
    assert len(problems) == 2
    assert any("no evidence" in p for p in problems)
    assert any("no must_include" in p for p in problems)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"id": "x"}), "missing field(s) question, reference"),
        (json.dumps(line(answerable="yes")), "'answerable' must be true or false"),
        (json.dumps(line(must_include="party")), "'must_include' must be a list"),
        (json.dumps(line(history=["ok", ""])), "'history' must be a list of non-empty"),
        (json.dumps(line(evidence=[{"doc": "letter.txt"}])), "evidence #1 must be an object"),
        (json.dumps(line(question="  ")), "'question' must not be empty"),
        (json.dumps(line(id=None)), "'id' must be a string"),
    ],
)
def test_malformed_line_is_an_error_naming_the_line(
    tmp_path: Path, corpus_dirs: list[Path], bad: str, message: str
) -> None:
    path = write(tmp_path / "q.jsonl", line(), bad, line(id="q3"))
    questions, errors = load_questions(path)
    assert [q.id for q in questions] == ["q1", "q3"]  # the rest still loads
    (error,) = errors
    assert error.startswith("q.jsonl:2: ")
    assert message in error
    assert check_questions(path, corpus_dirs) == errors


def test_duplicate_id_is_an_error(tmp_path: Path) -> None:
    questions, errors = load_questions(write(tmp_path / "q.jsonl", line(), line()))
    assert len(questions) == 1
    assert errors == ["q.jsonl:2: id 'q1' already used at q.jsonl:1; make ids unique."]


def test_folder_of_files_loads_every_jsonl(tmp_path: Path) -> None:
    write(tmp_path / "b.jsonl", line(id="b1"))
    write(tmp_path / "a.jsonl", line(id="a1"), line(id="a2"))
    (tmp_path / "notes.txt").write_text("not questions", encoding="utf-8")
    questions, errors = load_questions(tmp_path)
    assert errors == []
    assert [q.id for q in questions] == ["a1", "a2", "b1"]


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    questions, errors = load_questions(tmp_path / "nope.jsonl")
    assert questions == []
    assert "no such file" in errors[0]


def test_no_corpus_is_a_problem(tmp_path: Path) -> None:
    problems = check_questions(write(tmp_path / "q.jsonl", line()), [tmp_path / "empty"])
    assert problems and "no corpus files" in problems[0]


def test_integer_id_is_accepted() -> None:
    assert parse_question(line(id=7)).id == "7"


@pytest.mark.parametrize("name", ["dev.jsonl", "heldout.jsonl"])
def test_project_question_sets_are_valid(name: str) -> None:
    path = PROJECT_ROOT / "eval" / "questions" / name
    if not path.exists():
        pytest.skip(f"{path} not written yet")
    dirs = [PROJECT_ROOT / "corpus", PROJECT_ROOT.parent / "shared" / "corpus"]
    assert check_questions(path, dirs) == []
