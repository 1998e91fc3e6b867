"""The corpus folder: its manifest, its files, and how a file's bytes become text.

Every stage that needs a source's text (parsing, citation checks, evaluation) reads it through
:func:`read_source`, so offsets mean the same thing everywhere.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import IngestError, ManifestError
from assistant.settings import PROJECT_ROOT
from assistant.types import DocumentInfo

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
REQUIRED_FIELDS = ("file", "id", "title", "authors", "date", "kind", "languages")
KINDS = ("book", "letter", "article", "document")


@dataclass(frozen=True)
class SourceFile:
    """A corpus file with its decoded text and content hash."""

    info: DocumentInfo
    path: Path
    text: str
    sha256: str


def read_source(path: Path) -> str:
    """Decode a corpus file: UTF-8 (a BOM is kept as a character), else cp1252.

    Raises:
        IngestError: the bytes are neither UTF-8 nor cp1252 text (binary data, say).
    """
    data = path.read_bytes()
    if b"\x00" in data:
        raise IngestError(f"{path.name}: binary data (NUL bytes); save it as UTF-8 text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{path.name}: not UTF-8 or cp1252 text ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8."
        ) from None
    log.warning("%s is not UTF-8; read it as cp1252", path.name)
    return text


def relative_source(path: Path) -> str:
    """The path recorded in passages: relative to the project root when inside it."""
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def resolve_source(source: str) -> Path:
    """Inverse of :func:`relative_source`."""
    path = Path(source)
    return path if path.is_absolute() else PROJECT_ROOT / path


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The documents in the corpus folder, by name (hidden files and the README skipped)."""
    if not corpus_dir.is_dir():
        raise IngestError(
            f"corpus folder {corpus_dir} does not exist; create it and add .txt files."
        )
    return sorted(
        p
        for p in corpus_dir.iterdir()
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not p.name.startswith(".")
        and p.stem.upper() != "README"
    )


def load_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """Manifest entries by file name. A missing manifest is an empty one.

    Raises:
        ManifestError: the TOML is malformed or an entry lacks or mistypes a field.
    """
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path.name}: not valid TOML ({exc}); fix the file.") from None
    entries: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(data.get("document", []), start=1):
        _check_entry(path.name, i, entry)
        entries[entry["file"]] = entry
    return entries


def _check_entry(manifest: str, i: int, entry: dict[str, Any]) -> None:
    where = f"{manifest}, document #{i} ({entry.get('file', 'no file')})"
    for name in REQUIRED_FIELDS:
        if name not in entry:
            raise ManifestError(f"{where}: field '{name}' is missing; add it.")
    for name in ("file", "id", "title", "date", "kind"):
        if not isinstance(entry[name], str) or not entry[name].strip():
            raise ManifestError(f"{where}: field '{name}' must be a non-empty string.")
    for name in ("authors", "languages"):
        value = entry[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ManifestError(f"{where}: field '{name}' must be a list of strings.")
    if entry["kind"] not in KINDS:
        raise ManifestError(f"{where}: field 'kind' must be one of {', '.join(KINDS)}.")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", entry["id"]):
        raise ManifestError(f"{where}: field 'id' may hold only letters, digits, '-', '_', '.'.")


def document_info(path: Path, entry: dict[str, Any] | None) -> DocumentInfo:
    """Metadata for a file: from its manifest entry, else derived from its name."""
    source = relative_source(path)
    if entry is None:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-") or "document"
        return DocumentInfo(
            id=stem,
            title=path.stem.replace("_", " ").replace("-", " ").strip().capitalize(),
            authors=("unknown",),
            date="",
            kind="document",
            languages=(),
            source_note="No manifest entry: metadata derived from the file name.",
            source=source,
        )
    return DocumentInfo(
        id=entry["id"],
        title=entry["title"],
        authors=tuple(entry["authors"]),
        date=entry["date"],
        kind=entry["kind"],
        languages=tuple(entry["languages"]),
        source_note=entry.get("source_note", ""),
        source=source,
    )


def load_source(path: Path, entry: dict[str, Any] | None) -> SourceFile:
    """Read one file. Raises IngestError naming it when it cannot be decoded."""
    text = read_source(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return SourceFile(info=document_info(path, entry), path=path, text=text, sha256=digest)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
