"""Fault injection (issue 17): an ingest killed at random moments while questions are asked.

    python benchmarks/fault_injection.py                    # 5 MB large file, 5 kills, seed 0
    python benchmarks/fault_injection.py --mb 1 --kills 3 --seed 7 --keep /tmp/fi

(Run as a script: a dependency installs a package of its own called ``benchmarks``.)

In a temporary folder: ``corpus/`` is our five files and their manifest plus ``large.txt``
(``large_file.py make``, ``--mb`` megabytes). ``assistant ingest --quiet`` builds store A in
one go, timed (wall clock, interpreter start and model load included). Store B, empty, gets
the same ingest, SIGKILLed ``--kills`` times and started again after each kill (it resumes the
generation the killed one left); the last run goes to the end. The kill moments are drawn
(seeded) uniformly between 3 s and 80% of A's time on the clock of B's ingests (their running
times summed), sorted, each run lasting at least 3 s, so every kill falls inside the build.
Meanwhile ``assistant ask`` runs again and again in new processes, each exit code kept and its
stderr searched for "Traceback"; a few more asks follow the last run.

B's passage ids must equal A's as sorted lists (none missing, none extra, none twice) and each
passage's text must be A's; no ask may end in a traceback. One JSON summary is printed and
written to ``benchmarks/results/fault_injection.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from assistant.settings import PROJECT_ROOT  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "fault_injection.json"
INGEST = [sys.executable, "-m", "assistant.cli", "ingest", "--quiet"]
QUESTIONS = (
    "Who was Kosior?",
    "Why did Trotsky write to Krupskaya in May 1927?",
    "What did the Left Opposition demand in 1923?",
)


@dataclass
class Ask:
    """One ``assistant ask`` process: when it started, how it ended."""

    started: float  # seconds since the fault-injection run began
    phase: str  # "build" (B's ingests not finished) or "after"
    seconds: float
    code: int | None  # None: it did not end within the timeout
    traceback: bool
    message: str  # the last line of stderr ("error: ...") when it failed


@dataclass
class Kill:
    """One SIGKILL of B's ingest: after how long, and how far the build had got."""

    after_s: float  # running time of this ingest when it was killed
    code: int | None  # its exit code: -9 if the kill hit it, 0 if it had already finished
    building: dict[str, Any] | None = None  # the pointer's ``building`` record just after


@dataclass
class Asker:
    """Asks questions in new processes, one after another, until told to stop."""

    env: dict[str, str]
    t0: float
    timeout: float = 600.0
    asks: list[Ask] = field(default_factory=list)
    phase: str = "build"
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, after: int) -> None:
        n = 0
        while not self.stop.is_set():
            self.ask(QUESTIONS[n % len(QUESTIONS)])
            n += 1
        self.phase = "after"
        for i in range(after):
            self.ask(QUESTIONS[(n + i) % len(QUESTIONS)])

    def ask(self, question: str) -> None:
        phase, start = self.phase, time.perf_counter()
        try:
            out = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", question],
                                 env=self.env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                                 timeout=self.timeout)  # fmt: skip
            code, err = out.returncode, out.stderr
        except subprocess.TimeoutExpired as exc:
            code, err = None, _text(exc.stderr)
        lines = [line for line in err.strip().splitlines() if line.strip()]
        self.asks.append(Ask(
            started=round(start - self.t0, 1), phase=phase,
            seconds=round(time.perf_counter() - start, 1), code=code,
            traceback="Traceback" in err, message=lines[-1][:200] if code and lines else "",
        ))  # fmt: skip


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data or ""


def make_corpus(dest: Path, mb: float) -> Path:
    """``dest/corpus``: ``large_file.py make`` copies our corpus there and adds ``large.txt``."""
    subprocess.run([sys.executable, str(HERE / "large_file.py"), "make", str(dest), "--mb",
                    str(mb)], cwd=PROJECT_ROOT, check=True, capture_output=True)  # fmt: skip
    return dest / "corpus"


def store_env(corpus: Path, store: Path) -> dict[str, str]:
    """The environment of every child: this corpus and store, the index cache in the store."""
    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_INDEX_CACHE_DIR"}
    env.update(ASSISTANT_CORPUS_DIR=str(corpus), ASSISTANT_VECTORSTORE_DIR=str(store),
               HF_HUB_OFFLINE="1")  # fmt: skip
    return env


