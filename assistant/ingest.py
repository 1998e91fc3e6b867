"""Corpus folder -> store: incremental, idempotent, one writer at a time, never half-visible.

An ingest that changes anything writes a new generation of the store (see
:mod:`assistant.generations`): documents unchanged since the last complete generation are copied
from it with their vectors, changed and new ones are embedded, removed ones left out; only when
the new generation holds every document does the pointer switch to it. Readers use the last
complete generation all along. ``--rebuild`` (and a new model or chunker) embeds every document
anew and never opens the old generation, so it recovers from any state of it.

Each document is a unit of work inside the new generation: its passages are written in
batches, each batch recorded (``partial``), and its content hash recorded when it is whole. A
run killed half-way leaves the generation and the pointer's ``building`` record; the next run
goes on with it: whole documents stay, the half-written one goes on from its last recorded batch
(a batch written but not recorded is written again under the same ids), so nothing is
duplicated and nothing is lost.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout

from assistant.corpus import CorpusScan, scan_corpus
from assistant.embedding import TextEmbedder, token_counts
from assistant.errors import CorruptStoreError, StoreLockedError
from assistant.filling import (
    CUTTING,
    EMBEDDING,
    BuildRun,
    Counts,
    Docs,
    Filler,
    IngestProgress,
    Progress,
)
from assistant.folders import check_writable, folder_problem
from assistant.generations import Build, Pointer, Pointers, new_build, next_name
from assistant.passages import CHUNKER_VERSION, Chunker
from assistant.settings import Settings
from assistant.store import (
    LEGACY,
    PassageStore,
    drop_generation,
    has_legacy_store,
    list_generations,
)
from assistant.types import IngestReport

log = logging.getLogger(__name__)

# The progress an ingest reports is the filler's; it is imported from here.
__all__ = ["CUTTING", "EMBEDDING", "IngestProgress", "Ingester", "Progress", "writer_lock"]


@contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """Hold the store's write lock, or fail at once if another ingest holds it."""
    if not settings.chroma_host:
        check_writable(settings.vectorstore_dir)
    settings.vectorstore_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.vectorstore_dir / ".ingest.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise StoreLockedError(
            f"another ingest is writing {settings.vectorstore_dir}; wait for it to finish "
            "(or, if no ingest runs, delete .ingest.lock in that folder)."
        ) from None
    except OSError as exc:
        raise folder_problem(settings.vectorstore_dir, exc) or exc from exc
    try:
        yield
    finally:
        lock.release()


