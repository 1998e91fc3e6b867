"""The corpus folder: its manifest, its files, and how a file's bytes become text.

Every stage that needs a source's text (parsing, citation checks, evaluation) reads it through
:func:`read_source`, so offsets mean the same thing everywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import IngestError, ManifestError
from assistant.settings import PROJECT_ROOT, Settings
from assistant.types import DocumentInfo

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
REQUIRED_FIELDS = ("file", "id", "title", "authors", "date", "kind", "languages")
KINDS = ("book", "letter", "article", "document")
# A text file has next to no control characters; bytes that are not text decoded as cp1252
# (every byte but five is a character there) have about one in nine (0x01-0x08, 0x0e-0x1f,
# 0x7f). Measured: our corpus 0.0000, random bytes 0.11, a zip or PNG 0.10-0.30.
BINARY_CONTROL_SHARE = 0.05
# cp1252 text (French, German) has a few accented letters in a hundred; bytes that are not
# text have one high byte in two.
BINARY_HIGH_SHARE = 0.3
_TEXT_CONTROLS = frozenset("\t\n\r\x0b\x0c")


@dataclass(frozen=True)
class SourceFile:
    """A corpus file with its decoded text (its hashes are the scan's: :class:`Wanted`)."""

    info: DocumentInfo
    path: Path
    text: str


def read_source(path: Path) -> str:
    """Decode a corpus file: UTF-8 (a BOM is kept as a character), else cp1252.

    Raises:
        IngestError: the bytes are neither UTF-8 nor cp1252 text (binary data, say).
    """
    return decode_source(path.read_bytes(), path.name, warn=False)


def decode_source(data: bytes, name: str, warn: bool = True) -> str:
    """:func:`read_source` for bytes already read; ``warn`` logs a cp1252 fallback."""
    if b"\x00" in data:
        raise IngestError(f"{name}: binary data (NUL bytes); save it as UTF-8 text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{name}: not UTF-8 or cp1252 text ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8."
        ) from None
    if warn:
        log.warning("%s is not UTF-8; read it as cp1252", name)
    return text


def text_problem(data: bytes, text: str) -> str | None:
    """Why a file's bytes are not a document to ingest ("empty", "binary"), or None.

    ``text`` is what :func:`read_source` decoded from ``data``.
    """
    if not text.strip():
        return "empty"
    sample = text[:1_000_000]
    controls = sum(
        1 for c in sample if unicodedata.category(c) == "Cc" and c not in _TEXT_CONTROLS
    ) + sample.count("\ufffd")
    if controls / len(sample) > BINARY_CONTROL_SHARE:
        return "binary"
    if not _is_utf8(data[:1_000_000]):
        high = sum(b >= 0x80 for b in data[:1_000_000])
        if high / min(len(data), 1_000_000) > BINARY_HIGH_SHARE:
            return "binary"
    return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(data) - 4  # a character cut by the sample's end
    return True


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


def missing_files(manifest: dict[str, dict[str, Any]], corpus_dir: Path) -> list[str]:
    """A warning for every manifest entry whose file is not in the corpus folder."""
    return [
        f"the manifest names {name} (document '{entry['id']}'), which is not in {corpus_dir}; "
        "add the file or remove its entry."
        for name, entry in sorted(manifest.items())
        if not (corpus_dir / name).is_file()
    ]


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
    data = path.read_bytes()
    text = decode_source(data, path.name, warn=False)
    del data  # a large file's bytes need not outlive the decoding
    return SourceFile(info=document_info(path, entry), path=path, text=text)


def fingerprint(data: bytes, entry: dict[str, Any] | None) -> tuple[str, str]:
    """The sha256 of a file's bytes together with its manifest entry, and of the bytes alone;
    the bytes are hashed once for both."""
    h = hashlib.sha256(data)
    file_sha = h.hexdigest()  # a digest so far: the hash goes on with the entry
    h.update(json.dumps(entry or {}, sort_keys=True, default=str).encode())
    return h.hexdigest(), file_sha


@dataclass(frozen=True)
class Wanted:
    """A corpus document the store should hold."""

    source: str
    path: Path
    entry: dict[str, Any] | None
    sha: str  # of the bytes and the manifest entry: a change of either re-ingests
    file_sha: str  # of the bytes alone: what answers compare the file on disk with


@dataclass
class CorpusScan:
    """The corpus folder as an ingest sees it."""

    wanted: list[Wanted] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def scan_corpus(settings: Settings) -> CorpusScan:
    """Every document to ingest, and what is wrong with the rest (each named)."""
    files = corpus_files(settings.corpus_dir)
    if not files:
        raise IngestError(
            f"the corpus folder {settings.corpus_dir} holds no .txt or .md files; "
            "add documents there and run `assistant ingest` again."
        )
    manifest = load_manifest(settings.manifest_path)
    scan = CorpusScan(warnings=missing_files(manifest, settings.corpus_dir))
    for f in _unique_ids(files, manifest, settings, scan):
        entry = manifest.get(f.name)
        data = f.read_bytes()
        try:
            problem = (
                "binary" if b"\x00" in data else text_problem(data, decode_source(data, f.name))
            )
        except IngestError as exc:
            scan.failed.append(str(exc))
            continue
        if problem:
            scan.skipped.append(_skip_message(f.name, problem))
            continue
        if entry is None:
            scan.warnings.append(f"{f.name}: no manifest entry; metadata derived from its name")
        scan.wanted.append(Wanted(relative_source(f), f, entry, *fingerprint(data, entry)))
    for w in (*scan.warnings, *scan.skipped):
        log.warning("%s", w)
    for e in scan.failed:
        log.error("%s", e)
    return scan


def _skip_message(name: str, problem: str) -> str:
    if problem == "empty":
        return f"{name}: empty, skipped; put the document's text in it, or remove it."
    return (
        f"{name}: looks binary (control bytes, not text), skipped; save the document as "
        "UTF-8 text, or remove it."
    )


def _unique_ids(
    files: list[Path], manifest: dict[str, dict[str, Any]], settings: Settings, scan: CorpusScan
) -> list[Path]:
    """Files whose document id is unique; a later file repeating an id is left out (its
    identical passages would share ids with the first file's and overwrite them)."""
    owner: dict[str, Path] = {}
    kept: list[Path] = []
    for f in files:
        doc_id = document_info(f, manifest.get(f.name)).id
        if doc_id in owner:
            scan.failed.append(
                f"{f.name}: its document id '{doc_id}' is already that of "
                f"{owner[doc_id].name}; give it its own id in {settings.manifest_name}."
            )
            continue
        owner[doc_id] = f
        kept.append(f)
    return kept