def start_ingest(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(INGEST, env=env, cwd=PROJECT_ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def clean_build(env: dict[str, str], log: Path) -> float:
    """One uninterrupted ingest; its wall-clock seconds."""
    t = time.perf_counter()
    code = start_ingest(env, log).wait()
    if code != 0:
        raise SystemExit(f"the clean ingest failed ({code}); see {log}")
    return time.perf_counter() - t


def passages(corpus: Path, store: Path) -> dict[str, list[str]]:
    """Every passage id of a store, each with the hashes of its texts (one per copy of it)."""
    from assistant import Assistant, Settings

    out: dict[str, list[str]] = {}
    for p in Assistant(Settings(corpus_dir=corpus, vectorstore_dir=store)).store.all_passages():
        out.setdefault(p.id, []).append(hashlib.sha256(p.text.encode()).hexdigest())
    return out


def kill_moments(rng: random.Random, kills: int, clean_s: float) -> list[float]:
    """How long each run lasts before its kill: sorted moments on the build's own clock."""
    moments = sorted(rng.uniform(3.0, max(3.0, 0.8 * clean_s)) for _ in range(kills))
    return [max(3.0, b - a) for a, b in zip([0.0, *moments], moments, strict=False)]


def pointer_building(store: Path) -> dict[str, Any] | None:
    try:
        return json.loads((store / "store.json").read_text(encoding="utf-8")).get("building")
    except (OSError, ValueError):
        return None


def killed_build(env: dict[str, str], store: Path, waits: list[float], log: Path) -> list[Kill]:
    """B's ingest, killed after each of ``waits`` seconds and started again; the last run
    goes to the end."""
    kills = []
    for wait in waits:
        proc = start_ingest(env, log)
        t = time.perf_counter()
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
        kills.append(Kill(round(time.perf_counter() - t, 1), code, pointer_building(store)))
    code = start_ingest(env, log).wait()
    if code != 0:
        raise SystemExit(f"the last ingest failed ({code}); see {log}")
    return kills


def compare(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, int]:
    """Ids of B against A's: missing, extra, held twice, and passages whose text differs."""
    common = a.keys() & b.keys()
    return {
        "passages_a": sum(map(len, a.values())),
        "passages_b": sum(map(len, b.values())),
        "missing": len(a.keys() - b.keys()),
        "extra": len(b.keys() - a.keys()),
        "duplicate": sum(len(v) - 1 for v in b.values()),
        "text_differs": sum(1 for i in common if sorted(set(b[i])) != sorted(set(a[i]))),
        "equal_sorted": sorted(a) == sorted(b) and all(len(v) == 1 for v in b.values()),
    }


def ask_counts(asks: list[Ask]) -> dict[str, Any]:
    refused = [a for a in asks if a.code and not a.traceback]
    return {
        "total": len(asks),
        "answered": sum(1 for a in asks if a.code == 0 and not a.traceback),
        "refused": len(refused),
        "tracebacks": sum(1 for a in asks if a.traceback),
        "timed_out": sum(1 for a in asks if a.code is None),
        "during_build": sum(1 for a in asks if a.phase == "build"),
        "answered_during_build": sum(1 for a in asks if a.phase == "build" and a.code == 0),
        "exit_codes": dict(Counter(str(a.code) for a in asks)),
        "refusals": dict(Counter(_shape(a.message) for a in refused)),
    }


def _shape(message: str) -> str:
    """A refusal without its figures, so that the same message counts once."""
    return "".join("N" if c.isdigit() else c for c in message)


def run(dest: Path, mb: float, kills: int, seed: int, after: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    corpus = make_corpus(dest, mb)
    store_a, store_b = dest / "store-a", dest / "store-b"
    clean_s = clean_build(store_env(corpus, store_a), dest / "ingest-a.log")
    a = passages(corpus, store_a)
    waits = kill_moments(random.Random(seed), kills, clean_s)
    asker = Asker(store_env(corpus, store_b), t0)
    thread = threading.Thread(target=asker.run, args=(after,))
    t1 = time.perf_counter()
    thread.start()
    try:
        done = killed_build(store_env(corpus, store_b), store_b, waits, dest / "ingest-b.log")
    finally:
        b_s = time.perf_counter() - t1
        asker.stop.set()
        thread.join()
    b = passages(corpus, store_b)
    return {
        "mb": mb, "seed": seed, "large_file_bytes": (corpus / "large.txt").stat().st_size,
        "clean_build_s": round(clean_s, 1), "killed_build_s": round(b_s, 1),
        "kills": len(done), "kills_that_hit": sum(1 for k in done if k.code == -signal.SIGKILL),
        "kill_runs": [asdict(k) for k in done], "ids": compare(a, b),
        "asks": ask_counts(asker.asks), "total_s": round(time.perf_counter() - t0, 1),
        "ask_log": [asdict(x) for x in asker.asks],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=float, default=5.0, help="size of large.txt (default 5)")
    p.add_argument("--kills", type=int, default=5, help="SIGKILLs of the ingest (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments (default 0)")
    p.add_argument("--after", type=int, default=3, help="asks after the last ingest (default 3)")
    p.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a "
                   "temporary folder, removed)")  # fmt: skip
    args = p.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        summary = run(args.keep, args.mb, args.kills, args.seed, args.after)
    else:
        with tempfile.TemporaryDirectory(prefix="fault-injection-") as tmp:
            summary = run(Path(tmp), args.mb, args.kills, args.seed, args.after)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "ask_log"}, indent=2))
    ok = summary["ids"]["equal_sorted"] and not summary["ids"]["text_differs"]
    return 0 if ok and not summary["asks"]["tracebacks"] else 1


if __name__ == "__main__":
    sys.exit(main())
