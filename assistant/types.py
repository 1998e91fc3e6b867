"""The data that flows between the stages: documents, passages, citations, answers, reports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

PassageKind = Literal["body", "note"]


@dataclass(frozen=True)
class DocumentInfo:
    """One corpus document's metadata, from the manifest or derived from its file name."""

    id: str
    title: str
    authors: tuple[str, ...]
    date: str
    kind: str
    languages: tuple[str, ...]
    source_note: str
    source: str  # path relative to the project root, e.g. "corpus/x.txt"

    @property
    def author(self) -> str:
        return ", ".join(self.authors)


@dataclass(frozen=True)
class DocumentSummary:
    """A document as the store holds it: what a page lists and a filter chooses from."""

    id: str
    title: str
    author: str
    date: str
    kind: str
    passages: int  # how many passages of it the store holds


@dataclass(frozen=True)
class Passage:
    """A citable stretch of a source file: ``text == source_text[start:end]``, always.

    ``embed_text`` is what the embedder and the lexical index see (section title, then the
    text with markup, note markers and interposed footnotes removed). ``notes`` lists the ids of
    the note passages this passage's markers point to; for a note, ``refs`` lists the passages
    whose markers point to it. ``sentences`` are the source spans of its sentences, in order;
    a note's ``note_kind`` is "bibliographic" (references only) or "substantive".
    """

    id: str
    doc_id: str
    title: str
    section: str
    kind: PassageKind
    language: str
    text: str
    source: str
    start: int
    end: int
    score: float = 0.0
    author: str = ""
    date: str = ""
    doc_kind: str = ""
    note_label: str = ""
    notes: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    embed_text: str = ""
    order: int = 0
    sentences: tuple[tuple[int, int], ...] = ()
    note_kind: str = ""

    def with_score(self, score: float) -> Passage:
        return replace(self, score=score)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """One cited excerpt: ``quote == source_text[start:end]`` of the file at ``source``."""

    n: int
    passage_id: str
    doc_id: str
    title: str
    author: str
    section: str
    kind: PassageKind
    source: str
    start: int
    end: int
    quote: str
    score: float
    date: str = ""
    passage_text: str = ""
    passage_start: int = 0
    annotates: tuple[str, ...] = ()  # for a note: the passage ids whose markers cite it
    annotated_text: str = ""  # for a note: the first paragraph that cites it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """An answer whose every claim carries an ``[n]`` marker resolving to ``citations``."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    see_also: list[Passage] = field(default_factory=list)
    standalone_question: str = ""
    answerer: str = "default"
    notes: list[str] = field(default_factory=list)  # visible remarks: trimming, fallback, ...
    searched: tuple[str, ...] = ()  # ids of the documents searched (set by the chain)
    passages: list[Passage] = field(default_factory=list)  # retrieved, built from; best first

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "see_also": [_see_also(p) for p in self.see_also],
            "standalone_question": self.standalone_question,
            "answerer": self.answerer,
            "notes": list(self.notes),
            "searched": list(self.searched),
            "passages": [{"id": p.id, "score": p.score} for p in self.passages],
        }


def _see_also(p: Passage) -> dict[str, Any]:
    return {k: v for k, v in p.to_dict().items() if k != "embed_text"}


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    passages: int = 0
    seconds: float = 0.0
    embedded: int = 0
    failed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # each names its file: no manifest entry, skipped, ...
    rebuilt: bool = False
    skipped: int = 0  # files left out as empty or binary (named in ``warnings``)

    def summary(self) -> str:
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        line = (
            f"documents: {self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged{skipped}; {self.passages} passages in the store "
            f"({self.embedded} embedded now); {self.seconds:.1f} s"
        )
        if self.failed:
            line += "\nnot ingested: " + "; ".join(self.failed)
        return line


@dataclass(frozen=True)
class DocRecord:
    """A document the store holds whole."""

    sha: str  # fingerprint of its text and metadata: a different one means embed it again
    file: str  # sha256 of the file as ingested ("" where an older store did not record it)
    n: int  # its passages


@dataclass(frozen=True)
class Partial:
    """The document an ingest was writing when it stopped, and how far it got."""

    source: str
    sha: str
    done: int  # passages written


@dataclass(frozen=True)
class StoreState:
    """What a store records of itself: which model and chunker made it, what it holds."""

    model: str | None = None
    chunker: str | None = None
    docs: dict[str, DocRecord] = field(default_factory=dict)  # by source path
    partial: Partial | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_metadata(self) -> dict[str, Any]:
        """As the collection's metadata keeps it (Chroma takes flat strings)."""
        docs = {k: asdict(v) for k, v in self.docs.items()}
        partial = asdict(self.partial) if self.partial else None
        return {"model": self.model, "chunker": self.chunker,
                "docs": json.dumps(docs, sort_keys=True),
                "partial": json.dumps(partial, sort_keys=True)}  # fmt: skip

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> StoreState:
        docs = json.loads(meta.get("docs") or "{}")
        partial = json.loads(meta.get("partial") or "null")
        return cls(
            model=meta.get("model"),
            chunker=meta.get("chunker"),
            docs={
                str(k): DocRecord(str(d["sha"]), str(d.get("file") or ""), int(d["n"]))
                for k, d in docs.items()
            },
            partial=Partial(str(partial["source"]), str(partial["sha"]), int(partial["done"]))
            if partial
            else None,
        )
