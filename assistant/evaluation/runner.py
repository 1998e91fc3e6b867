"""Run a question set through an assistant and score every question, then sum the scores up.

The assistant is anything with ``retrieve`` and ``ask`` as in :class:`QA`, so tests pass a small
fake. A follow-up is run as a chat: its history questions are asked first, oldest first, and
their answers kept as the history of the question itself.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tqdm import tqdm

from assistant.conversation import History
from assistant.corpus import read_source, resolve_source
from assistant.errors import (
    AssistantError,
    IngestError,
    ModelError,
    StoreError,
    StoreLockedError,
)
from assistant.evaluation import metrics
from assistant.evaluation.intervals import bootstrap_interval
from assistant.evaluation.questions import Question
from assistant.retrieval import Mode
from assistant.types import Answer, Citation, Passage

COMPARE_MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
K = 10
# Errors no later question can escape: stop the run instead of failing every question.
FATAL = (StoreError, StoreLockedError, ModelError)


class QA(Protocol):
    """What the runner needs of an assistant (``assistant.api.Assistant`` has it)."""

    def retrieve(
        self,
        question: str,
        *,
        k: int = ...,
        history: History | None = ...,
        mode: Mode = ...,
    ) -> list[Passage]: ...

    def ask(self, question: str, *, history: History | None = ..., mode: Mode = ...) -> Answer: ...


@dataclass(frozen=True)
class RetrievalScores:
    """Ranking scores of one question's top ``K`` passages in one retrieval mode."""

    hit1: float
    hit4: float
    hit10: float
    rr: float
    ndcg: float
    relevant_ranks: tuple[int, ...] = ()
    evidence_ranks: tuple[int | None, ...] = ()  # per evidence quote: first rank holding it


@dataclass(frozen=True)
class QuestionResult:
    """Everything measured for one question. ``None`` marks a metric that does not apply."""

    question: Question
    answer_text: str = ""
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    latency: float | None = None
    retrieval: dict[str, RetrievalScores] = field(default_factory=dict)
    recall: float | None = None
    words: int | None = None
    citation_problems: tuple[str, ...] = ()
    supported: bool | None = None
    error: str = ""

    @property
    def citations_valid(self) -> bool | None:
        return None if self.error else not self.citation_problems

    def passes(self, mode: str = "hybrid") -> dict[str, bool | None]:
        """Pass/fail per metric; ``None`` where the metric does not apply."""
        scores = self.retrieval.get(mode)
        return {
            "retrieval": None if scores is None else scores.hit10 > 0,
            "key facts": None if self.recall is None else self.recall >= 1.0,
            "citations": False if self.error else self.citations_valid,
            "support": self.supported,
            "abstention": False if self.error else self.abstained != self.question.answerable,
        }


@dataclass(frozen=True)
class EvalRun:
    """A finished run: the results, and what the report needs to say about the run."""

    results: list[QuestionResult]
    modes: tuple[Mode, ...] = ("hybrid",)
    errors: list[str] = field(default_factory=list)  # malformed lines of the question set
    questions_path: str = ""
    answerer: str = "default"
    seconds: float = 0.0

    @property
    def primary_mode(self) -> Mode:
        return "hybrid" if "hybrid" in self.modes else self.modes[-1]

    def summary(self) -> dict[str, Any]:
        return summarize(self.results, self.modes)


def source_reader() -> metrics.SourceReader:
    """A cached reader of source files by their ``source`` path, as citations name them."""

    @functools.cache
    def read(source: str) -> str:
        try:
            return read_source(resolve_source(source))
        except IngestError as exc:
            raise ValueError(str(exc)) from None

    return read


def score_retrieval(passages: Sequence[Passage], quotes: Sequence[str]) -> RetrievalScores:
    """Ranking scores of passages (best first) against a question's evidence quotes."""
    texts = [p.text for p in passages[:K]]
    rel = metrics.relevance(texts, quotes)
    return RetrievalScores(
        hit1=metrics.hit_at(rel, 1),
        hit4=metrics.hit_at(rel, 4),
        hit10=metrics.hit_at(rel, 10),
        rr=metrics.reciprocal_rank(rel, K),
        ndcg=metrics.ndcg(rel, len(quotes), K),
        relevant_ranks=tuple(i for i, r in enumerate(rel, start=1) if r),
        evidence_ranks=tuple(_first_rank(texts, q) for q in quotes),
    )


def _first_rank(texts: Sequence[str], quote: str) -> int | None:
    return next((i for i, t in enumerate(texts, start=1) if metrics.is_relevant(t, quote)), None)


def score_answer(
    q: Question, answer: Answer, read: metrics.SourceReader, latency: float | None = None
) -> QuestionResult:
    """Answer scores of one question (retrieval is added by the caller)."""
    answered = q.answerable and bool(q.evidence) and not answer.abstained
    return QuestionResult(
        question=q,
        answer_text=answer.text,
        citations=tuple(answer.citations),
        abstained=answer.abstained,
        latency=latency,
        recall=metrics.key_fact_recall(answer.text, q.must_include),
        words=metrics.answer_words(answer.text),
        citation_problems=tuple(metrics.citation_problems(answer.text, answer.citations, read)),
        supported=metrics.is_supported(answer.citations, q.quotes, read) if answered else None,
    )


