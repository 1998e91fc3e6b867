"""The metrics a report shows, by name: how to read each from a summary block.

A summary block is what :func:`assistant.evaluation.runner.summary_block` returns (overall,
or one question type); its ``ci`` mirrors it with the 95% interval of every rate. The names
here are what ``--fail-under`` and ``--fail-over`` take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RANKING = ("hit@1", "hit@4", "hit@10", "mrr@10", "ndcg@10")
RANKING_LABELS = {"mrr@10": "MRR@10", "ndcg@10": "nDCG@10"}
MODE_LABELS = {"dense": "dense", "lexical": "BM25", "hybrid": "hybrid"}


@dataclass(frozen=True)
class Metric:
    """One row of the report: its name, label, format and which way is better."""

    key: str
    label: str
    kind: str = "score"  # "score" (0-1), "int" or "float"
    retrieval: bool = False  # read from block["retrieval"][mode]
    rate: bool = False  # has a confidence interval
    lower_is_better: bool = False

    def value(self, block: dict[str, Any], mode: str) -> Any:
        """The metric in a summary block, retrieval scores in ``mode``; None if not measured."""
        if self.retrieval:
            return block["retrieval"].get(mode, {}).get(self.key)
        return block.get(self.key)

    def interval(self, block: dict[str, Any], mode: str) -> tuple[float, float] | None:
        """The 95% interval of the metric, when it is a rate and was measured."""
        ci = block.get("ci")
        if not self.rate or not ci:
            return None
        found = ci["retrieval"].get(mode, {}).get(self.key) if self.retrieval else ci.get(self.key)
        return (float(found[0]), float(found[1])) if found else None


METRICS: tuple[Metric, ...] = (
    Metric("questions", "questions", "int"),
    *(Metric(n, f"retrieval {RANKING_LABELS.get(n, n)}", retrieval=True, rate=True)
      for n in RANKING),
    Metric("key_fact_recall", "key-fact recall", rate=True),
    Metric("answer_words", "answer length (words)", "float"),
    Metric("citation_validity", "citation validity", rate=True),
    Metric("support", "citation support", rate=True),
    Metric("abstention_rate", "abstention on unanswerable", rate=True),
    Metric("false_abstention_rate", "false abstention on answerable", rate=True,
           lower_is_better=True),
    Metric("latency_p50", "latency p50 (s)", "float", lower_is_better=True),
    Metric("latency_p95", "latency p95 (s)", "float", lower_is_better=True),
    Metric("errors", "errors", "int", lower_is_better=True),
)  # fmt: skip
BY_KEY = {m.key: m for m in METRICS}


def fmt(value: Any, kind: str = "score") -> str:
    """A metric for a table: an integer, a number, or a dash when it does not apply."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "int":
        return str(int(value))
    if kind == "float" and value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_interval(interval: tuple[float, float] | None) -> str:
    """``0.61–0.86``, or empty when there is no interval."""
    return f"{interval[0]:.2f}–{interval[1]:.2f}" if interval else ""
