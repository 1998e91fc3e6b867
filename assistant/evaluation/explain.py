"""Why a question passed or failed, in the terms a reader of the report checks it by.

For each question: its outcome (error, fail, pass), the metrics it failed and, for each, the
reason: the key facts the answer missed, where the expected evidence ranked, whether it
abstained, which citation was wrong, and what it cited instead; with the reference answer
beside it. The report lists failures first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.evaluation.metrics import contains_fact, fact_alternatives
from assistant.evaluation.runner import K, QuestionResult
from assistant.markup import plain_text

OUTCOME_ORDER = {"error": 0, "fail": 1, "pass": 2}


@dataclass(frozen=True)
class RankedEvidence:
    """An evidence quote and the rank of the first retrieved passage that holds it."""

    doc: str
    quote: str
    rank: int | None  # None: not in the top K


@dataclass(frozen=True)
class Cited:
    """A citation of the answer, shortened for the report."""

    n: int
    source: str  # the file name
    start: int
    end: int
    quote: str  # markup removed


@dataclass(frozen=True)
class Diagnosis:
    """One question as the report shows it."""

    id: str
    type: str
    question: str
    history: tuple[str, ...]
    outcome: str  # "error", "fail" or "pass"
    failed: tuple[str, ...]  # the metrics it failed, in the order of QuestionResult.passes
    reasons: tuple[str, ...]  # one sentence per failed metric
    missed_facts: tuple[str, ...]
    evidence: tuple[RankedEvidence, ...]
    reference: str
    answer: str
    abstained: bool
    cited: tuple[Cited, ...]
    citation_problems: tuple[str, ...]
    error: str


def diagnose(r: QuestionResult, mode: str) -> Diagnosis:
    """Outcome and reasons of one question, retrieval judged in ``mode``."""
    q = r.question
    failed = tuple(name for name, ok in r.passes(mode).items() if ok is False)
    outcome = "error" if r.error else ("fail" if failed else "pass")
    missed = tuple(f for f in q.must_include if not contains_fact(r.answer_text, f))
    scores = r.retrieval.get(mode)
    ranks = scores.evidence_ranks if scores else ()
    evidence = tuple(
        RankedEvidence(e.doc, e.quote, ranks[i] if i < len(ranks) else None)
        for i, e in enumerate(q.evidence)
    )
    cited = tuple(
        Cited(c.n, Path(c.source).name, c.start, c.end, " ".join(plain_text(c.quote).split()))
        for c in r.citations
    )
    d = Diagnosis(
        id=q.id, type=q.type, question=q.question, history=q.history, outcome=outcome,
        failed=failed, reasons=(), missed_facts=missed, evidence=evidence,
        reference=q.reference, answer=r.answer_text, abstained=r.abstained, cited=cited,
        citation_problems=r.citation_problems, error=r.error,
    )  # fmt: skip
    return replace(d, reasons=tuple(_reason(d, m, mode) for m in failed))


def _reason(d: Diagnosis, metric: str, mode: str) -> str:
    """Why ``d`` failed ``metric``, in one sentence."""
    if d.error:
        return f"{metric}: the question could not be run ({d.error})."
    if metric == "retrieval":
        return f"retrieval: no evidence quote in the top {K} passages ({mode})."
    if metric == "key facts":
        facts = ", ".join(f"“{fact_alternatives(f)[0]}”" for f in d.missed_facts)
        return f"key facts: the answer misses {facts}."
    if metric == "citations":
        return "citations: " + "; ".join(d.citation_problems) + "."
    if metric == "support":
        if d.abstained:
            return "support: it abstained, so nothing it cited overlaps the evidence."
        return "support: no cited quote overlaps an evidence quote."
    if metric == "abstention":
        if d.abstained:
            return "abstention: it said the documents do not answer, but they do."
        return "abstention: it answered, but the documents do not answer this question."
    return f"{metric}: failed."


def diagnoses(results: Sequence[QuestionResult], mode: str) -> list[Diagnosis]:
    """Every question's diagnosis: errors, then failures, then passes, each in file order."""
    found = [diagnose(r, mode) for r in results]
    return sorted(found, key=lambda d: OUTCOME_ORDER[d.outcome])
