"""Re-ingesting does not grow memory: each ingest makes a new store generation and each
question loads its index, and what the old ones held must go with them.

The fake embedder (no model, so the test takes seconds); tracemalloc counts what Python and
numpy allocate (Chroma's own Rust allocations are not seen: its files are, through the store
generations that test_store_faults.py checks are deleted).
"""

from __future__ import annotations

import gc
import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from tests.conftest import fake, small_corpus
from tests.helpers import SEDOVA, SEDOVA_Q

ROUNDS = 20
WARM_UP = 3  # the first rounds import and cache what every later round reuses
NOTES = (  # two versions in turn: every round changes the file, never the vocabulary
    "A note on the samovar.\n\nThe samovar in the study was brass.\n",
    "A note on the samovar.\n\nThe samovar in the study was copper.\n",
)


@pytest.fixture
def traced() -> Iterator[None]:
    """tracemalloc on; log records off (pytest keeps every record of a test in memory, and
    each ingest warns that the manifest names documents this corpus lacks)."""
    logging.disable(logging.WARNING)
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()
        logging.disable(logging.NOTSET)


def traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def one_round(a: Assistant, note: Path, n: int) -> None:
    """Change a file, ingest (a new generation), and ask (its index loaded)."""
    note.write_text(NOTES[n % 2], encoding="utf-8")
    report = a.ingest()
    assert report.embedded > 0 and not report.failed  # the note, embedded anew
    assert not a.ask(SEDOVA_Q).abstained


def index_size(s: Settings) -> int:
    """What one loaded index of this corpus holds: what a leak would keep per round."""
    before = traced_now()
    other = fake(s)
    other.ask(SEDOVA_Q)
    size = traced_now() - before
    del other
    return size


@pytest.mark.usefixtures("traced")
def test_twenty_reingests_with_questions_between_do_not_grow_memory(tmp_path: Path) -> None:
    s = Settings(corpus_dir=small_corpus(tmp_path / "corpus", (SEDOVA,)),
                 vectorstore_dir=tmp_path / "vs", index_cache_dir=tmp_path / "ic")  # fmt: skip
    note = s.corpus_dir / "note.txt"
    a = fake(s)
    for n in range(WARM_UP):
        one_round(a, note, n)
    per_index = index_size(s)
    start = traced_now()
    for n in range(WARM_UP, WARM_UP + ROUNDS):
        one_round(a, note, n)
    growth = traced_now() - start
    # A leak of one index per round would grow by ROUNDS * per_index (about 7 MB here); the
    # bound, a quarter of one index (about 90 KB) over all twenty rounds, leaves room for
    # small bounded caches (about 17 KB in all, measured) and fails a leak of more than 1/80 of an
    # index per round (a simulated one, every generation's snapshot kept, failed at once).
    assert per_index > 100_000, per_index  # the yardstick itself measures something
    assert growth < per_index / 4, (growth, per_index)
