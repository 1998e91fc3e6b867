"""The Chroma vector store: the passages of one generation in one collection.

This module works on a collection; :mod:`assistant.store_client` makes the clients (an
embedded folder or a Chroma server) and keeps the generations. The two are the only modules
that import chromadb. Reads and writes both go to chromadb directly, not through
langchain-chroma: its ``add_texts`` ends in the same ``upsert`` (3,249 passages, 384-d: 8-9 s
either way, within the shared machine's noise), but its searches always fetch every hit's
document and metadata, sentence vectors and all: 100 searches of 60 took 1.6 s against
0.29 s (medians of 3 runs), and a question makes one.

The collection's metadata records which embedding model and chunker built it, and the content
hash of every document it holds, so that an ingest can skip what is unchanged and rebuild
what was built differently.

A store comes in generations (see :mod:`assistant.generations`): an ingest that changes
anything writes a new one beside the last complete one, which readers go on using until the
new one is done. A local generation is a folder of its own, ``<vectorstore_dir>/gen-000003``
(a whole Chroma database: a damaged one cannot spoil the next); on a server it is a
collection, ``passages.gen-000003``. Generation ``""`` is the layout before generations
existed: Chroma's files straight in the store folder, or the plain collection name.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import httpx
import numpy as np

from assistant.embedding import TextEmbedder
from assistant.errors import CorruptStoreError, StoreError
from assistant.folders import folder_problem
from assistant.sentence_index import PassageVectors, decode, encode
from assistant.settings import Settings
from assistant.store_client import (
    GENERATION_RE,
    LEGACY,
    close_client,
    collection_name,
    drop_generation,
    generation_path,
    has_legacy_store,
    list_generations,
    make_client,
    read_server_pointer,
    server_has_legacy_store,
    server_unavailable,
    write_server_pointer,
)
from assistant.types import Passage, StoreState

# generations.py and ingest.py take the generations' functions from here
__all__ = [
    "GENERATION_RE",
    "HNSW_CONFIG",
    "LEGACY",
    "SENTENCE_VECTORS",
    "PassageStore",
    "drop_generation",
    "from_metadata",
    "has_legacy_store",
    "list_generations",
    "read_server_pointer",
    "server_has_legacy_store",
    "to_metadata",
    "write_server_pointer",
]

_LIST_FIELDS = ("notes", "refs")
_SPAN_FIELDS = ("sentences",)
_SKIP_FIELDS = ("score", "embed_text")
SENTENCE_VECTORS = "sentence_vectors"  # metadata key: the passage's sentence vectors
# HNSW is approximate, and two builds of the same passages (the folder's and a server's, or two
# folders') make different graphs: at Chroma's default ef_search of 100 they disagree on a few
# of the 60 dense candidates for about half the questions. At 1000 the search is exact for a
# corpus of this size (a few thousand passages) and costs no measurable time.
_EF_SEARCH = 1000
HNSW_CONFIG: dict[str, Any] = {"hnsw": {"space": "cosine", "ef_search": _EF_SEARCH}}


def to_metadata(p: Passage) -> dict[str, Any]:
    """Passage fields as Chroma metadata (scalars only; lists as JSON)."""
    meta: dict[str, Any] = {}
    for f in fields(Passage):
        if f.name in _SKIP_FIELDS or f.name == "id":
            continue
        value = getattr(p, f.name)
        if f.name in _LIST_FIELDS or f.name in _SPAN_FIELDS:
            value = json.dumps([list(v) if isinstance(v, tuple) else v for v in value])
        meta[f.name] = value
    return meta


def from_metadata(pid: str, meta: dict[str, Any], embed_text: str, score: float = 0.0) -> Passage:
    """The inverse of :func:`to_metadata`."""
    values = dict(meta)
    for name in _LIST_FIELDS:
        values[name] = tuple(json.loads(values.get(name) or "[]"))
    for name in _SPAN_FIELDS:
        values[name] = tuple((int(s), int(e)) for s, e in json.loads(values.get(name) or "[]"))
    known = {f.name for f in fields(Passage)}
    values = {k: v for k, v in values.items() if k in known}
    return Passage(id=pid, score=score, embed_text=embed_text, **values)


class PassageStore:
    """Passages and their vectors in one Chroma collection: one generation of the store."""

    def __init__(
        self, settings: Settings, embedder: TextEmbedder, generation: str = LEGACY
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.generation = generation
        self.folder = generation_path(settings, generation)
        self.client = make_client(settings, generation)
        # chromadb stops a folder's shared system when its last client is closed
        self._close = weakref.finalize(self, close_client, self.client)
        self.name = collection_name(settings, generation)
        # the collection handle searches reuse (a lookup costs ~10 ms); opening it here makes
        # a damaged store fail at once
        self._cached: Any = self._open_collection()

    def close(self) -> None:
        """Close the client (also done when the store is collected)."""
        self._close()

    def _open_collection(self) -> Any:
        try:
            return self.client.get_or_create_collection(
                name=self.name, embedding_function=None, configuration=HNSW_CONFIG
            )
        except Exception as exc:
            raise self._unreadable(f"the collection '{self.name}' cannot be opened", exc) from exc

    def _unreadable(self, what: str, exc: Exception) -> StoreError:
        """A server that stopped answering is not a damaged store, nor is a folder this user
        cannot write or a full disk: rebuilding would not help."""
        if self.settings.chroma_host:
            if isinstance(exc, httpx.TransportError):
                return server_unavailable(self.settings, exc)
        elif (problem := folder_problem(self.settings.vectorstore_dir, exc)) is not None:
            return problem
        return CorruptStoreError(f"{what} ({exc}); run `assistant ingest --rebuild`.")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Chroma's write errors, told apart: a full disk or a permission is said as such."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            if self.settings.chroma_host:
                if isinstance(exc, httpx.TransportError):
                    raise server_unavailable(self.settings, exc) from exc
                raise
            problem = folder_problem(self.settings.vectorstore_dir, exc)
            if problem is not None:
                raise problem from exc
            raise

    # -- state recorded in the collection's metadata ---------------------------------------
    def state(self) -> StoreState:
        """Which model and chunker made the store, the documents it holds whole, and the one
        being written (None when none is)."""
        with self._reading():
            meta = self._collection().metadata or {}
        try:
            return StoreState.from_metadata(meta)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptStoreError(
                f"the store's record of its documents is damaged ({exc!r}); run "
                "`assistant ingest --rebuild`."
            ) from None

    def set_state(self, state: StoreState) -> None:
        with self._writing():
            self._collection().modify(metadata=state.to_metadata())

    def _collection(self) -> Any:
        try:
            return self.client.get_collection(self.name)
        except Exception as exc:
            raise self._unreadable(f"the collection '{self.name}' is unreadable", exc) from exc

    # -- writing ----------------------------------------------------------------------------
    def add(self, passages: Sequence[Passage], vectors: Sequence[PassageVectors]) -> None:
        """Upsert passages with their vectors and sentence vectors (ids are deterministic, so
        a retry duplicates nothing)."""
        if not passages:
            return
        metas = [
            {**to_metadata(p), SENTENCE_VECTORS: encode(v.sentences)}
            for p, v in zip(passages, vectors, strict=True)
        ]
        with self._writing():
            self._collection().upsert(
                ids=[p.id for p in passages],
                embeddings=[v.passage for v in vectors],
                metadatas=metas,
                documents=[p.embed_text for p in passages],
            )

    def delete_source(self, source: str) -> None:
        """Remove every passage of one source file."""
        with self._writing():
            self._collection().delete(where={"source": source})

    def copy_source(self, other: PassageStore, source: str, batch: int = 1000) -> int:
        """Copy one source's passages, vectors and all, from another generation; returns how
        many (nothing is embedded again)."""
        col, n = other._collection(), 0
        while True:
            with other._reading():
                got = col.get(where={"source": source}, limit=batch, offset=n,
                              include=["embeddings", "metadatas", "documents"])  # fmt: skip
            if len(got["ids"]):
                with self._writing():
                    self._collection().upsert(
                        ids=got["ids"], embeddings=got["embeddings"],
                        metadatas=got["metadatas"], documents=got["documents"],
                    )  # fmt: skip
            n += len(got["ids"])
            if len(got["ids"]) < batch:
                return n

    def delete_except(self, sources: Iterable[str]) -> None:
        """Remove every passage whose source is not one of ``sources``."""
        keep = sorted(set(sources))
        where = {"source": {"$nin": keep}} if keep else {"source": {"$ne": ""}}
        with self._writing():
            self._collection().delete(where=where)

    # -- reading ----------------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Chroma's read errors (a malformed database, a missing segment) as a StoreError."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            raise self._unreadable("the store cannot be read", exc) from exc

    def count(self) -> int:
        with self._reading():
            return int(self._collection().count())

    def all_passages(self, batch: int = 5000) -> list[Passage]:
        """Every passage with its metadata (no vectors), in no particular order."""
        return [p for p, _, _ in self.read_all(batch)]

    def read_all(self, batch: int = 5000) -> list[tuple[Passage, np.ndarray, np.ndarray]]:
        """Every passage with its sentence vectors and its own vector, in no particular order."""
        col = self._collection()
        out: list[tuple[Passage, np.ndarray, np.ndarray]] = []
        offset = 0
        while True:
            with self._reading():
                got = col.get(
                    include=["metadatas", "documents", "embeddings"], limit=batch, offset=offset
                )
            rows = zip(got["ids"], got["metadatas"], got["documents"], got["embeddings"],
                       strict=True)  # fmt: skip
            for pid, meta, doc, vec in rows:
                vectors = decode(str(meta.get(SENTENCE_VECTORS) or ""), self.embedder.dim)
                out.append((from_metadata(pid, meta, doc), vectors, np.asarray(vec, np.float32)))
            if len(got["ids"]) < batch:
                return out
            offset += batch

    def vectors(self) -> tuple[list[str], np.ndarray]:
        """Every passage's embedded text and vector (for benchmarks that imitate them)."""
        with self._reading():
            got = self._collection().get(include=["embeddings", "documents"])
        return list(got["documents"]), np.asarray(got["embeddings"], dtype=np.float32)

    def search(
        self, vector: list[float], k: int, doc_ids: Iterable[str] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the ``k`` nearest passages."""
        docs = sorted(set(doc_ids or ()))
        where: dict[str, Any] | None = None
        if len(docs) == 1:
            where = {"doc_id": docs[0]}
        elif docs:
            where = {"doc_id": {"$in": docs}}
        query = {"query_embeddings": [vector], "n_results": k, "where": where}
        try:
            got = self._cached.query(**query, include=["distances"])
        except StoreError:
            raise
        except Exception:  # the handle went stale (another process rebuilt the store): look again
            self._cached = self._collection()
            with self._reading():
                got = self._cached.query(**query, include=["distances"])
        # Chroma computes distances in float32; a server sends them as shortest decimals, which
        # parse to a float64 a hair away from the folder's. Through float32 both are the same.
        return [
            (pid, 1.0 - float(np.float32(d)))
            for pid, d in zip(got["ids"][0], got["distances"][0], strict=True)
        ]
