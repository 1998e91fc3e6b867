"""What is wrong with a folder the assistant writes: permissions, a read-only disk, a full disk.

Chroma reports these as ``InternalError: ... attempt to write a readonly database`` or
``database or disk is full``, and the file lock as a bare ``PermissionError``; none of them is
a damaged store, and rebuilding would not help. :func:`folder_problem` turns any of them into
an error naming the folder and what to do about it (which permission to give, how much to free).
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import DiskFullError, StoreAccessError, StoreError

MB = 1024 * 1024
MIN_FREE = 20 * MB  # the least worth asking for: Chroma's log and index grow in steps
# Store bytes per byte of corpus text: each sentence's vector (384 float16 in base64) and the
# passage's own (HNSW), its metadata and text; measured 60 on our corpus (2.6 MB for 43 KB).
STORE_PER_TEXT_BYTE = 60
_FULL_WORDS = ("disk is full", "no space left", "database or disk is full", "quota exceeded")
_READONLY_WORDS = ("readonly database", "read-only", "readonly", "permission denied")
_ACCESS = {errno.EACCES, errno.EPERM}


def folder_problem(folder: Path, exc: BaseException | None = None) -> StoreError | None:
    """The permission, read-only or disk-full problem behind ``exc`` (or visible on ``folder``
    when ``exc`` is None), as an error saying what to do; None when there is none."""
    codes = set(_errnos(exc)) if exc is not None else set()
    text = " ".join(str(e) for e in _chain(exc)).lower() if exc is not None else ""
    if codes & {errno.ENOSPC, errno.EDQUOT} or any(w in text for w in _FULL_WORDS):
        return disk_full(folder)
    if exc is not None and _no_room(folder):  # Chroma's compaction fails without saying why
        return disk_full(folder)
    said_read_only = exc is None or any(w in text for w in _READONLY_WORDS)
    if errno.EROFS in codes or (said_read_only and _read_only_mount(folder)):
        return read_only(folder)
    blocked = unwritable(folder)
    if blocked is not None and (exc is None or codes & _ACCESS or _mentions_access(text)):
        return no_permission(folder, blocked)
    if exc is not None and codes & _ACCESS:
        return no_permission(folder, folder)
    return None


def _no_room(folder: Path) -> bool:
    """Whether the disk holding ``folder`` has less room than Chroma grows its files by: a
    write that fails then, for a reason it does not name, failed for want of room."""
    try:
        return shutil.disk_usage(_existing(folder)).free < MIN_FREE
    except OSError:
        return False


def check_writable(folder: Path) -> None:
    """Raise the folder's problem, if it has one, before anything is written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = folder_problem(_existing(folder), exc)
        if problem is not None:
            raise problem from exc
        raise
    problem = folder_problem(folder)
    if problem is not None:
        raise problem


def disk_full(folder: Path) -> DiskFullError:
    where = _existing(folder)
    free = shutil.disk_usage(where).free
    size = folder_size(folder) if folder.is_dir() else 0
    need = max(MIN_FREE, size - free)
    return DiskFullError(
        f"the disk holding the store folder {folder} is full ({_mb(free)} free). Free at least "
        f"{_mb(need)} on that disk, more for new documents (the store takes {_mb(size)}; a "
        "build writes a new copy beside it, plus about "
        f"{STORE_PER_TEXT_BYTE} times the size of each new document), then run `assistant "
        "ingest` again: it goes on where it stopped, and until then answers come from the last "
        "complete store."
    )


def read_only(folder: Path) -> StoreAccessError:
    return StoreAccessError(
        f"the store folder {folder} is on a read-only file system. Remount it read-write, or "
        "copy the folder to a writable disk and set ASSISTANT_VECTORSTORE_DIR to the copy "
        "(Chroma writes to its database even to read it)."
    )


def no_permission(folder: Path, blocked: Path) -> StoreAccessError:
    user = _user()
    return StoreAccessError(
        f"the store folder {folder} cannot be written by user {user} ({blocked} is not "
        f"writable). Give that user write access (`chown -R {user} {folder}` or "
        f"`chmod -R u+w {folder}`), or set ASSISTANT_VECTORSTORE_DIR to a folder it can write "
        "(Chroma writes to its database even to read it)."
    )


def unwritable(folder: Path, limit: int = 2000) -> Path | None:
    """The first of ``folder`` and what it holds (up to ``limit`` entries) that this user
    cannot write, or None."""
    folder = _existing(folder)
    for i, path in enumerate(_walk(folder)):
        if i >= limit:
            return None
        if not os.access(path, os.W_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
            return path
    return None


def folder_size(folder: Path) -> int:
    """Bytes in the files under ``folder``."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total


def _walk(folder: Path) -> Iterator[Path]:
    yield folder
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):  # an unreadable folder is yielded, not entered
        for name in (*dirs, *files):
            yield Path(root) / name


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(_existing(folder)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _mentions_access(text: str) -> bool:
    return any(w in text for w in _READONLY_WORDS) or "unable to open database" in text


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _errnos(exc: BaseException | None) -> Iterator[int]:
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno is not None:
            yield e.errno


def _existing(path: Path) -> Path:
    """``path``, or its nearest ancestor that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _mb(n: int) -> str:
    return f"{max(n, 0) / MB:,.0f} MB" if n >= MB else f"{max(n, 0) / 1024:,.0f} KB"
