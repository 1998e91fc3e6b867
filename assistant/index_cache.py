"""The passages and their BM25 index, kept on disk between runs.

Opening the assistant needs every passage's metadata (for citations, notes and filters) and a
BM25 index over them. Both come from the store, which takes a second for our corpus but minutes
for a hundred times as much: reading 300k records from Chroma and tokenising them all again.
So the first open writes them to disk (see :func:`cache_folder`) under a key made of what the store holds
(its recorded documents, chunker and model, its passage count, the tokeniser's version); later
opens read them back while the key still matches. Any ingest that changes the store changes the
key, so a stale copy is never used. The store remains the only source of truth: a missing,
unreadable or stale copy is rebuilt from it, never trusted. Every file of a copy is listed with
its sha256 in ``checksums.json``, written last; a copy whose files do not match (damaged on
disk, or edited by hand: a passage's text changed there would otherwise be quoted as verbatim)
is deleted, rebuilt from the store and written again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.expansion import expansion_key, lexical_texts
from assistant.lexical import LEXICAL_VERSION, LexicalIndex
from assistant.sentence_index import SentenceIndex
from assistant.settings import PROJECT_ROOT, Settings
from assistant.store import PassageStore, from_metadata, to_metadata
from assistant.types import Passage

log = logging.getLogger(__name__)

PASSAGES_FILE = "passages.jsonl"
VECTORS_FILE = "vectors.npy"
CHECKSUMS_FILE = "checksums.json"
INDEX_VERSION = 2  # 2: the passages' own vectors kept too (dense search in memory)


def store_key(store: PassageStore, expansion: str = "") -> str:
    """What the store holds (and the lexical index's expansion), as a short hash: equal keys,
    equal indexes."""
    state = {k: v for k, v in store.state().items() if k != "partial"}
    content = {"state": state, "count": store.count(), "lexical": LEXICAL_VERSION,
               "generation": store.generation, "index": INDEX_VERSION}  # fmt: skip
    if expansion:
        content["expansion"] = expansion
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:24]


def cache_folder(settings: Settings) -> Path:
    """Inside the store folder (it goes with the store); for a server, one folder per server
    and collection under ``.cache/index``. ``index_cache_dir`` moves either."""
    if settings.chroma_host:
        scheme = "https" if settings.chroma_ssl else "http"
        where = f"{scheme}://{settings.chroma_host}:{settings.chroma_port}"
    elif settings.index_cache_dir is None:
        return settings.vectorstore_dir / "index-cache" / settings.collection
    else:
        where = str(settings.vectorstore_dir.resolve())
    name = hashlib.sha256(f"{where}|{settings.collection}".encode()).hexdigest()[:16]
    return (settings.index_cache_dir or PROJECT_ROOT / ".cache" / "index") / name


@dataclass(frozen=True)
class Index:
    """What a snapshot searches: every passage in document order, the BM25 index over them,
    their own vectors (row i: passage i) and their sentences' vectors."""

    passages: list[Passage]
    lexical: LexicalIndex
    vectors: np.ndarray
    sentences: SentenceIndex


def load_or_build(settings: Settings, store: PassageStore) -> Index:
    """Every passage in document order, the BM25 index over them and their sentence vectors,
    from disk when current."""
    folder = cache_folder(settings)
    key = store_key(store, expansion_key(settings))
    saved = folder / key
    if saved.is_dir():
        try:
            return _read(saved)
        except Exception as exc:  # any damage at all: rebuild from the store, write it anew
            log.warning("index cache %s unreadable (%s); rebuilding it from the store", saved, exc)
            shutil.rmtree(saved, ignore_errors=True)
    # document order: the retriever's order (neighbours, previous sentence) and the BM25 rows'
    records = sorted(store.read_all(), key=lambda r: (r[0].source, r[0].start))
    passages = [p for p, _, _ in records]
    dim = store.embedder.dim
    index = Index(
        passages,
        LexicalIndex(lexical_texts(settings, passages), [p.doc_id for p in passages]),
        np.stack([v for _, _, v in records]) if records else np.zeros((0, dim), np.float32),
        SentenceIndex.build([p.id for p in passages], [v for _, v, _ in records], dim),
    )
    try:
        _write(folder, key, index)
    except OSError as exc:
        log.warning("index cache not written to %s (%s); the next start rebuilds it", folder, exc)
    return index


def _read(saved: Path) -> Index:
    _check(saved)
    passages = []
    with (saved / PASSAGES_FILE).open(encoding="utf-8") as f:
        for line in f:
            pid, meta, text = json.loads(line)
            passages.append(from_metadata(pid, meta, text))
    sentences = SentenceIndex.load(saved)
    if any(len(sentences.vectors(p.id)) != len(p.sentences) for p in passages):
        raise ValueError("sentence vectors do not match the passages' sentences")
    vectors = np.load(saved / VECTORS_FILE)
    if len(vectors) != len(passages):
        raise ValueError("passage vectors do not match the passages")
    lexical = LexicalIndex.load(saved, [p.doc_id for p in passages])
    return Index(passages, lexical, vectors, sentences)


def _write(folder: Path, key: str, index: Index) -> None:
    """Write into a private folder, then rename it into place: readers see all or nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with (tmp / PASSAGES_FILE).open("w", encoding="utf-8") as f:
        for p in index.passages:
            row: list[Any] = [p.id, to_metadata(p), p.embed_text]
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    index.lexical.save(tmp)
    np.save(tmp / VECTORS_FILE, index.vectors.astype(np.float32))
    index.sentences.save(tmp)
    sums = {str(f.relative_to(tmp)): _sha256(f) for f in sorted(tmp.rglob("*")) if f.is_file()}
    (tmp / CHECKSUMS_FILE).write_text(json.dumps(sums, sort_keys=True), encoding="utf-8")
    try:
        tmp.rename(folder / key)
    except OSError:  # another process put the same key in place first
        shutil.rmtree(tmp, ignore_errors=True)
    for old in folder.iterdir():  # copies for what the store held before
        if old.name != key and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)


def _check(saved: Path) -> None:
    """Every file of a saved copy is there and unchanged, and nothing was added."""
    sums = json.loads((saved / CHECKSUMS_FILE).read_text(encoding="utf-8"))
    present = {str(f.relative_to(saved)) for f in saved.rglob("*") if f.is_file()}
    if present - {CHECKSUMS_FILE} != set(sums):
        raise ValueError("files were added to or removed from the copy")
    for name, digest in sums.items():
        if _sha256(saved / name) != digest:
            raise ValueError(f"{name} does not match its checksum")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
