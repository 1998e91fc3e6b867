"""Corpus folder -> store: incremental, idempotent, one writer at a time.

Each document is a unit of work: its old passages are deleted, its new ones written in
batches, and only then is its content hash recorded in the store. A run killed half-way
leaves a document whose hash is not recorded; the next run deletes whatever of it was
written and writes it again, so nothing is duplicated and nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from assistant.corpus import (
    corpus_files,
    document_info,
    load_manifest,
    load_source,
    relative_source,
)
from assistant.embedding import Embedder, token_counts
from assistant.errors import AssistantError, IngestError, StoreLockedError
from assistant.passages import CHUNKER_VERSION, Chunker
from assistant.settings import Settings
from assistant.store import PassageStore
from assistant.types import IngestReport, Passage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestProgress:
    """Where an ingest stands: sent before the first batch is embedded and after every batch."""

    file: str  # the file being embedded
    file_number: int  # 1-based among the files this run embeds
    files: int  # files this run embeds
    done: int  # passages embedded and written so far in this run
    total: int  # passages this run embeds, all files together


Progress = Callable[[IngestProgress], None]


def _tell(progress: Progress | None, at: IngestProgress, written: int) -> None:
    if progress:
        progress(replace(at, done=at.done + written))


@contextmanager
def writer_lock(settings: Settings) -> Any:
    """Hold the store's write lock, or fail at once if another ingest holds it."""
    settings.vectorstore_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.vectorstore_dir / ".ingest.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise StoreLockedError(
            f"another ingest is writing {settings.vectorstore_dir}; wait for it to finish "
            "(or, if no ingest runs, delete .ingest.lock in that folder)."
        ) from None
    try:
        yield
    finally:
        lock.release()


def fingerprint(path: Path, entry: dict[str, Any] | None) -> str:
    """Content hash of a file together with its manifest entry."""
    h = hashlib.sha256(path.read_bytes())
    h.update(json.dumps(entry or {}, sort_keys=True, default=str).encode())
    return h.hexdigest()


