"""The ``assistant bench`` subcommand: ingest and query figures next to plain LangChain, and
the same figures on larger corpora made from ours.

The measuring code lives in the repository's ``benchmarks/`` folder, which the package does not
import: ``assistant bench <what>`` runs ``python -m benchmarks.<module>`` in the checkout that
holds the working directory, as a child process with the same options. See
``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# What each ``bench`` command runs: ``python -m benchmarks.<module>``.
MODULES = {"ingest": "ingest_bench", "query": "query_bench", "all": "all_bench",
           "scale": "scale_bench", "scale-corpus": "scale_corpus"}  # fmt: skip
QUESTIONS = Path("eval") / "questions" / "dev.jsonl"  # in the checkout
NOT_A_CHECKOUT = (
    "error: `assistant bench` runs the benchmarks of a checkout of the repository, and {cwd} "
    "is not inside one (no benchmarks/{module}.py above it); cd into the checkout and run it "
    "again."
)


def add_bench_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``bench ingest|query|all|scale|scale-corpus`` to the ``assistant`` command."""
    parser = sub.add_parser(
        "bench",
        help="benchmark ingest or query speed against the plain LangChain pipeline",
        description="Time our pipeline and the plain LangChain one (RecursiveCharacterTextSplitter "
        "1000/200 + the same MiniLM + Chroma) in temporary folders, print a table, and write "
        "the figures as JSON to benchmarks/results/. `scale` measures ours on larger corpora.",
    )
    what = parser.add_subparsers(dest="bench", required=True, metavar="WHAT")

    s = what.add_parser("ingest", help="full ingest, unchanged re-ingest, peak memory",
                        description="Each pipeline runs in its own new process per run.")  # fmt: skip
    s.add_argument("--runs", type=_positive, default=1, help="runs; medians are printed (1)")
    s.add_argument("--corpus", type=Path, metavar="DIR", help="corpus folder (setting corpus_dir)")
    _common_options(s)
    s.set_defaults(func=cmd_bench_ingest)

    s = what.add_parser("query", help="warm retrieve/ask p50 and p95, and cold start",
                        description="Questions with a history are skipped.")  # fmt: skip
    s.add_argument("--runs", type=_positive, default=3, help="cold starts; median printed (3)")
    _query_options(s)
    s.set_defaults(func=cmd_bench_query)

    s = what.add_parser("all", help="ingest and query in one session, one table",
                        description="`bench ingest` then `bench query`; one combined table "
                        "and the bare model's words/s on this machine.")  # fmt: skip
    s.add_argument("--runs", type=_positive, default=3,
                   help="ingest runs and cold starts; medians printed (3)")  # fmt: skip
    _query_options(s)
    s.set_defaults(func=cmd_bench_all)
    _add_scale_parsers(what)
    return parser


def _add_scale_parsers(what: Any) -> None:
    s = what.add_parser("scale", help="ours at 10x real and 100x simulated",
                        description="Real ingest of our corpus and an N-times one, warm "
                        "retrieve/ask on both, and an M-times store built with stand-in "
                        "vectors (see benchmarks/README.md).")  # fmt: skip
    s.add_argument("--real", type=_factor, default=10.0,
                   help="factor ingested for real (10; 0: none)")  # fmt: skip
    s.add_argument("--sim", type=_factor, default=100.0,
                   help="factor built with stand-in vectors (100; 0: none)")  # fmt: skip
    s.add_argument("--seed", type=int, default=0, help="seed of the generated corpora (0)")
    _query_options(s)
    s.set_defaults(func=cmd_bench_scale)

    s = what.add_parser("scale-corpus", help="write an N-times corpus made from ours",
                        description="Copies of every document, perturbed so that passages "
                        "differ, with a manifest (benchmarks/scale_corpus.py).")  # fmt: skip
    s.add_argument("dest", type=Path, help="new or empty folder")
    s.add_argument("--factor", type=_factor, default=10.0, help="copies of the corpus (10)")
    s.add_argument("--seed", type=int, default=0, help="random seed (0)")
    s.add_argument("--corpus", type=Path, metavar="DIR", help="corpus folder (setting corpus_dir)")
    s.set_defaults(func=cmd_bench_scale_corpus)


