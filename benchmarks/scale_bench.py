"""``assistant bench scale``: ingest throughput, memory and query latency on larger corpora.

Embedding bounds the ingest, so only the 10x corpus (made by :mod:`benchmarks.scale_corpus`) is
ingested for real; the 100x one is built with stand-in vectors and the real everything else.

Real (``--real N``): our corpus, the N-times corpus, and our corpus again are ingested back to
back, each by ``Assistant(Settings(...)).ingest()`` in its own newly spawned process (so that
``VmHWM`` is that ingest's peak), into temporary folders. Then warm retrieve/ask latency on our
store and on the N-times store, each served by a new process.

Simulated (``--sim N``): the N-times corpus goes through the real ingest (parsing, chunking,
batched writes into Chroma through :class:`assistant.store.PassageStore`, hashes recorded) with
:class:`StandInVectors` in place of the model: a passage identical to one of ours gets our real
vector, any other the real vector of the passage of ours it resembles most (by BM25) plus noise,
normalised. A new process then serves the store (real model for the questions, real BM25 index)
and is timed like the others. The real ingest time at N-times is projected from the measured
throughput.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.corpus import read_source
from assistant.embedding import Embedder
from assistant.lexical import LexicalIndex
from assistant.sentence_index import PassageVectors
from assistant.settings import Settings
from assistant.types import Passage
from benchmarks import ingest_bench, query_bench
from benchmarks.common import (
    Row,
    bench_args,
    format_table,
    median,
    peak_rss_mib,
    percentile,
    write_results,
)
from benchmarks.scale_corpus import ScaledFile, generate

NOISE = 0.45  # norm of the noise added to a unit vector: cosine ~0.91 with the vector of ours
THROUGHPUT_TARGET = 0.8  # words/s at 10x against words/s on our corpus
ASK_P95_TARGET_MS = 150.0  # warm, at 100x


class StandInVectors(Embedder):
    """The model's place in a simulated ingest: vectors made from our real ones, no model run."""

    def __init__(self, settings: Settings, texts: list[str], vectors: np.ndarray) -> None:
        super().__init__(settings)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
        self.exact = {t: i for i, t in enumerate(texts)}
        self.lexical = LexicalIndex(texts, [""] * len(texts))
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        out = [self.vector(t) for t in texts]
        self.seconds += time.perf_counter() - t0
        return out

    def embed_passages(self, passages: Sequence[Passage]) -> list[PassageVectors]:
        """Stand-in passage vectors; each sentence gets its passage's."""
        vecs = np.asarray(self.embed_documents([p.embed_text for p in passages]), np.float32)
        return [
            PassageVectors(v, np.repeat(v[None, :], len(p.sentences), axis=0))
            for p, v in zip(passages, vecs, strict=True)
        ]

    def vector(self, text: str) -> list[float]:
        """Ours for a text of ours; else the nearest of ours by BM25, perturbed (seeded by the
        text, so the same text always gets the same vector)."""
        i = self.exact.get(text)
        if i is not None:
            return [float(x) for x in self.vectors[i]]
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        hits = self.lexical.search(text, 1)
        base = self.vectors[hits[0][0] if hits else seed % len(self.vectors)]
        dim = base.shape[0]
        v = base + np.random.default_rng(seed).normal(0.0, NOISE / dim**0.5, dim)
        return [float(x) for x in v / np.linalg.norm(v)]


def simulated_ingest_child(
    corpus: str, store: str, base_corpus: str, base_store: str
) -> dict[str, Any]:
    """In a fresh process: the real ingest of ``corpus`` with stand-in vectors made from the
    vectors of the store of ours at ``base_store``."""
    from assistant import Assistant
    from assistant.ingest import Ingester

    ours = Assistant(Settings(corpus_dir=Path(base_corpus), vectorstore_dir=Path(base_store)))
    texts, vectors = ours.store.vectors()
    settings = Settings(corpus_dir=Path(corpus), vectorstore_dir=Path(store))
    standin = StandInVectors(settings, texts, vectors)
    del ours, texts, vectors
    t0 = time.perf_counter()
    report = Ingester(settings, standin).run()
    return {
        "embedding_backend": settings.embedding_backend,  # of the vectors the stand-ins mimic
        "ingest_s": time.perf_counter() - t0,
        "standin_s": standin.seconds,
        "passages": report.passages,
        "failed": list(report.failed),
        "peak_rss_mib": peak_rss_mib(),
    }


