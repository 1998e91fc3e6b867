"""``assistant bench ingest``: full and unchanged ingest, ours against the plain LangChain pipeline.

Each pipeline runs in its own freshly spawned process per run, so that the peak resident memory
of one does not contaminate the other and both start from the same cold state. Inside the child
the model is loaded first (timed apart), then the full ingest is timed, then the re-ingest.
Everything is written into temporary folders that are removed afterwards.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Row,
    bench_args,
    cpu_seconds,
    format_table,
    median,
    peak_rss_mib,
    rss_mib,
    words,
    write_results,
)

SAMPLE = 300  # passages per bare-model timing
MODEL_WINDOW = 254  # word pieces all-MiniLM-L6-v2 reads besides [CLS] and [SEP]
INGEST_TARGET = 0.7  # ours / plain, full ingest
REINGEST_TARGET = 3.0  # seconds, unchanged re-ingest


def _load_model(settings: Any) -> tuple[float, Any]:
    """Seconds to load the model (and embed once), and the loaded ``Embedder``: the timed
    ingests are handed it, so that they time embedding, not loading (an Embedder owns its model)."""
    from assistant.embedding import Embedder

    t0 = time.perf_counter()
    embedder = Embedder(settings)
    embedder.embed_documents(["warm-up"])
    return time.perf_counter() - t0, embedder


def _text_stats(model: str, texts: list[str]) -> dict[str, Any]:
    from assistant.embedding import token_counts

    counts = token_counts(model, texts)
    over = sum(1 for c in counts if c > MODEL_WINDOW)
    return {
        "passages": len(texts),
        "embedded_words": words(texts),
        "model_tokens": sum(min(c, MODEL_WINDOW) + 2 for c in counts),
        "truncated_pct": 100 * over / max(1, len(texts)),
        "sample": random.Random(0).sample(texts, min(SAMPLE, len(texts))),
    }


class FileTrace:
    """An ingest progress callback noting, per file embedded, its passages, wall and CPU seconds
    (since the previous file was done; the first file's include cutting every file, which the
    ingest does first) and this process's resident memory then. ``finish()`` closes the last."""

    def __init__(self) -> None:
        self.files: list[dict[str, Any]] = []
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        self._file: str | None = None
        self._first = self._done = 0

    def __call__(self, p: Any) -> None:
        if p.stage != "embedding":
            return
        if p.file != self._file:
            self.finish()
            self._file, self._first = p.file, p.done
        self._done = p.done

    def finish(self) -> None:
        if self._file is None:
            return
        wall, cpu = time.perf_counter(), cpu_seconds()
        self.files.append({"file": self._file, "passages": self._done - self._first,
                           "wall_s": wall - self._wall, "cpu_s": cpu - self._cpu,
                           "rss_mib": rss_mib()})  # fmt: skip
        self._wall, self._cpu, self._file = wall, cpu, None


def ours_child(corpus: str, store: str, trace: bool = False) -> dict[str, Any]:
    """In a fresh process: our full ingest, then an unchanged one (each by a new Assistant).
    With ``trace``, the figures of every file too (``files``, see :class:`FileTrace`)."""
    from assistant import Assistant, Settings

    settings = Settings(corpus_dir=Path(corpus), vectorstore_dir=Path(store))
    load_s, embedder = _load_model(settings)
    files = FileTrace()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    Assistant(settings, embedder=embedder).ingest(progress=files if trace else None)
    files.finish()
    ingest_s = time.perf_counter() - t0
    ingest_cpu_s = cpu_seconds() - cpu0
    t0 = time.perf_counter()
    again = Assistant(settings, embedder=embedder).ingest()
    reingest_s = time.perf_counter() - t0
    peak = peak_rss_mib()
    texts = [p.embed_text for p in Assistant(settings, embedder=embedder).store.all_passages()]
    return {
        "embedding_backend": settings.embedding_backend,
        "model_load_s": load_s,
        "ingest_s": ingest_s,
        "ingest_cpu_s": ingest_cpu_s,
        "reingest_s": reingest_s,
        "passages_after_reingest": again.passages,
        "peak_rss_mib": peak,
        **_text_stats(settings.embedding_model, texts),
        **({"files": files.files} if trace else {}),
    }