def _query_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--questions", type=Path, metavar="FILE",
                   help="JSONL question set (eval/questions/dev.jsonl of the checkout)")  # fmt: skip
    s.add_argument("--limit", type=_positive, default=40, help="questions timed warm (40)")
    s.add_argument("--corpus", type=Path, metavar="DIR", help="corpus folder (setting corpus_dir)")
    _common_options(s)


def _common_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--out", type=Path, metavar="DIR", help="results folder (benchmarks/results)")
    s.add_argument("--threads", type=_positive, metavar="N",
                   help="torch threads here and in every child process (default: torch's)")  # fmt: skip


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _factor(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def checkout(start: Path, module: str) -> Path | None:
    """The repository checkout holding ``start``: the nearest folder with
    ``benchmarks/<module>.py`` (None outside one)."""
    for folder in (start, *start.parents):
        if (folder / "benchmarks" / f"{module}.py").is_file():
            return folder
    return None


def _root(what: str) -> Path | None:
    """The checkout to run ``what`` in, or None (with the message saying what to do)."""
    root = checkout(Path.cwd().resolve(), MODULES[what])
    if root is None:
        print(NOT_A_CHECKOUT.format(cwd=Path.cwd(), module=MODULES[what]), file=sys.stderr)
    return root


def run_benchmark(what: str, options: list[str]) -> int:
    """``python -m benchmarks.<module> <options>`` in the checkout; its exit code."""
    root = _root(what)
    if root is None:
        return 2
    paths = [str(root), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    argv = [sys.executable, "-m", f"benchmarks.{MODULES[what]}", *options]
    return subprocess.run(argv, cwd=root, env=env, check=False).returncode


def _path(value: Path | None) -> Path | None:
    """An option's path made absolute here: the benchmark runs in the checkout's folder."""
    return None if value is None else value.expanduser().resolve()


def _options(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """``--name value`` for each of ``names`` that ``args`` sets (paths made absolute)."""
    out: list[str] = []
    for name in names:
        value = getattr(args, name, None)
        if isinstance(value, Path):
            value = _path(value)
        if value is not None:
            out += [f"--{name}", str(value)]
    return out


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    """``assistant bench ingest``; returns the exit code."""
    return run_benchmark("ingest", _options(args, ("corpus", "runs", "out", "threads")))


def _query_like(args: argparse.Namespace, what: str, names: tuple[str, ...]) -> int:
    """A benchmark that reads the question file: checked here first, for a clear message."""
    root = _root(what)
    if root is None:
        return 2
    questions = _path(args.questions) or root / QUESTIONS
    if not questions.is_file():
        print(f"error: no question file at {questions}; pass --questions FILE.", file=sys.stderr)
        return 2
    options = ["--questions", str(questions), *_options(args, names)]
    return run_benchmark(what, options)


def cmd_bench_query(args: argparse.Namespace) -> int:
    """``assistant bench query``; returns the exit code."""
    return _query_like(args, "query", ("corpus", "runs", "limit", "out", "threads"))


def cmd_bench_all(args: argparse.Namespace) -> int:
    """``assistant bench all``; returns the exit code."""
    return _query_like(args, "all", ("corpus", "runs", "limit", "out", "threads"))


def cmd_bench_scale(args: argparse.Namespace) -> int:
    """``assistant bench scale``; returns the exit code."""
    names = ("corpus", "real", "sim", "limit", "seed", "out", "threads")
    return _query_like(args, "scale", names)


def cmd_bench_scale_corpus(args: argparse.Namespace) -> int:
    """``assistant bench scale-corpus``; returns the exit code."""
    dest = _path(args.dest)
    options = [str(dest), *_options(args, ("factor", "seed", "corpus"))]
    return run_benchmark("scale-corpus", options)