def serve_child(corpus: str, store: str, questions: list[str]) -> dict[str, Any]:
    """In a fresh process: open the store, time the model, the index load and warm queries."""
    from assistant import Assistant

    a = Assistant(
        Settings(corpus_dir=Path(corpus), vectorstore_dir=Path(store), answerer="default")
    )
    t0 = time.perf_counter()
    a.embedder.embed_query("warm-up")
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = len(a.retriever.passages)  # every passage's metadata, the BM25 index built and saved
    index_s = time.perf_counter() - t0
    warm = query_bench.time_calls(
        {"retrieve": lambda q: a.retrieve(q, k=10), "ask": lambda q: a.ask(q)},
        questions,
        fresh=a.embedder.queries.clear,  # type: ignore[attr-defined]  # the real Embedder
    )
    peak = peak_rss_mib()
    t0 = time.perf_counter()
    again = Assistant(a.settings)  # as the next process would: the on-disk copy is current
    len(again.retriever.passages)
    cached_s = time.perf_counter() - t0
    return {
        "embedding_backend": a.settings.embedding_backend,
        "passages": n,
        "model_load_s": model_s,
        "index_load_s": index_s,
        "index_load_cached_s": cached_s,
        "warm_ms": warm,
        **{f"{name}_p{p}_ms": percentile(v, p) for name, v in warm.items() for p in (50, 95)},
        "peak_rss_mib": peak,
    }


def corpus_words(corpus: Path) -> int:
    return ingest_bench.corpus_word_count(corpus)


