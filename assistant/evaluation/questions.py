"""The evaluation question set: JSONL lines loaded into :class:`Question`, and a validator.

One JSON object per line::

    {"id": "q1", "question": "...", "reference": "...", "must_include": ["Trotsky|Trotskii"],
     "evidence": [{"doc": "file.txt", "quote": "exact text"}], "type": "factual",
     "answerable": true, "history": ["an earlier user question"]}

``must_include`` entries are alternatives joined by ``|``, matched case-insensitively; every
entry is needed. ``evidence[].doc`` names the file in the corpus folder (``settings.corpus_dir``);
evidence is matched by its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.corpus import corpus_files, read_source
from assistant.errors import IngestError
from assistant.evaluation.metrics import contains_fact, normalize

REQUIRED = ("id", "question", "reference", "must_include", "evidence", "type", "answerable")


@dataclass(frozen=True)
class Evidence:
    """An exact quote from a corpus file that supports the reference answer."""

    doc: str
    quote: str


@dataclass(frozen=True)
class Question:
    """One line of the question set; ``where`` is ``file:line`` for messages."""

    id: str
    question: str
    reference: str
    must_include: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    type: str
    answerable: bool
    history: tuple[str, ...] = ()
    where: str = ""

    @property
    def quotes(self) -> list[str]:
        return [e.quote for e in self.evidence]


class QuestionFormatError(ValueError):
    """A line of the question set does not follow the format."""


def question_files(path: Path) -> list[Path]:
    """The JSONL files at ``path``: the file itself, or a folder's ``*.jsonl`` by name."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".jsonl" and p.is_file())
    return [path]


def load_questions(path: Path) -> tuple[list[Question], list[str]]:
    """Load a question set, skipping bad lines.

    Args:
        path: a ``.jsonl`` file or a folder of them.

    Returns:
        The well-formed questions in file order, and one error per bad line, each starting
        with ``file:line:``. Blank lines are skipped; a repeated ``id`` is an error.
    """
    questions: list[Question] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    if not path.exists():
        return [], [f"{path}: no such file or folder; pass a .jsonl file or a folder of them."]
    for where, line in _lines(path):
        try:
            q = parse_question(json.loads(line), where)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: not valid JSON ({exc.msg}, column {exc.colno}); fix the line.")
            continue
        except QuestionFormatError as exc:
            errors.append(f"{where}: {exc}")
            continue
        if q.id in seen:
            errors.append(f"{where}: id '{q.id}' already used at {seen[q.id]}; make ids unique.")
            continue
        seen[q.id] = where
        questions.append(q)
    return questions, errors


def _lines(path: Path) -> Iterator[tuple[str, str]]:
    for file in question_files(path):
        text = file.read_text(encoding="utf-8-sig")
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield f"{file.name}:{number}", line


def parse_question(obj: Any, where: str = "") -> Question:
    """Build a :class:`Question` from one decoded JSON line.

    Raises:
        QuestionFormatError: a field is missing or has the wrong type.
    """
    if not isinstance(obj, dict):
        raise QuestionFormatError("a line must be a JSON object; wrap the fields in {}.")
    missing = [name for name in REQUIRED if name not in obj]
    if missing:
        raise QuestionFormatError(f"missing field(s) {', '.join(missing)}; add them.")
    if isinstance(obj["id"], bool) or not isinstance(obj["id"], str | int):
        raise QuestionFormatError("field 'id' must be a string.")
    if not isinstance(obj["answerable"], bool):
        raise QuestionFormatError("field 'answerable' must be true or false.")
    return Question(
        id=str(obj["id"]),
        question=_text(obj, "question"),
        reference=_string(obj, "reference"),
        must_include=tuple(_strings(obj, "must_include")),
        evidence=tuple(_evidence(obj["evidence"])),
        type=_text(obj, "type"),
        answerable=obj["answerable"],
        history=tuple(_strings(obj, "history")) if "history" in obj else (),
        where=where,
    )