class Ingester:
    """Brings the store in line with the corpus folder."""

    def __init__(self, settings: Settings, store: PassageStore, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.chunker = Chunker(
            lambda texts: token_counts(settings.embedding_model, texts),
            settings.max_passage_tokens,
        )

    def run(self, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
        """Ingest the corpus folder; see the module docstring for the guarantees."""
        t0 = time.perf_counter()
        with writer_lock(self.settings):
            files = corpus_files(self.settings.corpus_dir)
            if not files:
                raise IngestError(
                    f"the corpus folder {self.settings.corpus_dir} holds no .txt or .md files; "
                    "add documents there and run `assistant ingest` again."
                )
            manifest = load_manifest(self.settings.manifest_path)
            rebuilt = self._check_build(rebuild)
            report = self._sync(files, manifest, progress)
        return IngestReport(
            **{**report, "seconds": time.perf_counter() - t0, "rebuilt": rebuilt},
            passages=self.store.count(),
        )

    def _check_build(self, rebuild: bool) -> bool:
        state = self.store.state()
        model, chunker = self.embedder.model_id, CHUNKER_VERSION
        stale = state["docs"] and (state["model"] != model or state["chunker"] != chunker)
        if rebuild or stale:
            if stale:
                log.warning(
                    "the store was built with model %s, chunker %s; this is %s, chunker %s: "
                    "rebuilding it",
                    state["model"], state["chunker"], model, chunker,
                )  # fmt: skip
            self.store.reset()
            self.store.set_state(model, chunker, {})
            return True
        if not state["docs"]:
            self.store.set_state(model, chunker, {})
        return False

    def _sync(
        self, files: list[Path], manifest: dict[str, dict[str, Any]], progress: Progress | None
    ) -> dict[str, Any]:
        docs: dict[str, dict[str, Any]] = dict(self.store.state()["docs"])
        counts = {"added": 0, "updated": 0, "removed": 0, "unchanged": 0, "embedded": 0}
        files, failed = self._unique_ids(files, manifest)
        warnings = [
            f"{f.name}: no manifest entry; metadata derived from its name"
            for f in files
            if f.name not in manifest
        ]
        for w in warnings:
            log.info(w)  # the report carries it; whoever shows the report shows it once
        current = {relative_source(f): f for f in files}
        todo = []
        for source, path in current.items():
            sha = fingerprint(path, manifest.get(path.name))
            if docs.get(source, {}).get("sha") == sha:
                counts["unchanged"] += 1
            else:
                todo.append((source, path, sha))
        for source in sorted(set(docs) - set(current)):
            self.store.delete_source(source)
            docs.pop(source)
            counts["removed"] += 1
            self._save(docs)
        chunked = []
        for source, path, sha in todo:  # cut every file first: the progress knows the total
            try:
                chunked.append((source, sha, path.name, self._passages(path, manifest)))
            except IngestError as exc:
                log.info("%s", exc)  # reported as failed
                failed.append(str(exc))
        total = sum(len(ps) for *_, ps in chunked)
        if chunked:
            _ = self.embedder.model  # loaded before the progress starts: its rate is embedding's
        done = 0
        for i, (source, sha, name, passages) in enumerate(chunked, start=1):
            at = IngestProgress(name, i, len(chunked), done, total)
            self._write(source, passages, partial(_tell, progress, at))
            done += len(passages)
            counts["updated" if source in docs else "added"] += 1
            counts["embedded"] += len(passages)
            docs[source] = {"sha": sha, "n": len(passages)}
            self._save(docs)
        self._sweep_orphans(docs)
        return {**counts, "failed": tuple(failed), "warnings": tuple(warnings)}

    def _unique_ids(
        self, files: list[Path], manifest: dict[str, dict[str, Any]]
    ) -> tuple[list[Path], list[str]]:
        """Files whose document id is unique; a later file repeating an id is left out (its
        identical passages would share ids with the first file's and overwrite them)."""
        owner: dict[str, Path] = {}
        kept: list[Path] = []
        clashes: list[str] = []
        for f in files:
            doc_id = document_info(f, manifest.get(f.name)).id
            if doc_id in owner:
                clashes.append(
                    f"{f.name}: its document id '{doc_id}' is already that of "
                    f"{owner[doc_id].name}; give it its own id in {self.settings.manifest_name}."
                )
                log.info("%s", clashes[-1])  # reported as failed
                continue
            owner[doc_id] = f
            kept.append(f)
        return kept, clashes

    def _save(self, docs: dict[str, dict[str, Any]]) -> None:
        self.store.set_state(self.embedder.model_id, CHUNKER_VERSION, docs)

    def _passages(self, path: Path, manifest: dict[str, dict[str, Any]]) -> list[Passage]:
        return self.chunker.passages(load_source(path, manifest.get(path.name)))

    def _write(self, source: str, passages: list[Passage], written: Callable[[int], None]) -> None:
        """Replace a source's passages in the store, batch by batch, telling how many are in."""
        self.store.delete_source(source)
        batch = self.settings.write_batch_size
        written(0)
        for b in range(0, len(passages), batch):
            part = passages[b : b + batch]
            self.store.add(part, self.embedder.embed_passages(part))
            written(b + len(part))

    def _sweep_orphans(self, docs: dict[str, dict[str, Any]]) -> None:
        """Remove passages of sources the store no longer records (an interrupted run's)."""
        expected = sum(int(d.get("n", 0)) for d in docs.values())
        if self.store.count() == expected:
            return
        known = set(docs)
        stray = {p.source for p in self.store.all_passages()} - known
        for source in stray:
            self.store.delete_source(source)
        if self.store.count() != expected:
            raise AssistantError(
                "the store holds passages its record does not account for; "
                "run `assistant ingest --rebuild`."
            )
