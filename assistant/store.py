"""The Chroma vector store: embedded folder or a Chroma server.

The only module that imports chromadb. The collection's metadata records which embedding
model and chunker built it, and the content hash of every document it holds, so that an
ingest can skip what is unchanged and rebuild what was built differently.

A store comes in generations (see :mod:`assistant.generations`): an ingest that changes
anything writes a new one beside the last complete one, which readers go on using until the
new one is done. A local generation is a folder of its own, ``<vectorstore_dir>/gen-000003``
(a whole Chroma database: a damaged one cannot spoil the next); on a server it is a
collection, ``passages.gen-000003``. Generation ``""`` is the layout before generations
existed: Chroma's files straight in the store folder, or the plain collection name.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings

from assistant.embedding import TextEmbedder
from assistant.errors import CorruptStoreError, StoreError, StoreUnavailableError
from assistant.folders import folder_problem
from assistant.sentence_index import PassageVectors, decode, encode
from assistant.settings import Settings
from assistant.types import Passage

log = logging.getLogger(__name__)

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
_SEGMENT_DIR_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
GENERATION_RE = re.compile(r"gen-(\d{6})")
POINTER_SUFFIX = ".pointer"  # server: the collection whose metadata names the current one
LEGACY = ""  # the generation of a store made before generations: Chroma's files at the top


def generation_path(settings: Settings, generation: str) -> Path:
    """The folder of a local generation."""
    return settings.vectorstore_dir / generation if generation else settings.vectorstore_dir


def collection_name(settings: Settings, generation: str) -> str:
    """The collection of a generation: on a server each generation has its own."""
    if settings.chroma_host and generation:
        return f"{settings.collection}.{generation}"
    return settings.collection


def make_client(settings: Settings, generation: str = LEGACY) -> Any:
    """A Chroma client: HTTP when a server host is set, else a generation's folder."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return _http_client(settings, chroma_settings)
    folder = generation_path(settings, generation)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
        except Exception:
            _forget_failed_system(str(folder))
            raise
    except Exception as exc:  # chromadb raises many kinds; all mean "cannot open"
        problem = folder_problem(settings.vectorstore_dir, exc)
        if problem is not None:
            raise problem from exc
        raise CorruptStoreError(
            f"cannot open the store at {folder} ({exc}); "
            "run `assistant ingest --rebuild` to recreate it."
        ) from exc


def _http_client(settings: Settings, chroma_settings: ChromaSettings) -> Any:
    """A Chroma server's client; chromadb calls the server at once, so a dead one fails here."""
    # The token goes as ``Authorization: Bearer``: `chroma run` (1.x) accepts every request
    # and ignores it; a proxy in front of the server is what checks it.
    headers = (
        {"Authorization": f"Bearer {settings.chroma_token}"} if settings.chroma_token else None
    )
    try:
        return chromadb.HttpClient(
            host=settings.chroma_host or "",
            port=settings.chroma_port,
            ssl=settings.chroma_ssl,
            headers=headers,
            settings=chroma_settings,
        )
    except Exception as exc:  # refused, timed out, TLS or HTTP (e.g. 401) error: none usable
        raise server_unavailable(settings, exc) from exc


def server_unavailable(settings: Settings, exc: BaseException) -> StoreUnavailableError:
    """The error for a Chroma server that does not answer or refuses us, saying what to do."""
    host, port = settings.chroma_host, settings.chroma_port
    scheme = "https" if settings.chroma_ssl else "http"
    detail = " ".join(str(exc).split())[:300]  # a proxy's refusal comes as a whole HTML page
    return StoreUnavailableError(
        f"the Chroma server at {scheme}://{host}:{port} cannot be used ({detail}); start it "
        f"(`chroma run --path <folder> --host {host} --port {port}`), or correct "
        "ASSISTANT_CHROMA_HOST, ASSISTANT_CHROMA_PORT, ASSISTANT_CHROMA_SSL and "
        "ASSISTANT_CHROMA_TOKEN, or unset ASSISTANT_CHROMA_HOST to use the local store folder."
    )


def _forget_failed_system(path: str) -> None:
    """chromadb caches a folder's system even when it failed to start, and hands the broken one
    to every later client of that folder; drop it so that a retry (after a wipe) starts afresh."""
    from chromadb.api.shared_system_client import SharedSystemClient

    if path not in SharedSystemClient._identifier_to_refcount:  # no client uses it
        SharedSystemClient._identifier_to_system.pop(path, None)


