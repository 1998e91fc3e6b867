"""Our sentence splitter against pysbd on the corpus fixtures of tests/test_sentences.py.

    .venv/bin/pip install pysbd        # not a dependency: only this comparison uses it
    .venv/bin/python -m benchmarks.sentence_split

Prints, for each splitter, the fixtures it splits exactly as expected, and its time over the
whole corpus. pysbd splits with offsets (``char_span=True``), English or Russian rules by the
fixture's script.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from assistant.corpus import corpus_files, read_source
from assistant.parsing import language_of, paragraphs
from assistant.sentences import sentence_spans
from tests.test_sentences import SPLIT_FIXTURES

ROOT = Path(__file__).resolve().parent.parent


def ours(text: str) -> list[str]:
    return [text[u.start : u.end] for u in sentence_spans(text, 0, len(text))]


def pysbd_splitter() -> object:
    import pysbd

    seg = {
        lang: pysbd.Segmenter(language=lang, clean=False, char_span=True) for lang in ("en", "ru")
    }

    def split(text: str) -> list[str]:
        spans = seg[language_of(text)].segment(text)
        return [text[s.start : s.end].strip() for s in spans if text[s.start : s.end].strip()]

    return split


def main() -> int:
    splitters = {"ours": ours}
    try:
        splitters["pysbd"] = pysbd_splitter()  # type: ignore[assignment]
    except ImportError:
        print("pysbd is not installed: pip install pysbd")
    texts = [read_source(f) for f in corpus_files(ROOT / "corpus")]
    for name, split in splitters.items():
        right = [split(text) == expected for text, expected in SPLIT_FIXTURES]
        t0 = time.perf_counter()
        n = sum(len(split(t[s:e])) for t in texts for s, e in paragraphs(t))
        seconds = time.perf_counter() - t0
        print(f"{name:6} fixtures {sum(right)}/{len(right)}  corpus: {n} sentences in "
              f"{seconds:.1f} s")  # fmt: skip
        for (text, _), ok in zip(SPLIT_FIXTURES, right, strict=True):
            if not ok:
                print(f"   wrong: {text[:70]!r} -> {split(text)[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
