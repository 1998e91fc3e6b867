"""What both benchmarks share: percentiles, the comparison table, peak memory, the JSON record."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_QUESTIONS = ROOT / "eval" / "questions" / "dev.jsonl"

Row = tuple[str, float | None, float | None]  # (metric, ours, plain)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile, interpolated between the two nearest samples."""
    data = sorted(values)
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * pct / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return float(data[lo] + (data[hi] - data[lo]) * (pos - lo))


def words(texts: Sequence[str]) -> int:
    """Whitespace-separated words in ``texts``."""
    return sum(len(t.split()) for t in texts)


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    return _status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """This process's resident memory now (VmRSS), in MiB; 0 where /proc is absent."""
    return _status_mib("VmRSS")


def _status_mib(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return 0.0


def cpu_seconds() -> float:
    """User and system CPU seconds of this process so far, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def format_table(
    rows: Sequence[Row], ours: str = "ours", plain: str = "plain", ratio: str = "ratio (ours/plain)"
) -> str:
    """Rows of ``metric | ours | plain | ratio`` (ours/plain) as aligned text."""
    header = ("metric", ours, plain, ratio)
    cells = [header]
    for metric, a, b in rows:
        quotient = f"{a / b:.2f}x" if a is not None and b else "—"
        cells.append((metric, _fmt(a), _fmt(b), quotient))
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    lines = [
        " | ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        for row in cells
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """Where the figures were taken: CPU count, load, Python, embedding backend, torch threads."""
    from assistant.settings import Settings

    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "embedding_backend": Settings().embedding_backend,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def write_results(name: str, data: dict[str, Any], out_dir: Path = RESULTS_DIR) -> Path:
    """Write ``data`` (with the machine's description) to ``<out_dir>/<name>-<timestamp>.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{name}-{stamp}.json"
    record = {"benchmark": name, "time": stamp, "machine": machine(), **data}
    path.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str) + "\n")
    return path


def bench_args(argv: Sequence[str] | None, description: str | None) -> argparse.Namespace:
    """The options of ``python -m benchmarks.<name>``, which ``assistant bench <name>`` runs.

    Each benchmark reads those it needs; ``--threads`` is applied here (see :func:`set_threads`)
    and the corpus defaults to the ``corpus_dir`` setting.
    """
    p = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    p.add_argument("--corpus", type=Path, help="corpus folder (setting corpus_dir)")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="JSONL questions")
    p.add_argument("--runs", type=int, default=3, help="runs or cold starts; medians printed")
    p.add_argument("--limit", type=int, default=40, help="questions timed warm")
    p.add_argument("--out", type=Path, help="results folder (benchmarks/results)")
    p.add_argument("--threads", type=int, help="torch threads here and in child processes")
    p.add_argument("--real", type=float, default=10.0, help="scale: factor ingested for real")
    p.add_argument("--sim", type=float, default=100.0, help="scale: factor simulated")
    p.add_argument("--seed", type=int, default=0, help="scale: seed of the generated corpora")
    args = p.parse_args(argv)
    if args.corpus is None:
        from assistant.settings import Settings

        args.corpus = Settings().corpus_dir
    args.corpus = args.corpus.resolve()
    set_threads(args.threads)
    return args


def set_threads(n: int | None) -> None:
    """Pin torch's thread count, inherited by children through the OpenMP variable."""
    if n is None:
        return
    os.environ["OMP_NUM_THREADS"] = str(n)
    import torch

    torch.set_num_threads(n)
