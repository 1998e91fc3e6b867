"""Embedding throughput and fidelity: PyTorch vs ONNX Runtime (fp32, int8) on real passages.

Usage::

    .venv/bin/python benchmarks/embedding_backends.py [--n 800] [--runs 3] [--cache-dir DIR]

Builds the corpus passages as ingest does, takes a seeded random subset of ``--n`` of them,
and embeds the subset ``--runs`` times with every backend in this one process, round-robin
(so that load from other processes hits all backends alike), after a warm-up batch each,
reporting the median. Fidelity is measured against PyTorch at batch size 32: cosine
between the two embeddings of each passage, and the overlap of the top-10 neighbours among the
subset for 50 queries (the first sentence of 50 random passages). Nothing is downloaded; the
ONNX export is written to ``--cache-dir`` once.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.corpus import corpus_files, load_manifest, load_source  # noqa: E402
from assistant.embedding import MODEL_MAX_TOKENS, PACKAGED, model_path, token_counts  # noqa: E402
from assistant.onnx_backend import load_onnx_sentence_transformer  # noqa: E402
from assistant.passages import Chunker  # noqa: E402

Encode = Callable[[list[str]], np.ndarray]


@dataclass
class Row:
    name: str
    seconds: float
    vectors: np.ndarray
    queries: np.ndarray


def load_passage_texts(corpus: Path) -> list[str]:
    """Every passage's ``embed_text``, built exactly as ingest builds it."""
    manifest = load_manifest(corpus / "manifest.toml")
    chunker = Chunker(lambda t: token_counts(PACKAGED, t), 200)
    texts: list[str] = []
    for path in corpus_files(corpus):
        texts.extend(
            p.embed_text for p in chunker.passages(load_source(path, manifest.get(path.name)))
        )
    return texts


def first_sentence(text: str) -> str:
    """The first sentence of a passage's body (skipping a leading section-title line)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    body = " ".join(lines[1:] if len(lines) > 1 else lines)
    return re.split(r"(?<=[.!?])\s+", body.strip(), maxsplit=1)[0][:300]


def st_encoder(model: object, batch_size: int) -> Encode:
    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(  # type: ignore[attr-defined]
                texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        )

    return encode


def topk(queries: np.ndarray, docs: np.ndarray, k: int = 10) -> list[set[int]]:
    scores = queries @ docs.T
    return [set(np.argpartition(-row, k)[:k].tolist()) for row in scores]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=800, help="passages per timing")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per backend (median)")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "onnx")
    ap.add_argument("--batch-sizes", default="16,32,64,128")
    ap.add_argument("--onnx-batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    all_texts = load_passage_texts(args.corpus)
    rng = random.Random(args.seed)
    texts = rng.sample(all_texts, min(args.n, len(all_texts)))
    queries = [first_sentence(t) for t in rng.sample(texts, min(50, len(texts)))]
    words = sum(len(t.split()) for t in texts)
    tokens = sum(min(c + 2, MODEL_MAX_TOKENS) for c in token_counts(PACKAGED, texts))
    default_threads = torch.get_num_threads()
    print(
        f"{len(all_texts)} passages in corpus; timing {len(texts)}: {words} words, "
        f"{tokens} tokens (incl. [CLS]/[SEP], truncated at {MODEL_MAX_TOKENS}); "
        f"torch default threads = {default_threads}; {args.runs} runs, median",
        flush=True,
    )

    path = model_path(PACKAGED)
    # (name, torch threads while it runs, encode)
    variants: list[tuple[str, int, Encode]] = []
    st = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    st.max_seq_length = MODEL_MAX_TOKENS
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        variants.append(
            (f"torch bs={bs} threads={default_threads}", default_threads, st_encoder(st, bs))
        )
    for threads in sorted({1, 2} - {default_threads}):
        variants.append((f"torch bs=32 threads={threads}", threads, st_encoder(st, 32)))
    obs = args.onnx_batch_size
    for quantize, label in ((False, "onnx fp32"), (True, "onnx int8")):
        t0 = time.perf_counter()
        model = load_onnx_sentence_transformer(path, args.cache_dir, quantize)
        model.max_seq_length = MODEL_MAX_TOKENS
        print(f"  ({label} ready in {time.perf_counter() - t0:.1f} s)", flush=True)
        variants.append((f"{label} bs={obs}", default_threads, st_encoder(model, obs)))

    times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    vectors: dict[str, np.ndarray] = {}
    for _name, threads, encode in variants:  # warm-up
        torch.set_num_threads(threads)
        encode(texts[:32])
    for run in range(args.runs):
        for name, threads, encode in variants:
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            vectors[name] = encode(texts)
            times[name].append(time.perf_counter() - t0)
            print(f"  run {run + 1}: {name}: {times[name][-1]:.1f} s", flush=True)
    rows: list[Row] = []
    for name, threads, encode in variants:
        torch.set_num_threads(threads)
        rows.append(Row(name, statistics.median(times[name]), vectors[name], encode(queries)))
    torch.set_num_threads(default_threads)

    ref = next((r for r in rows if r.name.startswith("torch bs=32 ")), rows[0])
    ref_top = topk(ref.queries, ref.vectors)
    print()
    header = (
        f"{'backend':<26} {'words/s':>9} {'tokens/s':>9} {'x torch':>8} "
        f"{'cos mean':>9} {'cos min':>8} {'top10':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        cos = np.sum(r.vectors * ref.vectors, axis=1)
        overlap = np.mean(
            [len(a & b) / 10 for a, b in zip(topk(r.queries, r.vectors), ref_top, strict=True)]
        )
        print(
            f"{r.name:<26} {words / r.seconds:>9,.0f} {tokens / r.seconds:>9,.0f} "
            f"{ref.seconds / r.seconds:>8.2f} {cos.mean():>9.5f} {cos.min():>8.5f} {overlap:>6.3f}"
        )
    print(f"\nreference: {ref.name}; top10 = mean overlap of 50 queries' top-10 neighbours")


if __name__ == "__main__":
    main()
