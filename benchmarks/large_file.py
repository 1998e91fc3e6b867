"""One large file (issue 17): how long it takes to ingest, how much memory, how fast per word.

    python benchmarks/large_file.py make /tmp/large --mb 50     # corpus/ with our five files
                                                                # and large.txt (50 MB)
    python benchmarks/large_file.py chunk /tmp/large/corpus/large.txt   # parse and cut only
    python benchmarks/large_file.py ingest /tmp/large/corpus /tmp/large/vs   # the real ingest

(Run as a script: a dependency installs a package of its own called ``benchmarks``.)

``large.txt`` is our book, copied and perturbed (``benchmarks.scale_corpus.perturb``, a new seed
per copy) until it reaches the size asked for, so its passages differ from copy to copy.
``chunk`` and ``ingest`` print one JSON line: seconds, words, words per second, passages and the
peak resident memory of the process (``VmHWM``) that did the work; ``ingest`` runs the command
line's ``assistant ingest`` in a child process, so the model is included.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from assistant.settings import PROJECT_ROOT  # noqa: E402

BOOK = "rogovin_was_there_an_alternative_1923-1927.txt"
ENTRY = """
[[document]]
file = "large.txt"
id = "large-file"
title = "A large file (the book, copied and perturbed)"
authors = ["Vadim Z. Rogovin"]
date = "1998"
kind = "book"
languages = ["en"]
"""


def make(dest: Path, mb: float, seed: int = 0) -> Path:
    """``dest/corpus``: our corpus, plus ``large.txt`` of ``mb`` megabytes and its entry."""
    from scale_corpus import perturb  # this folder's (see the module docstring)

    from assistant.corpus import read_source

    corpus = dest / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus, dirs_exist_ok=True)
    text = read_source(PROJECT_ROOT / "corpus" / BOOK)
    target = int(mb * 1024 * 1024)
    size = 0
    with (corpus / "large.txt").open("w", encoding="utf-8") as f:
        copy = 0
        while size < target:
            part = perturb(text, "book", random.Random(seed + copy)) + "\n\n"
            f.write(part)
            size += len(part.encode("utf-8"))
            copy += 1
    manifest = corpus / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + ENTRY, encoding="utf-8")
    return corpus / "large.txt"


def count_words(text: str) -> int:
    """Words (runs of non-space), counted without a list of them (8 million for 50 MB)."""
    return sum(1 for _ in re.finditer(r"\S+", text))


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def chunk(path: Path) -> dict[str, float]:
    """Parse and cut one file as an ingest does (the plan, then the passages a batch at a
    time), without embedding."""
    from assistant.corpus import load_source
    from assistant.embedding import token_counts
    from assistant.passages import Chunker
    from assistant.settings import Settings

    s = Settings()
    chunker = Chunker(lambda t: token_counts(s.embedding_model, t), s.max_passage_tokens)
    t0 = time.perf_counter()
    src = load_source(path, None)
    words = count_words(src.text)
    plan = chunker.plan(src)
    for b in range(0, len(plan), s.write_batch_size):
        chunker.materialize(src, plan, b, b + s.write_batch_size)
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 1), "words": words, "passages": len(plan),
            "words_per_s": round(words / seconds), "peak_rss_mib": round(peak_rss_mib())}  # fmt: skip


def ingest(corpus: Path, store: Path) -> dict[str, float]:
    """``assistant ingest`` in a child; its seconds, the corpus's words per second, its peak."""
    env_line = (
        "import json, sys, time; from pathlib import Path; sys.path.insert(0, sys.argv[3]); "
        "from assistant import Assistant, Settings; from large_file import peak_rss_mib; "
        "a = Assistant(Settings(corpus_dir=Path(sys.argv[1]), vectorstore_dir=Path(sys.argv[2]))); "
        "a.embedder.load(); t = time.perf_counter(); r = a.ingest(); "
        "print(json.dumps({'seconds': time.perf_counter() - t, 'passages': r.passages, "
        "'embedded': r.embedded, 'peak_rss_mib': peak_rss_mib()}))"
    )
    here = str(Path(__file__).resolve().parent)
    out = subprocess.run([sys.executable, "-c", env_line, str(corpus), str(store), here],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    got = json.loads(out.stdout.strip().splitlines()[-1])
    words = sum(count_words(p.read_text(encoding="utf-8", errors="replace"))
                for p in corpus.iterdir() if p.suffix in (".txt", ".md"))  # fmt: skip
    got["words"] = words
    got["words_per_s"] = round(words / got["seconds"])
    return got


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("make")
    m.add_argument("dest", type=Path)
    m.add_argument("--mb", type=float, default=50.0)
    c = sub.add_parser("chunk")
    c.add_argument("path", type=Path)
    i = sub.add_parser("ingest")
    i.add_argument("corpus", type=Path)
    i.add_argument("store", type=Path)
    args = p.parse_args(argv)
    if args.what == "make":
        print(make(args.dest, args.mb))
    elif args.what == "chunk":
        print(json.dumps(chunk(args.path)))
    else:
        print(json.dumps(ingest(args.corpus, args.store)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
