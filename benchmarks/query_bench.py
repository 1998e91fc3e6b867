"""``assistant bench query``: warm latency of retrieve and ask, and the cold start.

Both stores (ours and the plain LangChain one) are built once into a temporary folder. Warm
figures are taken in this process after a warm-up, the questions interleaved (ours retrieve,
ours ask, plain search) so that background load hits all three alike. The query-embedding cache
is cleared before every timed call: a user's question is new, and a cached vector would hide the
model's cost. Cold starts are new processes, after one untimed run of each (warm disk): from the
first import to the first answer as the process reports it, and the whole process as a user
waits for it (``assistant ask`` to its printed answer, ``assistant --help``; for the plain
pipeline a script that opens its store, searches and prints).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Row, bench_args, format_table, median, percentile, write_results

ROOT = Path(__file__).resolve().parents[1]
ASK_TARGET_MS = 100.0
COLD_ASK_TARGET_S = 3.0  # issue 15: a new process's `assistant ask` to its printed answer
HELP_TARGET_S = 0.5  # issue 15: `assistant --help`
WARMUP = 3

OURS_COLD = (
    "import time; t = time.perf_counter(); from pathlib import Path; "
    "from assistant import Assistant, Settings; "
    "a = Assistant(Settings(corpus_dir=Path({corpus!r}), vectorstore_dir=Path({store!r}), "
    "answerer='default')); "
    "a.ask({question!r}); print(time.perf_counter() - t)"
)
PLAIN_COLD = (
    "import time; t = time.perf_counter(); from pathlib import Path; "
    "from benchmarks.plain_pipeline import open_store; "
    "vs = open_store(Path({store!r})); vs.similarity_search({question!r}, k=4); "
    "print(time.perf_counter() - t)"
)
PLAIN_PRINT = (
    "from pathlib import Path; from benchmarks.plain_pipeline import open_store; "
    "print(open_store(Path({store!r})).similarity_search({question!r}, k=4)[0].page_content)"
)


def load_questions(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` questions without history (a follow-up needs its conversation)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if not item.get("history"):
            out.append(item)
    return out[:limit]


def timed_ms(fn: Callable[[str], object], question: str, fresh: Callable[[], None]) -> float:
    """Milliseconds of ``fn(question)``, ``fresh()`` (clearing the query-embedding cache)
    called first."""
    fresh()
    t0 = time.perf_counter()
    fn(question)
    return (time.perf_counter() - t0) * 1000


def time_calls(
    calls: dict[str, Callable[[str], object]], questions: list[str], fresh: Callable[[], None]
) -> dict[str, list[float]]:
    """Milliseconds per question of each call, after ``WARMUP`` questions; interleaved per
    question so that background load hits every call alike."""
    for q in questions[:WARMUP]:
        for call in calls.values():
            call(q)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for q in questions:
        for name, call in calls.items():
            samples[name].append(timed_ms(call, q, fresh))
    return samples


def warm_samples(assistant: Any, vs: Any, questions: list[str]) -> dict[str, list[float]]:
    """Milliseconds per question of ours retrieve (k=10), ours ask and plain search (k=4)."""
    return time_calls(
        {
            "retrieve": lambda q: assistant.retrieve(q, k=10),
            "ask": lambda q: assistant.ask(q),
            "plain": lambda q: vs.similarity_search(q, k=4),
        },
        questions,
        fresh=assistant.embedder.queries.clear,
    )


def _child_env(**settings: str) -> dict[str, str]:
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **settings}


def cold_start(snippet: str) -> float:
    """Seconds a new process reports from its first import to its first answer."""
    got = subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=ROOT, env=_child_env(), check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(got.stdout.strip().splitlines()[-1])


def wall_s(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``argv`` to its exit (its output read and checked non-empty)."""
    t0 = time.perf_counter()
    got = subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if not got.stdout.strip():
        raise RuntimeError(f"{argv[2:4]} printed nothing: {got.stderr[-500:]}")
    return seconds


def cold_commands(corpus: Path, tmp: Path, question: str) -> dict[str, Callable[[], float]]:
    """Each cold start timed, by its name in the record."""
    ours = OURS_COLD.format(corpus=str(corpus), store=str(tmp / "ours"), question=question)
    plain = PLAIN_COLD.format(store=str(tmp / "plain"), question=question)
    store_env = _child_env(ASSISTANT_CORPUS_DIR=str(corpus), ASSISTANT_ANSWERER="default",
                           ASSISTANT_VECTORSTORE_DIR=str(tmp / "ours"))  # fmt: skip
    cli = [sys.executable, "-m", "assistant.cli"]
    plain_print = PLAIN_PRINT.format(store=str(tmp / "plain"), question=question)
    return {
        "ours": lambda: cold_start(ours),
        "plain": lambda: cold_start(plain),
        "ours_cli_ask": lambda: wall_s([*cli, "ask", question], store_env),
        "plain_script": lambda: wall_s([sys.executable, "-c", plain_print], _child_env()),
        "ours_cli_help": lambda: wall_s([*cli, "--help"], _child_env()),
    }


