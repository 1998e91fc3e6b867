"""The ``assistant eval`` subcommand: validate a question set, or run it and write a report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from assistant.errors import AssistantError
from assistant.evaluation.questions import Question, check_questions, load_questions
from assistant.evaluation.report import summary_rows, write_report
from assistant.evaluation.runner import COMPARE_MODES, EvalRun, Mode, run_questions
from assistant.settings import PROJECT_ROOT, Settings

DEFAULT_OUT = PROJECT_ROOT / "eval" / "report"
SHARED_CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"


def add_eval_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand; its ``func`` default is :func:`run_eval`."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate retrieval, answers and citations on a question set",
        description="Run a JSONL question set (a file or a folder of .jsonl files) and write "
        "report.json, report.md, report.html and scores.png; or, with --check, validate it.",
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
    parser.set_defaults(func=run_eval)
    return parser


def run_eval(args: argparse.Namespace) -> int:
    """Run ``assistant eval``; returns the exit code (0 ok, 1 problems, 2 usage)."""
    overrides = {"answerer": args.answerer} if args.answerer else {}
    settings = Settings(**overrides)
    if args.check:
        return _check(args.check, [settings.corpus_dir, SHARED_CORPUS])
    if not args.questions:
        print("error: pass --questions FILE to run, or --check FILE to validate.", file=sys.stderr)
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
    paths = write_report(run, args.out)
    _print_summary(run)
    print("report: " + ", ".join(str(p) for p in paths))
    return 1 if errors else 0


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


def _print_summary(run: EvalRun) -> None:
    _header, rows = summary_rows(run.summary(), run.primary_mode)
    width = max(len(row[0]) for row in rows)
    for row in rows:
        print(f"{row[0]:<{width}}  {row[1]}")
