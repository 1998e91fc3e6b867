"""The ``assistant eval`` subcommand: validate a question set, or run it and write a report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.evaluation.compare import (
    Comparison,
    Threshold,
    compare,
    gate,
    load_report,
    parse_threshold,
)
from assistant.evaluation.questions import Question, check_questions, load_questions
from assistant.evaluation.report import interval_rows, report_data, summary_rows, write_report
from assistant.evaluation.runner import COMPARE_MODES, EvalRun, run_questions
from assistant.evaluation.scoreboard import BY_KEY
from assistant.retrieval import Mode
from assistant.settings import PROJECT_ROOT, Settings

DEFAULT_OUT = PROJECT_ROOT / "eval" / "report"


def add_eval_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand; its ``func`` default is :func:`run_eval`."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate retrieval, answers and citations on a question set",
        description="Run a JSONL question set (a file or a folder of .jsonl files) and write "
        "report.json, report.md, report.html and scores.png (failures first, each with why; "
        "95%% intervals on every rate); compare with an earlier report; fail under thresholds "
        "for CI; or, with --check, validate the set.",
    )
    parser.add_argument("--questions", type=Path, metavar="FILE", help="questions to run")
    parser.add_argument(
        "--check", type=Path, metavar="FILE", help="only validate FILE against the corpus"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help="report folder"
    )
    parser.add_argument(
        "--answerer", choices=["default", "llm"], default=None, help="answerer (default: settings)"
    )
    parser.add_argument(
        "--compare", action="store_true", help="score dense, BM25 and hybrid retrieval"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="run only the first N questions")
    parser.add_argument("--types", metavar="A,B", help="run only questions of these types")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--compare-to", type=Path, metavar="REPORT",
        help="an earlier report.json (or its folder): show what improved and what regressed",
    )  # fmt: skip
    parser.add_argument(
        "--fail-under", action="append", default=[], metavar="METRIC=VALUE",
        help="exit 3 when an overall score is under VALUE, e.g. key_fact_recall=0.4 "
        "(repeatable; metrics: " + ", ".join(BY_KEY) + ")",
    )  # fmt: skip
    parser.add_argument(
        "--fail-over", action="append", default=[], metavar="METRIC=VALUE",
        help="exit 3 when an overall score is over VALUE, e.g. false_abstention_rate=0.15",
    )  # fmt: skip
    parser.set_defaults(func=run_eval)
    return parser


def run_eval(args: argparse.Namespace) -> int:
    """Run ``assistant eval``; returns the exit code.

    0: done; 1: malformed lines or the run failed; 2: usage; 3: a --fail-under/--fail-over
    threshold was not met.
    """
    overrides = {"answerer": args.answerer} if args.answerer else {}
    settings = Settings(**overrides)
    if args.check:
        return _check(args.check, [settings.corpus_dir])
    if not args.questions:
        print("error: pass --questions FILE to run, or --check FILE to validate.", file=sys.stderr)
        return 2
    try:
        thresholds = [parse_threshold(t) for t in args.fail_under]
        thresholds += [parse_threshold(t, under=False) for t in args.fail_over]
        previous = load_report(args.compare_to) if args.compare_to else None
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    questions, errors = load_questions(args.questions)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    questions = select(questions, args.types, args.limit)
    if not questions:
        print("error: no questions to run; check the file and --types.", file=sys.stderr)
        return 1
    try:
        run = _run(args, settings, questions, errors)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    failures = _report(run, args.out, previous, args.compare_to, thresholds)
    if failures:
        return 3
    return 1 if errors else 0


def _report(
    run: EvalRun,
    out: Path,
    previous: dict[str, Any] | None,
    previous_path: Path | None,
    thresholds: list[Threshold],
) -> list[str]:
    """Write and print the report (and the comparison); returns the thresholds not met."""
    summary = run.summary()
    comparison = None
    if previous is not None:
        comparison = compare(report_data(run, summary), previous, str(previous_path))
    paths = write_report(run, out, comparison)
    _print_summary(summary, run.primary_mode)
    if comparison:
        _print_comparison(comparison)
    print("report: " + ", ".join(str(p) for p in paths))
    failures = gate(summary, run.primary_mode, thresholds)
    for failure in failures:
        print(f"quality gate: {failure}", file=sys.stderr)
    return failures


def select(questions: list[Question], types: str | None, limit: int | None) -> list[Question]:
    """The questions of the given comma-separated types, then the first ``limit`` of them."""
    if types:
        wanted = {t.strip() for t in types.split(",") if t.strip()}
        questions = [q for q in questions if q.type in wanted]
    return questions[:limit] if limit is not None else questions


def _check(path: Path, corpus_dirs: list[Path]) -> int:
    problems = check_questions(path, corpus_dirs)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {path}; fix them and run --check again.")
        return 1
    count = len(load_questions(path)[0])
    print(f"{path}: {count} questions, every quote verbatim and every key fact in its evidence.")
    return 0


def _run(
    args: argparse.Namespace, settings: Settings, questions: list[Question], errors: list[str]
) -> EvalRun:
    from assistant.api import Assistant  # lazy: loads the model and the store

    qa = Assistant(settings)
    modes: tuple[Mode, ...] = COMPARE_MODES if args.compare else ("hybrid",)
    started = time.perf_counter()
    results = run_questions(qa, questions, modes, progress=not args.no_progress)
    return EvalRun(
        results=results,
        modes=modes,
        errors=errors,
        questions_path=str(args.questions),
        answerer=settings.answerer,
        seconds=time.perf_counter() - started,
    )


def _print_summary(summary: dict[str, Any], mode: str) -> None:
    _header, rows = summary_rows(summary, mode)
    intervals = interval_rows(summary, mode)
    width = max(len(row[0]) for row in rows)
    for row, ci in zip(rows, intervals, strict=True):
        print(f"{row[0]:<{width}}  {row[1]:>5}  {f'({ci[0]})' if ci[0] else ''}")


def _print_comparison(c: Comparison) -> None:
    print(f"compared with {c.previous}: {len(c.improved)} question(s) improved, "
          f"{len(c.regressed)} regressed")  # fmt: skip
    for q in c.regressed:
        print(f"  regressed {q.id} ({q.type}): now fails {', '.join(q.broken)}")