def cold_samples(corpus: Path, tmp: Path, question: str, runs: int) -> dict[str, list[float]]:
    """``runs`` cold starts of each, alternating, after one untimed run of each (warm disk)."""
    commands = cold_commands(corpus, tmp, question)
    for command in commands.values():
        command()
    out: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            out[name].append(command())
    return out


def build_stores(corpus: Path, tmp: Path) -> tuple[Any, Any]:
    """Our assistant over a fresh store, and the plain Chroma store, both from ``corpus``."""
    from assistant import Assistant, Settings
    from benchmarks import plain_pipeline

    settings = Settings(corpus_dir=corpus, vectorstore_dir=tmp / "ours", answerer="default")
    assistant = Assistant(settings)
    assistant.ingest()
    vs, _ = plain_pipeline.build(corpus, tmp / "plain", assistant.embedder)
    return assistant, vs


def run(
    corpus: Path, questions_path: Path, runs: int = 3, limit: int = 40,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:  # fmt: skip
    """Build both stores, time warm queries and cold starts; raw samples and summary."""
    items = load_questions(questions_path, limit)
    if not items:
        raise ValueError(f"no questions without history in {questions_path}")
    questions = [it["question"] for it in items]
    tmp = Path(tempfile.mkdtemp(prefix="bench-query-"))
    try:
        log("building both stores ...")
        assistant, vs = build_stores(corpus, tmp)
        log(f"timing {len(questions)} questions warm ...")
        warm = warm_samples(assistant, vs, questions)
        log(f"timing {runs} cold start(s) of each ...")
        cold = cold_samples(corpus, tmp, questions[0], runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "corpus": str(corpus),
        "questions": str(questions_path),
        "n_questions": len(questions),
        "n_unanswerable": sum(1 for it in items if it.get("answerable") is False),
        "runs": runs,
        "warm_ms": warm,
        "cold_s": cold,
        "summary": summarize(warm, cold),
    }


def summarize(warm: dict[str, list[float]], cold: dict[str, list[float]]) -> dict[str, float]:
    out = {}
    for name, values in warm.items():
        out[f"{name}_p50_ms"] = percentile(values, 50)
        out[f"{name}_p95_ms"] = percentile(values, 95)
    for name, values in cold.items():
        out[f"{name}_cold_s"] = median(values)
    return out


def rows(s: dict[str, float]) -> list[Row]:
    """Ours against the plain similarity search (k=4); ratios are ours/plain."""
    return [
        ("retrieve k=10, warm p50 (ms)", s["retrieve_p50_ms"], s["plain_p50_ms"]),
        ("retrieve k=10, warm p95 (ms)", s["retrieve_p95_ms"], s["plain_p95_ms"]),
        ("ask, warm p50 (ms)", s["ask_p50_ms"], s["plain_p50_ms"]),
        ("ask, warm p95 (ms)", s["ask_p95_ms"], s["plain_p95_ms"]),
        ("cold start to first answer (s)", s["ours_cold_s"], s["plain_cold_s"]),
        ("new process: `assistant ask` / plain script (s)", s["ours_cli_ask_cold_s"],
         s["plain_script_cold_s"]),
        ("new process: `assistant --help` (s)", s["ours_cli_help_cold_s"], None),
    ]  # fmt: skip


def verdict(s: dict[str, float]) -> str:
    """The issue's targets for ``ask`` warm and for the new process, with their figures."""

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    cores = f"{os.cpu_count()} cores"
    ask, cold, helped = s["ask_p50_ms"], s["ours_cli_ask_cold_s"], s["ours_cli_help_cold_s"]
    return "\n".join([
        f"target ask p50 <= {ASK_TARGET_MS:.0f} ms warm ({cores}, default answerer): "
        f"{ask:.0f} ms, {met(ask <= ASK_TARGET_MS)}",
        f"target new process `assistant ask` <= {COLD_ASK_TARGET_S:.0f} s ({cores}, warm disk): "
        f"{cold:.2f} s, {met(cold <= COLD_ASK_TARGET_S)}",
        f"target `assistant --help` <= {HELP_TARGET_S} s: {helped:.2f} s, "
        f"{met(helped <= HELP_TARGET_S)}",
    ])  # fmt: skip


def main(corpus: Path, questions: Path, runs: int, limit: int, out_dir: Path | None = None) -> int:
    """Run, print the table and the target, write the JSON record; returns the exit code."""
    result = run(
        corpus, questions, runs, limit, log=lambda m: print(m, file=sys.stderr, flush=True)
    )
    s = result["summary"]
    print(f"query benchmark: {result['n_questions']} questions from {questions} "
          f"({result['n_unanswerable']} unanswerable), warm, query cache cleared per call; "
          f"cold starts: median of {runs} after a warm-up run")  # fmt: skip
    print(format_table(rows(s), "ours", "plain similarity_search k=4"))
    print()
    print(verdict(s))
    kwargs = {"out_dir": out_dir} if out_dir else {}
    print(f"results: {write_results('query', result, **kwargs)}")
    return 0


if __name__ == "__main__":
    a = bench_args(sys.argv[1:], __doc__)
    sys.exit(main(a.corpus, a.questions, a.runs, a.limit, a.out))