def plain_child(corpus: str, store: str) -> dict[str, Any]:
    """In a fresh process: the plain pipeline, then the same script run again."""
    from assistant.settings import Settings
    from benchmarks import plain_pipeline

    settings = Settings(embedding_backend=plain_pipeline.PLAIN_BACKEND)
    load_s, embedding = _load_model(settings)
    t0 = time.perf_counter()
    _, chunks = plain_pipeline.build(Path(corpus), Path(store), embedding)
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    vs, _ = plain_pipeline.build(Path(corpus), Path(store), embedding)
    reingest_s = time.perf_counter() - t0
    peak = peak_rss_mib()
    return {
        "model_load_s": load_s,
        "ingest_s": ingest_s,
        "reingest_s": reingest_s,
        "passages_after_reingest": plain_pipeline.count(vs),
        "peak_rss_mib": peak,
        **_text_stats(settings.embedding_model, [c.page_content for c in chunks]),
    }


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a newly spawned process and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def reingest_new_process(corpus: Path, store: Path) -> float:
    """Wall seconds of ``assistant ingest`` on an up-to-date store, interpreter start included."""
    env = {
        **os.environ,
        "ASSISTANT_CORPUS_DIR": str(corpus),
        "ASSISTANT_VECTORSTORE_DIR": str(store),
    }
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", "--quiet"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - t0


def one_run(corpus: Path) -> dict[str, dict[str, Any]]:
    """Both pipelines once, each into its own fresh temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        ours = in_child(ours_child, str(corpus), str(tmp / "ours"))
        ours["reingest_new_process_s"] = reingest_new_process(corpus, tmp / "ours")
        plain = in_child(plain_child, str(corpus), str(tmp / "plain"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"ours": ours, "plain": plain}


def embedding_limit(samples: dict[str, list[str]], passes: int = 3) -> dict[str, float]:
    """Words per second of the bare model (``embed_documents``) on each pipeline's passages.

    Each pipeline's passages go through that pipeline's own backend: ours the configured
    ``embedding_backend``, the plain one PyTorch.
    """
    from assistant.embedding import Embedder
    from assistant.settings import Settings
    from benchmarks.plain_pipeline import PLAIN_BACKEND

    embedders = {
        name: Embedder(Settings(embedding_backend=PLAIN_BACKEND) if name == "plain" else Settings())
        for name in samples
    }
    for name, texts in samples.items():
        embedders[name].embed_documents(texts[:16])  # load and warm up
    times: dict[str, list[float]] = {name: [] for name in samples}
    for _ in range(passes):  # alternate, so that background load hits both alike
        for name, texts in samples.items():
            t0 = time.perf_counter()
            embedders[name].embed_documents(texts)
            times[name].append(time.perf_counter() - t0)
    return {name: words(samples[name]) / median(times[name]) for name in samples}


def summarize(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Per pipeline, the median over runs of every numeric figure."""
    out: dict[str, dict[str, float]] = {}
    for side in ("ours", "plain"):
        keys = [k for k, v in runs[0][side].items() if isinstance(v, int | float)]
        out[side] = {k: median([r[side][k] for r in runs]) for k in keys}
    return out