def _string(obj: dict[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise QuestionFormatError(f"field '{name}' must be a string.")
    return value


def _text(obj: dict[str, Any], name: str) -> str:
    value = _string(obj, name)
    if not value.strip():
        raise QuestionFormatError(f"field '{name}' must not be empty.")
    return value


def _strings(obj: dict[str, Any], name: str) -> list[str]:
    value = obj[name]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise QuestionFormatError(f"field '{name}' must be a list of non-empty strings.")
    return value


def _evidence(value: Any) -> list[Evidence]:
    if not isinstance(value, list):
        raise QuestionFormatError("field 'evidence' must be a list of {doc, quote} objects.")
    items = []
    for i, item in enumerate(value, start=1):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) and item[k].strip() for k in ("doc", "quote")
        ):
            raise QuestionFormatError(
                f"evidence #{i} must be an object with non-empty string fields 'doc' and 'quote'."
            )
        items.append(Evidence(doc=item["doc"], quote=item["quote"]))
    return items


def load_corpus_texts(corpus_dirs: Sequence[Path]) -> dict[str, str]:
    """Texts of every corpus file in the folders, by file name; missing folders are skipped."""
    texts: dict[str, str] = {}
    for folder in corpus_dirs:
        if not folder.is_dir():
            continue
        for file in corpus_files(folder):
            try:
                texts.setdefault(file.name, read_source(file))
            except IngestError:
                continue
    return texts


def check_questions(path: Path, corpus_dirs: Sequence[Path]) -> list[str]:
    """Validate a question set against the corpus.

    Every line must parse; every evidence quote must be verbatim in a corpus file (in the
    file ``doc`` names, when that name is known); every key fact must appear in the evidence;
    an answerable question needs evidence and key facts.

    Args:
        path: a ``.jsonl`` file or a folder of them.
        corpus_dirs: folders whose ``.txt``/``.md`` files make up the corpus, e.g. the
            settings' ``corpus_dir``.

    Returns:
        One problem per line, each starting with ``file:line:``; empty when all is well.
    """
    questions, problems = load_questions(path)
    texts = load_corpus_texts(corpus_dirs)
    if not texts:
        names = ", ".join(str(d) for d in corpus_dirs)
        return [*problems, f"no corpus files found in {names}; check the corpus folders."]
    for q in questions:
        problems.extend(question_problems(q, texts))
    return problems


def question_problems(q: Question, texts: dict[str, str]) -> list[str]:
    """What is wrong with one question, given the corpus texts by file name."""
    where = f"{q.where}: {q.id}"
    problems = [f"{where}: {p}" for p in _evidence_problems(q.evidence, texts)]
    if q.answerable and not q.evidence:
        problems.append(f"{where}: answerable but no evidence; add a quote.")
    if q.answerable and not q.must_include:
        problems.append(f"{where}: answerable but no must_include; add the key facts.")
    joined = normalize(" ".join(q.quotes))
    for fact in q.must_include if q.evidence else ():
        if not contains_fact(joined, fact):
            problems.append(f"{where}: key fact '{fact}' is not in the evidence quotes.")
    return problems


def _evidence_problems(evidence: Sequence[Evidence], texts: dict[str, str]) -> list[str]:
    problems = []
    for i, e in enumerate(evidence, start=1):
        found = [name for name, text in texts.items() if e.quote in text]
        doc = Path(e.doc).name  # "corpus/x.txt" and "x.txt" name the same file
        short = e.quote if len(e.quote) <= 60 else e.quote[:57] + "..."
        if not found:
            problems.append(f"evidence #{i}: quote '{short}' is not verbatim in any corpus file.")
        elif doc in texts and e.quote not in texts[doc]:
            problems.append(
                f"evidence #{i}: quote is not in '{e.doc}' but in {', '.join(found)}; fix 'doc'."
            )
        elif doc not in texts:
            problems.append(f"evidence #{i}: doc '{e.doc}' is not a corpus file name.")
    return problems
