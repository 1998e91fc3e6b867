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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from filelock import FileLock, Timeout

from assistant.corpus import CorpusScan, SourceFile, Wanted, load_source, scan_corpus
from assistant.embedding import TextEmbedder, token_counts
from assistant.errors import AssistantError, CorruptStoreError, IngestError, StoreLockedError
from assistant.folders import check_writable, folder_problem
from assistant.generations import Build, Pointer, Pointers, new_build, next_name
from assistant.passages import CHUNKER_VERSION, Chunker, Plan
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

CUTTING, EMBEDDING = "cutting", "embedding"


@dataclass(frozen=True)
class IngestProgress:
    """Where an ingest stands.

    While a file is cut (``stage`` :data:`CUTTING`), ``done`` and ``total`` count that file's
    characters. Then every file to embed has been cut, and while they are embedded (``stage``
    :data:`EMBEDDING`), ``done`` and ``total`` count passages of all of them together: sent
    before the first batch of each file and after every batch.
    """

    file: str  # the file being cut or embedded
    file_number: int  # 1-based among the files this run embeds
    files: int  # files this run embeds
    done: int
    total: int
    stage: str = EMBEDDING


Progress = Callable[[IngestProgress], None]
Docs = dict[str, dict[str, Any]]  # source -> {"sha", "file", "n"}


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


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0


@dataclass
class BuildRun:
    """The generation one ingest writes, its progress kept in the pointer for readers."""

    pointers: Pointers
    current: str | None  # the last complete generation, which readers use meanwhile
    build: Build

    def save(self, **changes: Any) -> None:
        self.build = replace(self.build, **changes)
        self.pointers.write(Pointer(self.current, self.build))


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
                Filler(self, target, current, scan, counts, run).fill(progress)
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