class Ingester:
    """Brings the store in line with the corpus folder."""

    def __init__(
        self, settings: Settings, embedder: TextEmbedder, pointers: Pointers | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.pointers = pointers or Pointers(settings)
        self.model = embedder.model_id
        self.chunker = Chunker(
            lambda texts: token_counts(settings.embedding_model, texts),
            settings.max_passage_tokens,
        )

    def run(self, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
        """Ingest the corpus folder; see the module docstring for the guarantees."""
        t0 = time.perf_counter()
        with writer_lock(self.settings):
            scan = scan_corpus(self.settings)
            pointer = self._pointer(rebuild)
            current = None if rebuild else self._open_current(pointer)
            old = current.state()["docs"] if current else {}
            fresh = rebuild or current is None or self._stale(current)
            counts = _compare(scan, {} if fresh else old)
            if current is not None and not fresh and not (counts.added or counts.updated
                                                          or counts.removed):  # fmt: skip
                self._discard_build(pointer)
                passages = current.count()
            else:
                run = self._start(pointer, fresh, len(scan.wanted))
                target = PassageStore(self.settings, self.embedder, run.build.name)
                Filler(
                    target, current, scan, counts, run, chunker=self.chunker,
                    embedder=self.embedder, batch_size=self.settings.write_batch_size,
                ).fill(progress)  # fmt: skip
                self._switch(pointer, target)
                passages = target.count()
        return IngestReport(
            added=counts.added, updated=counts.updated, removed=counts.removed,
            unchanged=counts.unchanged, embedded=counts.embedded, passages=passages,
            seconds=time.perf_counter() - t0, rebuilt=rebuild or (fresh and bool(old)),
            failed=tuple(scan.failed), warnings=(*scan.warnings, *scan.skipped),
            skipped=len(scan.skipped),
        )  # fmt: skip

    # -- which generation is read, which is written ------------------------------------------
    def _pointer(self, rebuild: bool) -> Pointer:
        try:
            return self.pointers.read()
        except CorruptStoreError:
            if not rebuild:
                raise
            return Pointer()  # a damaged pointer: start afresh; every generation goes after

    def _open_current(self, pointer: Pointer) -> PassageStore | None:
        if pointer.current is None:
            return None
        store = PassageStore(self.settings, self.embedder, pointer.current)
        store.state()  # a damaged store fails here: CorruptStoreError says `--rebuild`
        return store

    def _stale(self, current: PassageStore) -> bool:
        state = current.state()
        built = (state["model"], state["chunker"])
        stale = bool(state["docs"]) and built != (self.model, CHUNKER_VERSION)
        if stale:
            log.warning(
                "the store was built with model %s, chunker %s; this is %s, chunker %s: "
                "rebuilding it", *built, self.model, CHUNKER_VERSION,
            )  # fmt: skip
        return stale

    def _start(self, pointer: Pointer, fresh: bool, total: int) -> BuildRun:
        """Go on with the generation a stopped ingest left, when it suits; else a new one."""
        build = pointer.building
        if build is not None and self._resumable(build, fresh):
            log.info("going on with the unfinished generation %s", build.name)
            run = BuildRun(self.pointers, pointer.current, build)
            run.save(pid=os.getpid(), host=socket.gethostname(), total=total)
            return run
        if build is not None:
            drop_generation(self.settings, build.name)
        name = next_name(self.settings, pointer)
        run = BuildRun(self.pointers, pointer.current, new_build(name, fresh, self.model,
                                                                  CHUNKER_VERSION, total))  # fmt: skip
        run.save()  # first: a build that fails from here on is reported, resumed or dropped
        PassageStore(self.settings, self.embedder, name).set_state(self.model, CHUNKER_VERSION, {})
        return run

    def _resumable(self, build: Build, fresh: bool) -> bool:
        """Same model and chunker, and not copied from a store a rebuild no longer trusts."""
        if (build.model, build.chunker) != (self.model, CHUNKER_VERSION) or (fresh > build.fresh):
            return False
        try:
            PassageStore(self.settings, self.embedder, build.name).state()
        except CorruptStoreError as exc:
            log.warning("the unfinished generation %s is damaged (%s); starting anew", build.name,
                        exc)  # fmt: skip
            return False
        return True

    def _discard_build(self, pointer: Pointer) -> None:
        """Nothing to change: an unfinished generation left by a stopped ingest goes."""
        if pointer.building is not None:
            drop_generation(self.settings, pointer.building.name)
            self.pointers.write(Pointer(pointer.current, None))

    def _switch(self, pointer: Pointer, target: PassageStore) -> None:
        """Point readers at the finished generation, then delete every other one."""
        self.pointers.write(Pointer(target.generation, None))
        for name in list_generations(self.settings):
            if name != target.generation:
                drop_generation(self.settings, name)
        local_legacy = not self.settings.chroma_host and has_legacy_store(self.settings)
        if pointer.current == LEGACY or local_legacy:
            drop_generation(self.settings, LEGACY)


def _compare(scan: CorpusScan, old: Docs) -> Counts:
    """What the corpus changes against the last complete store's record."""
    counts = Counts()
    for w in scan.wanted:
        before = old.get(w.source)
        if before is None:
            counts.added += 1
        elif before.get("sha") != w.sha:
            counts.updated += 1
        else:
            counts.unchanged += 1
    counts.removed = len(set(old) - {w.source for w in scan.wanted})
    return counts