def chat_history(qa: QA, questions: Iterable[str]) -> History:
    """Ask earlier questions in turn, each with the history so far; return the whole chat."""
    history: History = []
    for text in questions:
        answer = qa.ask(text, history=history or None)
        # a new list each turn: the assistant may keep the one it was given
        history = [
            *history,
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer.text},
        ]
    return history


def run_question(
    qa: QA, q: Question, modes: Sequence[Mode], read: metrics.SourceReader
) -> QuestionResult:
    """Ask one question (after its history) and score retrieval in every mode and the answer.

    Raises:
        AssistantError: one of :data:`FATAL`; any other ``AssistantError`` is recorded in the
            result's ``error`` and counts as a failure.
    """
    try:
        history = chat_history(qa, q.history) or None
        retrieval: dict[str, RetrievalScores] = {
            mode: score_retrieval(
                qa.retrieve(q.question, k=K, history=history, mode=mode), q.quotes
            )
            for mode in (modes if q.evidence else ())
        }
        started = time.perf_counter()
        answer = qa.ask(q.question, history=history)
        latency = time.perf_counter() - started
    except FATAL:
        raise
    except AssistantError as exc:
        return failed(q, f"{type(exc).__name__}: {exc}")
    return replace(score_answer(q, answer, read, latency), retrieval=retrieval)


def failed(q: Question, error: str) -> QuestionResult:
    """The result of a question that could not be run: every applicable metric fails."""
    return QuestionResult(
        question=q,
        recall=0.0 if q.must_include else None,
        supported=False if q.answerable and q.evidence else None,
        error=error,
    )


def run_questions(
    qa: QA,
    questions: Sequence[Question],
    modes: Sequence[Mode] = ("hybrid",),
    read: metrics.SourceReader | None = None,
    progress: bool = True,
) -> list[QuestionResult]:
    """Run every question in order, with a progress bar on stderr.

    Args:
        qa: the assistant.
        questions: the question set.
        modes: retrieval modes to score; ``COMPARE_MODES`` compares dense, BM25 and hybrid.
        read: reads a citation's source file; defaults to the corpus files.
        progress: show the progress bar.
    """
    read = read or source_reader()
    bar = tqdm(questions, desc="eval", unit="q", file=sys.stderr, disable=not progress)
    return [run_question(qa, q, modes, read) for q in bar]


def retrieval_values(results: Sequence[QuestionResult], mode: str) -> dict[str, list[float]]:
    """Each ranking score of one mode, one value per question that has evidence."""
    scored = [r.retrieval[mode] for r in results if mode in r.retrieval]
    return {
        "hit@1": [s.hit1 for s in scored],
        "hit@4": [s.hit4 for s in scored],
        "hit@10": [s.hit10 for s in scored],
        "mrr@10": [s.rr for s in scored],
        "ndcg@10": [s.ndcg for s in scored],
    }


def rate_values(results: Sequence[QuestionResult]) -> dict[str, list[float]]:
    """Each answer rate, one value per question it applies to (1.0 / 0.0 for yes / no)."""
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    return {
        "key_fact_recall": [r.recall for r in results if r.recall is not None],
        "citation_validity": [float(r.citations_valid is True) for r in results],
        "support": [float(r.supported) for r in results if r.supported is not None],
        "abstention_rate": [float(r.abstained) for r in unanswerable],
        "false_abstention_rate": [float(r.abstained) for r in answerable],
    }


def summary_block(results: Sequence[QuestionResult], modes: Sequence[str]) -> dict[str, Any]:
    """Every metric over a group of results (all questions, or one type).

    ``ci`` mirrors the block: the 95% interval of every rate (see :mod:`.intervals`).
    """
    latencies = [r.latency for r in results if r.latency is not None]
    retrieval = {mode: retrieval_values(results, mode) for mode in modes}
    rates = rate_values(results)
    return {
        "questions": len(results),
        "errors": sum(bool(r.error) for r in results),
        "retrieval": {
            mode: {"n": len(values["hit@1"]), **_means(values)}
            for mode, values in retrieval.items()
        },
        **_means(rates),
        "answer_words": metrics.mean(r.words for r in results),
        "latency_p50": metrics.percentile(latencies, 50),
        "latency_p95": metrics.percentile(latencies, 95),
        "ci": {
            "retrieval": {mode: _intervals(values) for mode, values in retrieval.items()},
            **_intervals(rates),
        },
    }


def _means(values: dict[str, list[float]]) -> dict[str, float | None]:
    return {name: metrics.mean(v) for name, v in values.items()}


def _intervals(values: dict[str, list[float]]) -> dict[str, tuple[float, float] | None]:
    return {name: bootstrap_interval(v) for name, v in values.items()}


def summarize(results: Sequence[QuestionResult], modes: Sequence[str]) -> dict[str, Any]:
    """Metrics overall and per question type."""
    types = sorted({r.question.type for r in results})
    return {
        "overall": summary_block(results, modes),
        "by_type": {
            t: summary_block([r for r in results if r.question.type == t], modes) for t in types
        },
    }