class Filler:
    """Puts every wanted document into the generation being built."""

    def __init__(
        self,
        ingester: Ingester,
        target: PassageStore,
        current: PassageStore | None,
        scan: CorpusScan,
        counts: Counts,
        run: BuildRun,
    ) -> None:
        self.ingester = ingester
        self.target = target
        self.current = current if not run.build.fresh else None  # a fresh build copies nothing
        self.old: Docs = self.current.state()["docs"] if self.current else {}
        self.scan = scan
        self.counts = counts
        self.run = run
        state = target.state()
        wanted = {w.source for w in scan.wanted}
        self.docs: Docs = {s: d for s, d in state["docs"].items() if s in wanted}
        self.partial: dict[str, Any] | None = state["partial"]

    def fill(self, progress: Progress | None) -> None:
        keep = set(self.docs)
        if self.partial and (self.partial["source"], self.partial["sha"]) in {
            (w.source, w.sha) for w in self.scan.wanted
        }:
            keep.add(self.partial["source"])  # goes on from its last recorded batch
        else:
            self.partial = None
        if self.target.count() != sum(int(d["n"]) for d in self.docs.values()):
            self.target.delete_except(keep)  # removed documents, a stopped run's leftovers
        todo = [w for w in self.scan.wanted if self.docs.get(w.source, {}).get("sha") != w.sha]
        cuts = self._cut_all([w for w in todo if not self._unchanged(w)], progress)
        if cuts:  # the model loaded before the bar starts: its rate is embedding's
            self.ingester.embedder.load()
        tally = _Tally(progress, len(cuts), sum(c.left for c in cuts.values()))
        pending = {w.source for w in todo}
        for w in self.scan.wanted:
            if w.source in pending:
                record = self._document(w, cuts.get(w.source), tally)
                if record is not None:
                    self.docs[w.source] = record
                    self._record()
            self.run.save(done=len(self.docs))
        expected = sum(int(d["n"]) for d in self.docs.values())
        if self.target.count() != expected:
            raise AssistantError(
                f"the new store holds {self.target.count()} passages where its record counts "
                f"{expected}; run `assistant ingest --rebuild`."
            )

    def _unchanged(self, w: Wanted) -> bool:
        before = self.old.get(w.source)
        return before is not None and before.get("sha") == w.sha

    def _cut_all(self, todo: list[Wanted], progress: Progress | None) -> dict[str, _Cut]:
        """Every file to embed, parsed and cut before any is embedded (so the progress knows
        how many passages there are); a file that cannot be read is a failure, left out."""
        cuts: dict[str, _Cut] = {}
        for number, w in enumerate(todo, start=1):
            tell = None
            if progress:
                at = IngestProgress(w.path.name, number, len(todo), 0, 0, CUTTING)
                tell = partial(_cutting, progress, at)
            try:
                src = load_source(w.path, w.entry)
                plan = self.ingester.chunker.plan(src, tell)
            except IngestError as exc:
                self.scan.failed.append(str(exc))
                log.info("%s", exc)  # reported as failed
                continue
            resumed = self.partial or {}
            done = int(resumed["done"]) if resumed.get("source") == w.source else 0
            cuts[w.source] = _Cut(src, plan, done, len(cuts) + 1)
        return cuts

    def _record(self, partial: dict[str, Any] | None = None) -> None:
        self.target.set_state(self.ingester.model, CHUNKER_VERSION, self.docs, partial)

    def _document(self, w: Wanted, cut: _Cut | None, tally: _Tally) -> dict[str, Any] | None:
        """One document into the new generation: copied when unchanged, else embedded. Its
        record; None when it cannot be read and has no earlier version to keep."""
        before = self.old.get(w.source)
        self.docs.pop(w.source, None)  # an earlier version written by a stopped run
        if before is not None and (self._unchanged(w) or cut is None):
            return self._copy(w.source, before)  # unchanged, or the file went bad
        if cut is None:
            return None
        embedded = self._embed(w, cut, tally)
        self.counts.embedded += embedded
        return {"sha": w.sha, "file": w.file_sha, "n": len(cut.plan)}

    def _copy(self, source: str, record: dict[str, Any]) -> dict[str, Any]:
        assert self.current is not None  # only documents of the current store are copied
        self.target.delete_source(source)
        self.target.copy_source(self.current, source)
        return dict(record)

    def _embed(self, w: Wanted, cut: _Cut, tally: _Tally) -> int:
        """Embed and write one cut file batch by batch, each batch recorded; returns how many
        passages were embedded now (a resumed file: the rest).

        Only the plan of the file (offsets, ids, links) is held whole; passages are made a
        batch at a time, so a large file costs its text and its plan, not its passages twice.
        """
        src, plan, start = cut.src, cut.plan, cut.start
        if not start:
            self.target.delete_source(w.source)
        batch = self.ingester.settings.write_batch_size
        chunker, embedder = self.ingester.chunker, self.ingester.embedder
        tally.begin(w.path.name, cut.number)
        for b in range(start, len(plan), batch):
            part = chunker.materialize(src, plan, b, b + batch)
            self.target.add(part, embedder.embed_passages(part))
            self._record({"source": w.source, "sha": w.sha, "done": b + len(part)})
            tally.add(len(part))
        return len(plan) - start


@dataclass(frozen=True)
class _Cut:
    """A file parsed and cut, waiting to be embedded from passage ``start`` on."""

    src: SourceFile
    plan: Plan
    start: int  # passages already written by a stopped run
    number: int  # 1-based among the files this run embeds

    @property
    def left(self) -> int:
        return len(self.plan) - self.start


class _Tally:
    """Passages embedded so far, over all the files of a run, told to the progress."""

    def __init__(self, progress: Progress | None, files: int, total: int) -> None:
        self.progress = progress
        self.at = IngestProgress("", 0, files, 0, total)

    def begin(self, file: str, number: int) -> None:
        self.at = replace(self.at, file=file, file_number=number)
        self._tell()

    def add(self, n: int) -> None:
        self.at = replace(self.at, done=self.at.done + n)
        self._tell()

    def _tell(self) -> None:
        if self.progress:
            self.progress(self.at)


def _cutting(progress: Progress, at: IngestProgress, done: int, total: int) -> None:
    progress(replace(at, done=done, total=total))


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