def rows(summary: dict[str, dict[str, float]], corpus_words: int) -> list[Row]:
    """The printed table's rows (derived rates included)."""
    o, p = summary["ours"], summary["plain"]

    def both(key: str) -> tuple[float, float]:
        return o[key], p[key]

    return [
        ("full ingest (s)", *both("ingest_s")),
        ("  model load before it, not included (s)", *both("model_load_s")),
        ("passages (chunks)", *both("passages")),
        ("passages/s", o["passages"] / o["ingest_s"], p["passages"] / p["ingest_s"]),
        ("corpus words/s", corpus_words / o["ingest_s"], corpus_words / p["ingest_s"]),
        ("embedded words (overlap counted)", *both("embedded_words")),
        ("embedded words/s", o["embedded_words"] / o["ingest_s"],
         p["embedded_words"] / p["ingest_s"]),
        ("word pieces the model reads (256 cap)", *both("model_tokens")),
        ("passages over the model's 256 tokens (%)", *both("truncated_pct")),
        ("bare model words/s on these passages", *both("limit_words_per_s")),
        ("embedding floor = embedded words / bare (s)",
         o["embedded_words"] / o["limit_words_per_s"],
         p["embedded_words"] / p["limit_words_per_s"]),
        ("unchanged re-ingest, same process (s)", *both("reingest_s")),
        ("unchanged re-ingest, new process (s)", o["reingest_new_process_s"], None),
        ("passages after re-ingest", *both("passages_after_reingest")),
        ("peak RSS (MiB)", *both("peak_rss_mib")),
    ]  # fmt: skip


def corpus_word_count(corpus: Path) -> int:
    from assistant.corpus import corpus_files

    return sum(len(p.read_text(encoding="utf-8").split()) for p in corpus_files(corpus))


def run(corpus: Path, runs: int = 1, log: Callable[[str], None] = print) -> dict[str, Any]:
    """``runs`` runs of both pipelines and the bare-model limit; medians and raw figures."""
    raw = []
    for i in range(runs):
        log(f"run {i + 1}/{runs}: ours, then plain (each in a new process) ...")
        raw.append(one_run(corpus))
    limits = embedding_limit({side: raw[-1][side]["sample"] for side in ("ours", "plain")})
    for r in raw:
        for side in ("ours", "plain"):
            r[side]["limit_words_per_s"] = limits[side]
            r[side].pop("sample")
    return {
        "corpus": str(corpus),
        "corpus_words": corpus_word_count(corpus),
        "runs": raw,
        "median": summarize(raw),
    }


def verdicts(summary: dict[str, dict[str, float]]) -> list[str]:
    """The issue's two targets, each with its figure."""
    ratio = summary["ours"]["ingest_s"] / summary["plain"]["ingest_s"]
    same = summary["ours"]["reingest_s"]
    new = summary["ours"]["reingest_new_process_s"]

    def ok(flag: bool) -> str:
        return "met" if flag else "NOT met"

    return [
        f"target full ingest <= {INGEST_TARGET}x plain: {ratio:.2f}x, {ok(ratio <= INGEST_TARGET)}",
        f"target unchanged re-ingest < {REINGEST_TARGET:.0f} s: same process {same:.2f} s, "
        f"{ok(same < REINGEST_TARGET)}; new process {new:.2f} s, {ok(new < REINGEST_TARGET)}",
    ]


def main(corpus: Path, runs: int, out_dir: Path | None = None) -> int:
    """Run, print the table and the targets, write the JSON record; returns the exit code."""
    result = run(corpus, runs, log=lambda m: print(m, file=sys.stderr, flush=True))
    summary = result["median"]
    print(f"ingest benchmark: {corpus} ({result['corpus_words']:,} words), "
          f"median of {runs} run(s), each pipeline in its own new process")  # fmt: skip
    print(format_table(rows(summary, result["corpus_words"]), "ours", "plain LangChain"))
    print()
    for line in verdicts(summary):
        print(line)
    kwargs = {"out_dir": out_dir} if out_dir else {}
    print(f"results: {write_results('ingest', result, **kwargs)}")
    return 0


if __name__ == "__main__":
    a = bench_args(sys.argv[1:], __doc__)
    sys.exit(main(a.corpus, a.runs, a.out))
