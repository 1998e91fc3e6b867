"""Evaluation: a JSONL question set, metrics, a runner over the assistant, and reports.

``assistant eval --questions FILE`` runs it (see :mod:`assistant.evaluation.cli`).
"""

from assistant.evaluation.questions import (
    Evidence,
    Question,
    check_questions,
    load_questions,
)
from assistant.evaluation.report import write_report
from assistant.evaluation.runner import (
    COMPARE_MODES,
    QA,
    EvalRun,
    QuestionResult,
    RetrievalScores,
    run_question,
    run_questions,
    summarize,
)

__all__ = [
    "COMPARE_MODES",
    "QA",
    "EvalRun",
    "Evidence",
    "Question",
    "QuestionResult",
    "RetrievalScores",
    "check_questions",
    "load_questions",
    "run_question",
    "run_questions",
    "summarize",
    "write_report",
]