def _phase(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``fn(*args)`` in a new process, with the load average before and after."""
    before = os.getloadavg()
    out = ingest_bench.in_child(fn, *args)
    return {**out, "loadavg_before": list(before), "loadavg_after": list(os.getloadavg())}


def real_ingest(corpus: Path, store: Path) -> dict[str, Any]:
    """Our ingest of ``corpus`` into ``store`` in a new process, with its rates."""
    out = _phase(ingest_bench.ours_child, str(corpus), str(store), True)
    out["corpus_words"] = corpus_words(corpus)
    for name, key in (("words", "corpus_words"), ("embedded_words", "embedded_words"),
                      ("word_pieces", "model_tokens"), ("passages", "passages")):  # fmt: skip
        out[f"{name}_per_s"] = out[key] / out["ingest_s"]
    out["words_per_cpu_s"] = out["corpus_words"] / out["ingest_cpu_s"]
    out["cores_busy"] = out["ingest_cpu_s"] / out["ingest_s"]
    return out


def file_words(files: list[ScaledFile]) -> dict[str, dict[str, Any]]:
    """Per generated file: the file of ours it copies, which copy, and its words."""
    return {
        f.path.name: {"base": f.base, "copy": f.copy, "words": len(read_source(f.path).split())}
        for f in files
    }


def _x(factor: float) -> str:
    return f"{factor:g}x"


def run(
    corpus: Path, questions_path: Path, real: float, sim: float, limit: int = 40, seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:  # fmt: skip
    """The whole benchmark in a temporary folder; raw figures of every phase."""
    questions = [it["question"] for it in query_bench.load_questions(questions_path, limit)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    out: dict[str, Any] = {"corpus": str(corpus), "questions": str(questions_path),
                           "n_questions": len(questions), "real": real, "sim": sim, "seed": seed}  # fmt: skip
    try:
        log("ingesting our corpus (1x) ...")
        out["ingest_1x"] = real_ingest(corpus, tmp / "store-1x")
        if real:
            big = tmp / f"corpus-{_x(real)}"
            out["real_files"] = file_words(generate(corpus, big, real, seed))
            log(f"ingesting the {_x(real)} corpus ({corpus_words(big):,} words) ...")
            out["ingest_real"] = real_ingest(big, tmp / "store-real")
            log("ingesting our corpus (1x) again ...")
            out["ingest_1x_after"] = real_ingest(corpus, tmp / "store-1x-after")
            log(f"serving the {_x(real)} store ...")
            out["serve_real"] = _phase(serve_child, str(big), str(tmp / "store-real"), questions)
            shutil.rmtree(big)
        log("serving our store (1x) ...")
        out["serve_1x"] = _phase(serve_child, str(corpus), str(tmp / "store-1x"), questions)
        if sim:
            simulated = tmp / f"corpus-{_x(sim)}"
            generate(corpus, simulated, sim, seed)
            out["sim_words"] = corpus_words(simulated)
            log(f"building the {_x(sim)} store ({out['sim_words']:,} words), stand-in vectors ...")
            paths = [simulated, tmp / "store-sim", corpus, tmp / "store-1x"]
            out["ingest_sim"] = _phase(simulated_ingest_child, *map(str, paths))
            log(f"serving the {_x(sim)} store ...")
            out["serve_sim"] = _phase(serve_child, str(simulated), str(paths[1]), questions)
        log("timing the bare model on all our passages ...")
        out["limit_words_per_s"] = bare_model_words_per_s(corpus, tmp / "store-1x")
        out["limit_backend"] = Settings().embedding_backend
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for key in ("ingest_1x", "ingest_real", "ingest_1x_after"):
        out.get(key, {}).pop("sample", None)
    return out


def bare_model_words_per_s(corpus: Path, store: Path) -> float:
    """The embedding limit: ``embed_documents`` alone on every passage of our store, once."""
    from assistant import Assistant

    a = Assistant(Settings(corpus_dir=corpus, vectorstore_dir=store))
    texts = [p.embed_text for p in a.store.all_passages()]
    return float(ingest_bench.embedding_limit({"ours": texts}, passes=1)["ours"])


def _base(r: dict[str, Any], key: str) -> float:
    """Our corpus's figure: the median of the runs before and after the large one."""
    return median([r[k][key] for k in ("ingest_1x", "ingest_1x_after") if k in r])


REAL_ROWS = {
    "corpus words": "corpus_words",
    "passages": "passages",
    "full ingest (s)": "ingest_s",
    "full ingest, CPU seconds (all threads)": "ingest_cpu_s",
    "corpus words/s": "words_per_s",
    "corpus words per CPU-second": "words_per_cpu_s",
    "cores busy (CPU seconds / seconds)": "cores_busy",
    "passages/s": "passages_per_s",
    "embedded words/s": "embedded_words_per_s",
    "word pieces the model reads/s": "word_pieces_per_s",
    "peak RSS, ingest process (MiB)": "peak_rss_mib",
    "unchanged re-ingest (s)": "reingest_s",
}


def real_rows(r: dict[str, Any]) -> list[Row]:
    """N-times against 1x: ingest throughput and memory, then serving."""
    big = r["ingest_real"]
    return [(name, big[key], _base(r, key)) for name, key in REAL_ROWS.items()] + serve_rows(
        r["serve_real"], r["serve_1x"]
    )


def serve_rows(a: dict[str, Any], b: dict[str, Any]) -> list[Row]:
    """Serving figures of two stores side by side."""
    return [
        ("passages in the store", a["passages"], b["passages"]),
        (
            "index load, first start: passages + BM25, saved (s)",
            a["index_load_s"],
            b["index_load_s"],
        ),
        (
            "index load, next start (on-disk copy, s)",
            a.get("index_load_cached_s", float("nan")),
            b.get("index_load_cached_s", float("nan")),
        ),
        ("retrieve k=10, warm p50 (ms)", a["retrieve_p50_ms"], b["retrieve_p50_ms"]),
        ("retrieve k=10, warm p95 (ms)", a["retrieve_p95_ms"], b["retrieve_p95_ms"]),
        ("ask, warm p50 (ms)", a["ask_p50_ms"], b["ask_p50_ms"]),
        ("ask, warm p95 (ms)", a["ask_p95_ms"], b["ask_p95_ms"]),
        ("peak RSS, serving process (MiB)", a["peak_rss_mib"], b["peak_rss_mib"]),
    ]


def _met(flag: bool) -> str:
    return "met" if flag else "NOT met"


def inside_ingest(r: dict[str, Any]) -> list[str]:
    """Within the large ingest: the first and the last copy of our largest document (same
    process, the store smaller and larger), and the resident memory as the files went by."""
    files, info = r["ingest_real"]["files"], r["real_files"]
    sizes: dict[str, int] = {}
    for v in info.values():
        sizes[v["base"]] = sizes.get(v["base"], 0) + v["words"]
    largest = max(sizes, key=lambda name: sizes[name])
    held, copies = 0, []
    for f in files:
        if info[f["file"]]["base"] == largest:
            copies.append((held, f, info[f["file"]]["words"]))
        held += f["passages"]
    lines = [f"resident memory of the {_x(r['real'])} ingest after its first file "
             f"{files[0]['rss_mib']:,.0f} MiB, after its last ({len(files)}th) "
             f"{files[-1]['rss_mib']:,.0f} MiB"]  # fmt: skip
    if len(copies) < 2:
        return lines
    (a_held, a, a_words), (b_held, b, b_words) = copies[0], copies[-1]
    first, last = a_words / a["cpu_s"], b_words / b["cpu_s"]
    return [*lines, (
        f"inside it, {largest}: its first copy (into a store of {a_held:,} passages) "
        f"{a_words / a['wall_s']:,.0f} words/s, {first:,.0f} per CPU-second; its last (into "
        f"{b_held:,}) {b_words / b['wall_s']:,.0f} words/s, {last:,.0f} per CPU-second "
        f"({last / first:.2f}x)"
    )]  # fmt: skip


def summary_lines(r: dict[str, Any]) -> list[str]:
    """The limit, the simulated build, the projection, the targets and the load."""
    limit = r["limit_words_per_s"]
    lines = [f"embedding limit on this machine: the bare model embeds {limit:,.0f} words/s of our "
             f"passages; our 1x ingest embeds {_base(r, 'embedded_words_per_s') / limit:.0%} of "
             "that rate"]  # fmt: skip
    if r["real"]:
        big, x = r["ingest_real"], _x(r["real"])
        wall = big["words_per_s"] / _base(r, "words_per_s")
        cpu = big["words_per_cpu_s"] / _base(r, "words_per_cpu_s")
        lines += [
            f"the {x} ingest embeds {big['embedded_words_per_s'] / limit:.0%} of it; our corpus "
            f"before it {r['ingest_1x']['words_per_s']:,.0f} words/s, after it "
            f"{r['ingest_1x_after']['words_per_s']:,.0f}",
            *inside_ingest(r),
            f"target ingest throughput at {x} >= {THROUGHPUT_TARGET}x that at 1x: words/s "
            f"{wall:.2f}x, {_met(wall >= THROUGHPUT_TARGET)}; words per CPU-second {cpu:.2f}x, "
            f"{_met(cpu >= THROUGHPUT_TARGET)}",
        ]
    if r["sim"]:
        b, s = r["ingest_sim"], r["serve_sim"]
        speed = (r["ingest_real"] if r["real"] else r["ingest_1x"])["words_per_s"]
        projected = r["sim_words"] / speed
        met = _met(s["ask_p95_ms"] <= ASK_P95_TARGET_MS)
        lines += [
            f"{_x(r['sim'])} simulated build: {b['passages']:,} passages written in "
            f"{b['ingest_s']:,.0f} s ({b['standin_s']:,.0f} s of it making stand-in vectors), "
            f"peak RSS {b['peak_rss_mib']:,.0f} MiB (no model loaded)",
            f"projected real ingest at {_x(r['sim'])}: {r['sim_words']:,} words / {speed:,.0f} "
            f"words/s = {projected / 3600:.1f} h ({projected / 60:,.0f} min)",
            f"target ask p95 <= {ASK_P95_TARGET_MS:.0f} ms warm at {_x(r['sim'])} (simulated): "
            f"{s['ask_p95_ms']:.0f} ms, {met}",
        ]
    phases = [k for k in r if k.startswith(("ingest_", "serve_"))]
    backends = {r[k].get("embedding_backend") for k in phases} | {r["limit_backend"]}
    if len(backends) > 1:
        lines.append(f"WARNING: the embedding backend changed during the run: {sorted(backends)}")
    lines.append("load average (1 min) at the start of each phase: "
                 + ", ".join(f"{k} {r[k]['loadavg_before'][0]:.1f}" for k in phases))  # fmt: skip
    return lines


def main(
    corpus: Path, questions: Path, real: float, sim: float, limit: int, seed: int = 0,
    out_dir: Path | None = None,
) -> int:  # fmt: skip
    """Run, print the tables and the targets, write the JSON record; returns the exit code."""
    r = run(corpus, questions, real, sim, limit, seed,
            log=lambda m: print(m, file=sys.stderr, flush=True))  # fmt: skip
    report = [f"scale benchmark: {corpus}, {_x(real)} real, {_x(sim)} simulated (seed {seed}); "
              f"{r['n_questions']} questions from {questions}, warm"]  # fmt: skip
    if real:
        report += [format_table(real_rows(r), _x(real), "1x", f"ratio ({_x(real)}/1x)"), ""]
    if sim:
        ref, name = (r["serve_real"], _x(real)) if real else (r["serve_1x"], "1x")
        report += [format_table(serve_rows(r["serve_sim"], ref), f"{_x(sim)} simulated",
                                f"{name} real", f"ratio ({_x(sim)}/{name})"), ""]  # fmt: skip
    report += summary_lines(r)
    print("\n".join(report))
    r["report"] = report
    kwargs = {"out_dir": out_dir} if out_dir else {}
    print(f"results: {write_results('scale', r, **kwargs)}")
    return 0


if __name__ == "__main__":
    a = bench_args(sys.argv[1:], __doc__)
    sys.exit(main(a.corpus, a.questions, a.real, a.sim, a.limit, a.seed, a.out))
