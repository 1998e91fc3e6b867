"""Training questions -> (question, passage that answers it, passage that does not) triples.

The questions are the annotated set in ``eval/training/``: one JSONL file per region of the
corpus (a chapter of the book, a letter), in the schema of ``eval/questions/``. ``split.toml``
names the regions held out as ``train-test``: nothing in them is trained or tuned on.

A question's positives are the passages that hold its evidence (as the evaluation counts a hit);
its hard negative is a passage today's retriever ranks near the top for it that does not.
"""

from __future__ import annotations

import hashlib
import math
import random
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.conversation import Turn, standalone_question
from assistant.corpus import read_source
from assistant.evaluation.questions import Question, load_questions, question_files
from assistant.types import Passage

SPLIT_FILE = "split.toml"

Search = Callable[[str, int], list[Passage]]


class TrainingDataError(ValueError):
    """The training questions or their split cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Split:
    """The training questions, by whether their region is trained on or held out."""

    train: list[Question]
    test: list[Question]
    test_regions: tuple[str, ...]


@dataclass(frozen=True)
class Triple:
    """One training example: a question, a passage that answers it, one that does not."""

    question_id: str
    query: str
    positive: Passage
    negative: Passage


def load_split(folder: Path) -> Split:
    """The questions of ``folder``, split by ``split.toml``'s ``train_test`` regions.

    Raises:
        TrainingDataError: a line is malformed, or the split names a region with no file.
    """
    config = tomllib.loads((folder / SPLIT_FILE).read_text(encoding="utf-8"))
    regions = tuple(config.get("train_test", []))
    files = {f.stem for f in question_files(folder)}
    missing = [r for r in regions if r not in files]
    if missing:
        raise TrainingDataError(
            f"{folder / SPLIT_FILE} names regions with no question file: {', '.join(missing)}."
        )
    questions, errors = load_questions(folder)
    if errors:
        raise TrainingDataError(f"{len(errors)} bad line(s) in {folder}, first: {errors[0]}")
    test = [q for q in questions if region_of(q) in regions]
    train = [q for q in questions if region_of(q) not in regions]
    return Split(train, test, regions)


def region_of(q: Question) -> str:
    """The region (file stem) a question comes from: ``where`` is ``file.jsonl:line``."""
    return q.where.split(":", 1)[0].removesuffix(".jsonl")


def data_hash(folder: Path) -> str:
    """SHA-256 of the question files and the split, by name: the model's data, as a hash."""
    h = hashlib.sha256()
    for f in [*question_files(folder), folder / SPLIT_FILE]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def query_of(q: Question) -> str:
    """What a user's question becomes before retrieval: a follow-up resolved with its history."""
    history = [Turn("user", h) for h in q.history]
    return standalone_question(q.question, history)


class EvidenceLocator:
    """Which passages hold a question's evidence, by the passages' offsets in their files."""

    def __init__(self, passages: Sequence[Passage], corpus_dir: Path) -> None:
        self.by_file: dict[str, list[Passage]] = {}
        for p in passages:
            self.by_file.setdefault(Path(p.source).name, []).append(p)
        self.texts = {name: read_source(corpus_dir / name) for name in self.by_file}

    def positives(self, q: Question) -> list[Passage]:
        """Passages overlapping an evidence quote as much as the evaluation needs for a hit."""
        out: dict[str, Passage] = {}
        for e in q.evidence:
            name = Path(e.doc).name
            text = self.texts.get(name, "")
            start = text.find(e.quote)
            while start >= 0:
                end = start + len(e.quote)
                for p in self.by_file.get(name, []):
                    if _enough(p, start, end):
                        out[p.id] = p
                start = text.find(e.quote, start + 1)
        return list(out.values())


def _enough(p: Passage, start: int, end: int) -> bool:
    """The evaluation's relevance (``metrics.is_relevant``), on offsets: the passage holds the
    quote, or 60% of it (at most 120 characters, at least 40), or lies inside it (40+)."""
    overlap = min(p.end, end) - max(p.start, start)
    if overlap <= 0:
        return False
    length = end - start
    needed = max(math.ceil(min(0.6 * length, 120)), min(length, 40))
    inside = start <= p.start and p.end <= end and p.end - p.start >= 40
    return overlap >= needed or inside


def mine_triples(
    questions: Sequence[Question],
    locator: EvidenceLocator,
    search: Search,
    seed: int,
    depth: int = 10,
    pick_from: int = 5,
) -> list[Triple]:
    """One triple per (answerable question, positive passage); the negative is drawn (seeded)
    from the first ``pick_from`` passages of the retriever's top ``depth`` that hold none of the
    question's evidence and do not overlap a positive."""
    rng = random.Random(seed)
    out: list[Triple] = []
    for q in questions:
        if not q.answerable:
            continue
        positives = locator.positives(q)
        if not positives:
            continue
        query = query_of(q)
        pos_ids = {p.id for p in positives}
        hard = [
            p for p in search(query, depth)
            if p.id not in pos_ids and not any(_overlaps(p, x) for x in positives)
        ][:pick_from]  # fmt: skip
        if not hard:
            continue
        for p in positives:
            out.append(Triple(q.id, query, p, rng.choice(hard)))
    return out


def _overlaps(a: Passage, b: Passage) -> bool:
    return a.source == b.source and a.start < b.end and b.start < a.end
