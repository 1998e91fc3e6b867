"""The ``assistant bench`` subcommand: ingest and query figures next to plain LangChain, and
the same figures on larger corpora made from ours.

The measuring code lives in the repository's ``benchmarks/`` folder and is imported only when a
benchmark runs, so the package itself does not depend on it. See ``benchmarks/README.md`` for
what each figure means.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from assistant.settings import PROJECT_ROOT, Settings

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions" / "dev.jsonl"


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
    s.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, metavar="FILE",
                   help="JSONL question set (eval/questions/dev.jsonl)")  # fmt: skip
    s.add_argument("--limit", type=_positive, default=40, help="questions timed warm (40)")
    s.add_argument("--corpus", type=Path, metavar="DIR", help="corpus folder (setting corpus_dir)")
    _common_options(s)


def _common_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--out", type=Path, metavar="DIR", help="results folder (benchmarks/results)")
    s.add_argument("--threads", type=_positive, metavar="N",
                   help="torch threads here and in every child process (default: torch's)")  # fmt: skip


def _set_threads(n: int | None) -> None:
    """Pin torch's thread count, inherited by children through the OpenMP variable."""
    if n is None:
        return
    os.environ["OMP_NUM_THREADS"] = str(n)
    import torch

    torch.set_num_threads(n)


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


def _benchmarks(name: str) -> ModuleType | None:
    """``benchmarks.<name>`` from the repository checkout, or None (with a message) if absent."""
    if not (PROJECT_ROOT / "benchmarks" / f"{name}.py").exists():
        print(
            f"error: benchmarks/{name}.py is not here; run the benchmarks from a checkout "
            "of the repository (pip install -e .).",
            file=sys.stderr,
        )
        return None
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))  # also inherited by the spawned children
    return importlib.import_module(f"benchmarks.{name}")


def _corpus(args: argparse.Namespace) -> Path:
    return (args.corpus or Settings().corpus_dir).resolve()


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    """``assistant bench ingest``; returns the exit code."""
    module = _benchmarks("ingest_bench")
    if module is None:
        return 2
    _set_threads(args.threads)
    return int(module.main(_corpus(args), args.runs, args.out))


def _query_bench(args: argparse.Namespace, name: str) -> ModuleType | None:
    """``benchmarks.<name>`` with threads set, or None (with a message) if it cannot run."""
    if not args.questions.is_file():
        print(f"error: no question file at {args.questions}; pass --questions FILE.",
              file=sys.stderr)  # fmt: skip
        return None
    module = _benchmarks(name)
    if module is not None:
        _set_threads(args.threads)
    return module


def cmd_bench_query(args: argparse.Namespace) -> int:
    """``assistant bench query``; returns the exit code."""
    module = _query_bench(args, "query_bench")
    if module is None:
        return 2
    return int(module.main(_corpus(args), args.questions, args.runs, args.limit, args.out))


def cmd_bench_all(args: argparse.Namespace) -> int:
    """``assistant bench all``; returns the exit code."""
    module = _query_bench(args, "all_bench")
    if module is None:
        return 2
    return int(module.main(_corpus(args), args.questions, args.runs, args.limit, args.out))


def cmd_bench_scale(args: argparse.Namespace) -> int:
    """``assistant bench scale``; returns the exit code."""
    module = _query_bench(args, "scale_bench")
    if module is None:
        return 2
    return int(
        module.main(_corpus(args), args.questions, args.real, args.sim, args.limit, args.seed,
                    args.out)
    )  # fmt: skip


def cmd_bench_scale_corpus(args: argparse.Namespace) -> int:
    """``assistant bench scale-corpus``; returns the exit code."""
    module = _benchmarks("scale_corpus")
    if module is None:
        return 2
    argv = [str(args.dest), "--factor", str(args.factor), "--seed", str(args.seed)]
    return int(module.main([*argv, "--corpus", str(_corpus(args))]))