def wipe_chroma_files(folder: Path) -> None:
    """Delete the Chroma files of a folder (its database and segment folders) and nothing
    else: the legacy layout shares the store folder with other things."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and _SEGMENT_DIR_RE.fullmatch(entry.name):
            shutil.rmtree(entry)
        elif entry.is_file() and entry.name.startswith("chroma.sqlite3"):
            entry.unlink()
    release(folder)


def release(folder: Path) -> None:
    """Stop and forget this process's Chroma system for a folder (before it is deleted, or
    after it failed to start: chromadb would hand the broken one to every later client)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(folder), None)
    SharedSystemClient._identifier_to_refcount.pop(str(folder), None)
    if system is not None:
        try:
            system.stop()
        except Exception as exc:  # a system that never started
            log.debug("stopping Chroma's system for %s: %s", folder, exc)


def has_legacy_store(settings: Settings) -> bool:
    """Whether the store folder holds a store made before generations."""
    return (settings.vectorstore_dir / "chroma.sqlite3").is_file()


def list_generations(settings: Settings) -> list[str]:
    """The generations that exist (complete or not), oldest first; not the legacy one."""
    if settings.chroma_host:
        prefix = f"{settings.collection}."
        try:
            names = [c.name for c in make_client(settings).list_collections()]
        except StoreError:
            raise
        except Exception as exc:
            raise server_unavailable(settings, exc) from exc
        found = [n.removeprefix(prefix) for n in names if n.startswith(prefix)]
    elif settings.vectorstore_dir.is_dir():
        found = [p.name for p in settings.vectorstore_dir.iterdir() if p.is_dir()]
    else:
        found = []
    return sorted(g for g in found if GENERATION_RE.fullmatch(g))


def drop_generation(settings: Settings, generation: str) -> None:
    """Delete a generation (for the legacy one: only Chroma's files of the store folder)."""
    if settings.chroma_host:
        try:
            make_client(settings).delete_collection(collection_name(settings, generation))
        except Exception as exc:  # absent already
            log.debug("delete_collection %s: %s", generation, exc)
        return
    folder = generation_path(settings, generation)
    if not generation:
        wipe_chroma_files(folder)
        return
    release(folder)
    shutil.rmtree(folder, ignore_errors=True)


def read_server_pointer(settings: Settings) -> dict[str, Any] | None:
    """The pointer record kept on a Chroma server (None when there is none)."""
    client = make_client(settings)
    try:
        col = client.get_collection(settings.collection + POINTER_SUFFIX)
    except Exception as exc:
        if isinstance(exc, httpx.TransportError):
            raise server_unavailable(settings, exc) from exc
        return None
    raw = (col.metadata or {}).get("pointer")
    return json.loads(raw) if raw else None


def write_server_pointer(settings: Settings, record: dict[str, Any]) -> None:
    """Replace the pointer record kept on a Chroma server."""
    client = make_client(settings)
    try:
        col = client.get_or_create_collection(
            settings.collection + POINTER_SUFFIX, embedding_function=None
        )
        col.modify(metadata={"pointer": json.dumps(record, sort_keys=True)})
    except Exception as exc:
        raise server_unavailable(settings, exc) from exc


def server_has_legacy_store(settings: Settings) -> bool:
    """Whether the server holds a store made before generations (the plain collection)."""
    try:
        return bool(make_client(settings).get_collection(settings.collection).count())
    except Exception as exc:
        if isinstance(exc, httpx.TransportError):
            raise server_unavailable(settings, exc) from exc
        return False


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
        self.name = collection_name(settings, generation)
        # the collection handle searches reuse (a lookup costs ~10 ms); opening it here makes
        # a damaged store fail at once
        self._cached: Any = self._open_collection()

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
    def state(self) -> dict[str, Any]:
        """``model``, ``chunker``, ``docs`` ({source: {sha, file, n}}) of what the store holds,
        and ``partial``: the document being written ({source, sha, done}) or None."""
        with self._reading():
            meta = self._collection().metadata or {}
            return {
                "model": meta.get("model"),
                "chunker": meta.get("chunker"),
                "docs": json.loads(meta.get("docs") or "{}"),
                "partial": json.loads(meta.get("partial") or "null"),
            }

    def set_state(
        self, model: str, chunker: str, docs: dict[str, Any], partial: dict[str, Any] | None = None
    ) -> None:
        meta = {"model": model, "chunker": chunker, "docs": json.dumps(docs, sort_keys=True),
                "partial": json.dumps(partial, sort_keys=True)}  # fmt: skip
        with self._writing():
            self._collection().modify(metadata=meta)

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
