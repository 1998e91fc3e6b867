"""Generations of the store, and the pointer that names the last complete one.

An ingest that changes anything writes a new generation beside the last complete one (see
:mod:`assistant.store` for what a generation is) and, only once it holds every document,
switches the pointer to it; then the old one is deleted. Readers look at the pointer at every
question, so they answer from the last complete generation all along, never from one being
written; with none complete yet they are told how far the build has got. A killed ingest leaves
its generation and the pointer's ``building`` record behind: the next ingest resumes it (every
document already written stays, a large file goes on from its last written batch), and until
then readers say that the store is incomplete.

    <vectorstore_dir>/store.json     {"current": "gen-000003", "building": {...} or null}
    <vectorstore_dir>/gen-000003/    the generation readers use
    <vectorstore_dir>/gen-000004/    the one being built, or left by a killed ingest

On a Chroma server the pointer is the metadata of the collection ``<collection>.pointer``.
Without a pointer, a store made before generations (Chroma's files in the store folder) is the
current one, until the next ingest that changes something replaces it.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.errors import (
    CorruptStoreError,
    EmptyStoreError,
    IncompleteStoreError,
    StoreBuildingError,
    StoreError,
)
from assistant.folders import folder_problem
from assistant.settings import Settings
from assistant.store import (
    GENERATION_RE,
    LEGACY,
    generation_path,
    has_legacy_store,
    list_generations,
    read_server_pointer,
    server_has_legacy_store,
    write_server_pointer,
)

POINTER_FILE = "store.json"


@dataclass(frozen=True)
class Build:
    """A generation being written, and how far it has got."""

    name: str
    fresh: bool  # every document embedded anew (nothing copied from the current generation)
    model: str
    chunker: str
    done: int = 0  # documents complete in it
    total: int = 0  # documents it will hold
    pid: int = 0  # the ingest writing it
    host: str = ""

    def running(self) -> bool:
        """Whether the ingest writing it is still alive (one on another machine is assumed so)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, another user's
            return True
        return True

    def progress(self) -> str:
        return f"{self.done} of {self.total} documents"


@dataclass(frozen=True)
class Pointer:
    """The last complete generation (None: there is none) and the one being built."""

    current: str | None = None
    building: Build | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "building": asdict(self.building) if self.building else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pointer:
        current = data.get("current")
        if current is not None and not (current == LEGACY or GENERATION_RE.fullmatch(current)):
            raise ValueError(f"no generation is called {current!r}")
        building = data.get("building")
        return cls(current=current, building=Build(**building) if building else None)


def new_build(name: str, fresh: bool, model: str, chunker: str, total: int) -> Build:
    return Build(name=name, fresh=fresh, model=model, chunker=chunker, total=total,
                 pid=os.getpid(), host=socket.gethostname())  # fmt: skip


def next_name(settings: Settings, pointer: Pointer) -> str:
    """A generation name above every one that exists or is named."""
    names = [*list_generations(settings), pointer.current or "", *_building_name(pointer)]
    numbers = [int(m.group(1)) for n in names if (m := GENERATION_RE.fullmatch(n))]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _building_name(pointer: Pointer) -> list[str]:
    return [pointer.building.name] if pointer.building else []


class Pointers:
    """Reads and writes the pointer: a file in the store folder, or a server's collection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.vectorstore_dir / POINTER_FILE

    def read(self) -> Pointer:
        """The pointer as it is now.

        Raises:
            CorruptStoreError: the pointer is damaged, or names a generation that is gone.
            StoreUnavailableError: the Chroma server does not answer.
        """
        if self.settings.chroma_host:
            data = read_server_pointer(self.settings)
            if data is None:
                return Pointer(LEGACY if server_has_legacy_store(self.settings) else None)
            return self._parse(data, f"the pointer collection on {self.settings.chroma_host}")
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Pointer(LEGACY if has_legacy_store(self.settings) else None)
        except OSError as exc:
            raise folder_problem(self.settings.vectorstore_dir, exc) or self._damaged(exc) from exc
        try:
            pointer = self._parse(json.loads(raw), str(self.path))
        except ValueError as exc:
            raise self._damaged(exc) from exc
        if pointer.current and not generation_path(self.settings, pointer.current).is_dir():
            raise self._damaged(f"its generation {pointer.current} is missing")
        return pointer

    def write(self, pointer: Pointer) -> None:
        """Replace the pointer at once (readers see the old one or the new one, never half)."""
        if self.settings.chroma_host:
            write_server_pointer(self.settings, pointer.to_json())
            return
        tmp = self.path.with_name(f".{POINTER_FILE}.{os.getpid()}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as f:
                json.dump(pointer.to_json(), f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            _sync_folder(self.path.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise folder_problem(self.settings.vectorstore_dir, exc) or exc from exc

    def _parse(self, data: Any, where: str) -> Pointer:
        if not isinstance(data, dict):
            raise self._damaged(f"{where} holds no record")
        try:
            return Pointer.from_json(data)
        except (TypeError, ValueError) as exc:
            raise self._damaged(exc) from exc

    def _damaged(self, why: object) -> CorruptStoreError:
        return CorruptStoreError(
            f"the store's pointer {self.path} is damaged ({why}); run `assistant ingest --rebuild`."
        )


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def reader_problem(pointer: Pointer) -> StoreError:
    """Why a reader has nothing to read when no generation is complete."""
    build = pointer.building
    if build is None:
        return EmptyStoreError(
            "the store is empty; run `assistant ingest` to build it from corpus/."
        )
    if build.running():
        return StoreBuildingError(
            f"the store is being built ({build.progress()} done); ask again when "
            "`assistant ingest` has finished."
        )
    return IncompleteStoreError(
        f"the store is incomplete: the ingest building it stopped after {build.progress()}; "
        "run `assistant ingest` to finish it (it goes on where it stopped)."
    )
