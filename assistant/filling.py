"""Filling one generation of the store: every wanted document copied or cut and embedded.

:class:`assistant.ingest.Ingester` decides which generation is written and when readers switch
to it; a :class:`Filler` puts the documents into it, recording each batch so that a stopped run
goes on where it stopped, and tells the progress (:class:`IngestProgress`) on the way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from assistant.corpus import CorpusScan, SourceFile, Wanted, load_source
from assistant.embedding import TextEmbedder
from assistant.errors import AssistantError, IngestError
from assistant.generations import Build, Pointer, Pointers
from assistant.passages import CHUNKER_VERSION, Chunker, Plan
from assistant.store import PassageStore

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


class Filler:
    """Puts every wanted document into the generation being built."""

    def __init__(
        self,
        target: PassageStore,
        current: PassageStore | None,
        scan: CorpusScan,
        counts: Counts,
        run: BuildRun,
        *,
        chunker: Chunker,
        embedder: TextEmbedder,
        batch_size: int,
    ) -> None:
        """Fill ``target`` (the generation ``run`` builds) with ``scan``'s documents: copied
        from ``current`` when unchanged, else cut by ``chunker`` and embedded by ``embedder``
        ``batch_size`` passages at a time; ``counts`` gets how many were embedded."""
        self.chunker = chunker
        self.embedder = embedder
        self.batch_size = batch_size
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
            self.embedder.load()
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
                plan = self.chunker.plan(src, tell)
            except IngestError as exc:
                self.scan.failed.append(str(exc))
                log.info("%s", exc)  # reported as failed
                continue
            resumed = self.partial or {}
            done = int(resumed["done"]) if resumed.get("source") == w.source else 0
            cuts[w.source] = _Cut(src, plan, done, len(cuts) + 1)
        return cuts

    def _record(self, partial: dict[str, Any] | None = None) -> None:
        self.target.set_state(self.embedder.model_id, CHUNKER_VERSION, self.docs, partial)

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
        batch = self.batch_size
        chunker, embedder = self.chunker, self.embedder
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
