"""Chroma clients and the generations they hold: the store's side that knows folders and servers.

With :mod:`assistant.store` (the passages in one collection), the only module that imports
chromadb, and only through its public API.

chromadb keeps one "system" (database connection, segment caches) per folder for the whole
process, shared by every client of that folder and stopped when the last of them is closed.
So every local client made here is remembered (weakly) under its folder: before a folder is
deleted, :func:`release` closes this process's clients of it, and chromadb stops its system;
a later client of the same path (a generation name can come back after a failed build) then
starts afresh instead of being handed the deleted one's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import httpx
from chromadb.api.client import Client as ChromaClient
from chromadb.config import Settings as ChromaSettings

from assistant.errors import CorruptStoreError, StoreError, StoreUnavailableError
from assistant.folders import folder_problem
from assistant.offline import quiet
from assistant.settings import Settings

log = logging.getLogger(__name__)

_SEGMENT_DIR_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
GENERATION_RE = re.compile(r"gen-(\d{6})")
POINTER_SUFFIX = ".pointer"  # server: the collection whose metadata names the current one
LEGACY = ""  # the generation of a store made before generations: Chroma's files at the top

_open_clients: dict[str, weakref.WeakSet[Any]] = {}  # this process's local clients, by folder
_detached: weakref.WeakSet[Any] = weakref.WeakSet()  # open before chromadb's cache was cleared
_open_lock = threading.Lock()


def generation_path(settings: Settings, generation: str) -> Path:
    """The folder of a local generation."""
    return settings.vectorstore_dir / generation if generation else settings.vectorstore_dir


def collection_name(settings: Settings, generation: str) -> str:
    """The collection of a generation: on a server each generation has its own."""
    if settings.chroma_host and generation:
        return f"{settings.collection}.{generation}"
    return settings.collection


def make_client(settings: Settings, generation: str = LEGACY) -> Any:
    """A Chroma client: HTTP when a server host is set, else a generation's folder.

    The caller closes it with :func:`close_client` when done; :class:`assistant.store.
    PassageStore` closes its own when it is collected.
    """
    quiet()
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return _http_client(settings, chroma_settings)
    folder = generation_path(settings, generation)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return _folder_client(folder, chroma_settings)
    except Exception as exc:  # chromadb raises many kinds; all mean "cannot open"
        problem = folder_problem(settings.vectorstore_dir, exc)
        if problem is not None:
            raise problem from exc
        raise CorruptStoreError(
            f"cannot open the store at {folder} ({exc}); "
            "run `assistant ingest --rebuild` to recreate it."
        ) from exc


def _folder_client(folder: Path, chroma_settings: ChromaSettings) -> Any:
    try:
        client = chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
    except Exception:
        _forget_failed_systems()
        raise
    with _open_lock:
        _open_clients.setdefault(str(folder), weakref.WeakSet()).add(client)
    return client


def _forget_failed_systems() -> None:
    """A system that failed to start (a file that is not a database) stays in chromadb's
    cache with no client to close, and would be handed to every later client of its folder:
    a retry after a wipe would fail the same way. Clearing the cache is chromadb's public way
    out. Clients already open keep working on their systems, but are never closed: chromadb
    counts a folder's clients by path, and closing one of them would count down, and stop,
    the new system a later client of the same path starts."""
    ChromaClient.clear_system_cache()
    with _open_lock:
        for clients in _open_clients.values():
            _detached.update(clients)
        _open_clients.clear()


def close_client(client: Any) -> None:
    """Close a client made by :func:`make_client` (one opened before chromadb's cache was
    cleared is left to the garbage collector)."""
    with _open_lock:
        for clients in _open_clients.values():
            clients.discard(client)
        if client in _detached:
            return
    client.close()


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


@contextlib.contextmanager
def _server(settings: Settings) -> Iterator[Any]:
    """A Chroma server's client for one call, closed after it."""
    client = make_client(settings)
    try:
        yield client
    finally:
        close_client(client)


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


def release(folder: Path) -> None:
    """Close this process's clients of a folder (before it is deleted): chromadb stops the
    folder's system when its last client is closed."""
    with _open_lock:
        clients = list(_open_clients.get(str(folder), ()))
    for client in clients:
        try:
            close_client(client)
        except Exception as exc:  # a system that never started
            log.debug("closing Chroma's client of %s: %s", folder, exc)


def wipe_chroma_files(folder: Path) -> None:
    """Delete the Chroma files of a folder (its database and segment folders) and nothing
    else: the legacy layout shares the store folder with other things."""
    if not folder.is_dir():
        return
    release(folder)
    for entry in folder.iterdir():
        if entry.is_dir() and _SEGMENT_DIR_RE.fullmatch(entry.name):
            shutil.rmtree(entry)
        elif entry.is_file() and entry.name.startswith("chroma.sqlite3"):
            entry.unlink()


def has_legacy_store(settings: Settings) -> bool:
    """Whether the store folder holds a store made before generations."""
    return (settings.vectorstore_dir / "chroma.sqlite3").is_file()


def list_generations(settings: Settings) -> list[str]:
    """The generations that exist (complete or not), oldest first; not the legacy one."""
    if settings.chroma_host:
        prefix = f"{settings.collection}."
        try:
            with _server(settings) as client:
                names = [c.name for c in client.list_collections()]
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
            with _server(settings) as client:
                client.delete_collection(collection_name(settings, generation))
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
    with _server(settings) as client:
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
    with _server(settings) as client:
        try:
            col = client.get_or_create_collection(
                settings.collection + POINTER_SUFFIX, embedding_function=None
            )
            col.modify(metadata={"pointer": json.dumps(record, sort_keys=True)})
        except Exception as exc:
            raise server_unavailable(settings, exc) from exc


def server_has_legacy_store(settings: Settings) -> bool:
    """Whether the server holds a store made before generations (the plain collection)."""
    with _server(settings) as client:
        try:
            return bool(client.get_collection(settings.collection).count())
        except Exception as exc:
            if isinstance(exc, httpx.TransportError):
                raise server_unavailable(settings, exc) from exc
            return False
