"""A run against an earlier one (its ``report.json``), and the quality gate for CI.

``compare`` says, metric by metric, what moved, and, question by question, which metrics a
question now passes that it failed before (improved) or fails that it passed (regressed).
``gate`` checks ``--fail-under metric=value`` / ``--fail-over metric=value`` thresholds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.evaluation.scoreboard import BY_KEY, METRICS, Metric

SAME = 0.005  # a change smaller than this shows as no change (the table has two decimals)


@dataclass(frozen=True)
class MetricChange:
    """A metric overall, before and now."""

    metric: Metric
    before: float | None
    now: float | None

    @property
    def delta(self) -> float | None:
        if self.before is None or self.now is None:
            return None
        return self.now - self.before

    @property
    def better(self) -> bool | None:
        """Whether the change is for the better (None: unchanged or not comparable)."""
        if self.delta is None or abs(self.delta) < SAME:
            return None
        return (self.delta < 0) if self.metric.lower_is_better else (self.delta > 0)


@dataclass(frozen=True)
class QuestionChange:
    """One question whose pass/fail changed on some metric."""

    id: str
    type: str
    question: str
    fixed: tuple[str, ...]  # metrics it passes now and failed before
    broken: tuple[str, ...]  # metrics it fails now and passed before


@dataclass(frozen=True)
class Comparison:
    """This run against the report at ``previous``."""

    previous: str
    metrics: list[MetricChange]
    improved: list[QuestionChange] = field(default_factory=list)
    regressed: list[QuestionChange] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # question ids new in this run
    removed: list[str] = field(default_factory=list)  # question ids only in the previous run


def load_report(path: Path) -> dict[str, Any]:
    """A previous ``report.json`` (a folder holding one will do)."""
    path = path / "report.json" if path.is_dir() else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AssistantError(
            f"cannot read the report to compare with, {path} ({exc}); pass a report.json "
            "written by `assistant eval`."
        ) from None
    if not isinstance(data, dict) or "summary" not in data or "questions" not in data:
        raise AssistantError(f"{path} is not a report.json written by `assistant eval`.")
    return data


def primary_mode(report: dict[str, Any]) -> str:
    modes = report.get("modes") or ["hybrid"]
    return "hybrid" if "hybrid" in modes else str(modes[-1])


def compare(now: dict[str, Any], before: dict[str, Any], previous: str = "") -> Comparison:
    """This run's report data against an earlier one's (both as in ``report.json``)."""
    mode_now, mode_before = primary_mode(now), primary_mode(before)
    overall_now, overall_before = now["summary"]["overall"], before["summary"]["overall"]
    changes = [
        MetricChange(m, m.value(overall_before, mode_before), m.value(overall_now, mode_now))
        for m in METRICS
    ]
    old = {q["id"]: q for q in before["questions"]}
    new = {q["id"]: q for q in now["questions"]}
    moved = [_question_change(new[i], old[i]) for i in new if i in old]
    return Comparison(
        previous=previous,
        metrics=changes,
        improved=[c for c in moved if c.fixed and not c.broken],
        regressed=[c for c in moved if c.broken],
        added=[i for i in new if i not in old],
        removed=[i for i in old if i not in new],
    )


def _question_change(now: dict[str, Any], before: dict[str, Any]) -> QuestionChange:
    a, b = before.get("passes", {}), now.get("passes", {})
    return QuestionChange(
        id=now["id"],
        type=now.get("type", ""),
        question=now.get("question", ""),
        fixed=tuple(m for m in b if b[m] is True and a.get(m) is False),
        broken=tuple(m for m in b if b[m] is False and a.get(m) is True),
    )


@dataclass(frozen=True)
class Threshold:
    """``metric=value`` from the command line: the overall score must not fall below/rise above."""

    metric: Metric
    value: float
    under: bool  # True: --fail-under (the score must be >= value); False: --fail-over


def parse_threshold(text: str, under: bool = True) -> Threshold:
    """``"key_fact_recall=0.4"`` as a Threshold; an AssistantError names what is wrong."""
    name, sep, number = text.partition("=")
    metric = BY_KEY.get(name.strip())
    if not sep or metric is None:
        known = ", ".join(BY_KEY)
        raise AssistantError(f"'{text}' is not metric=value; the metrics are: {known}.")
    try:
        return Threshold(metric, float(number), under)
    except ValueError:
        raise AssistantError(f"'{number}' in '{text}' is not a number.") from None


def gate(summary: dict[str, Any], mode: str, thresholds: Sequence[Threshold]) -> list[str]:
    """Why the run fails the thresholds (empty when it passes), one sentence each."""
    failures = []
    for t in thresholds:
        value = t.metric.value(summary["overall"], mode)
        key = t.metric.key
        if value is None:
            failures.append(f"{key} was not measured on these questions (threshold {t.value}).")
        elif t.under and value < t.value:
            failures.append(f"{key} is {value:.3f}, under the threshold {t.value}.")
        elif not t.under and value > t.value:
            failures.append(f"{key} is {value:.3f}, over the threshold {t.value}.")
    return failures
