"""Blocks -> passages sized for the embedder, cut at sentence boundaries, with notes linked.

A passage's ``text`` is always ``source[start:end]``; its ``embed_text`` (what the model and the
lexical index read) is the section title followed by the cleaned text of its sentences, and
never exceeds the model's 256 word pieces.

A file is cut in two steps, so that a large one need not be held as passages all at once:
:meth:`Chunker.plan` finds where every passage lies, its id and its links to notes (offsets and
ids only, reporting progress as it goes), and :meth:`Chunker.materialize` makes the passages of
one stretch of the plan, text and all, as an ingest writes them batch by batch.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from assistant.corpus import SourceFile
from assistant.embedding import MODEL_MAX_TOKENS
from assistant.parsing import Block, clean, language_of, parse
from assistant.sentences import Unit, sentence_spans
from assistant.types import Passage

CHUNKER_VERSION = "7"
SECTION_TOKENS = 40  # most word pieces the section-title prefix may take
MERGE_TARGET = 0.6  # short paragraphs of a section are merged up to this share of the budget
PROGRESS_EVERY = 500  # blocks between two progress reports while a file is cut

Counter = Callable[[Sequence[str]], list[int]]
PlanProgress = Callable[[int, int], None]  # (characters cut so far, characters in the file)


@dataclass(frozen=True, slots=True)
class Head:
    """What a passage takes from the block it starts in."""

    kind: str
    section: str
    note_label: str
    note_kind: str


@dataclass(frozen=True)
class Plan:
    """Where a file's passages lie, without their texts: for passage ``i``, what it takes
    from its first block, its sentences, its id and the ids of the notes and passages it
    links. The blocks themselves (a large file has a hundred thousand) are not kept."""

    heads: list[Head]
    groups: list[tuple[int, list[Unit]]]
    ids: list[str]
    notes: dict[int, tuple[str, ...]]
    refs: dict[int, tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.groups)


class Chunker:
    """Cuts one source file's blocks into passages within a word-piece budget."""

    def __init__(self, count: Counter, max_tokens: int = 200) -> None:
        self.count = count
        self.max_tokens = min(max_tokens, MODEL_MAX_TOKENS - 2 - SECTION_TOKENS)

    def passages(self, src: SourceFile) -> list[Passage]:
        """All passages of a source file, in document order, notes linked both ways."""
        plan = self.plan(src)
        return self.materialize(src, plan, 0, len(plan))

    def plan(self, src: SourceFile, progress: PlanProgress | None = None) -> Plan:
        """Where every passage of a source file lies, with its id and links (no texts)."""
        text = src.text
        blocks = parse(text, src.info.kind)
        groups = self._group(text, blocks, progress)
        owner: dict[int, list[int]] = {}  # block index -> passage indexes
        ids: list[str] = []
        for idx, (block_ids, units) in enumerate(groups):
            start, end = units[0].start, units[-1].end
            ids.append(passage_id(src.info.id, text, start, end))
            for b in block_ids:
                owner.setdefault(b, []).append(idx)
        spans = [(units[0].start, units[-1].end) for _, units in groups]
        notes, refs = _link(spans, ids, blocks, owner)
        heads: dict[int, int] = {}  # block index -> position in the plan's heads
        for block_ids, _ in groups:
            heads.setdefault(block_ids[0], len(heads))
        kept = [_head(blocks[b]) for b in heads]
        return Plan(kept, [(heads[b[0]], units) for b, units in groups], ids, notes, refs)

    def materialize(self, src: SourceFile, plan: Plan, start: int, stop: int) -> list[Passage]:
        """Passages ``start`` to ``stop`` (exclusive) of ``plan``, made from the file's text."""
        out = []
        for i in range(start, min(stop, len(plan))):
            head, units = plan.groups[i]
            p = self._passage(src, plan.heads[head], units, i)
            out.append(_with_links(p, plan.notes.get(i, ()), plan.refs.get(i, ())))
        return out

    def _group(
        self, text: str, blocks: list[Block], progress: PlanProgress | None = None
    ) -> list[tuple[list[int], list[Unit]]]:
        """Pack sentences: long blocks split evenly, short neighbours of one section merged."""
        out: list[tuple[list[int], list[Unit]]] = []
        out_tokens: list[int] = []  # word pieces of each group, counted once per sentence
        for i, b in enumerate(blocks):
            if progress and i % PROGRESS_EVERY == 0:
                progress(b.start, len(text))
            if b.kind == "heading":
                continue
            units = [u for s, e in b.segments for u in sentence_spans(text, s, e)]
            sizes = self.count([clean(text[u.start : u.end]) for u in units])
            units, sizes = self._split_long(text, units, sizes)
            total = sum(sizes)
            if total == 0:
                continue
            if out and self._mergeable(blocks[out[-1][0][-1]], b, out_tokens[-1] + total):
                out[-1][0].append(i)
                out[-1][1].extend(units)
                out_tokens[-1] += total
                continue
            size_of = dict(zip(units, sizes, strict=True))
            for piece in _even_pieces(units, sizes, self.max_tokens):
                out.append(([i], piece))
                out_tokens.append(sum(size_of[u] for u in piece))
        if progress:
            progress(len(text), len(text))
        return out

    def _mergeable(self, prev: Block, b: Block, merged_tokens: int) -> bool:
        if prev.kind != "paragraph" or b.kind != "paragraph" or prev.section != b.section:
            return False
        if prev.language != b.language:
            return False
        return merged_tokens <= self.max_tokens * MERGE_TARGET

    def _split_long(
        self, text: str, units: list[Unit], sizes: list[int]
    ) -> tuple[list[Unit], list[int]]:
        """A sentence longer than the budget is cut at spaces into pieces within it."""
        out_u: list[Unit] = []
        out_s: list[int] = []
        for u, n in zip(units, sizes, strict=True):
            if n <= self.max_tokens:
                out_u.append(u)
                out_s.append(n)
                continue
            pieces = math.ceil(n / self.max_tokens) + 1
            for piece in _cut_words(text, u, pieces):
                out_u.append(piece)
                out_s.append(self.count([clean(text[piece.start : piece.end])])[0])
        return out_u, out_s

    def _passage(self, src: SourceFile, block: Head, units: list[Unit], order: int) -> Passage:
        text = src.text
        start, end = units[0].start, units[-1].end
        sentences = [clean(text[u.start : u.end]) for u in units]
        body = " ".join(s for s in sentences if s)
        section = block.section
        info = src.info
        raw = text[start:end]
        return Passage(
            id=passage_id(info.id, text, start, end),
            doc_id=info.id,
            title=info.title,
            section=section,
            kind="note" if block.kind == "note" else "body",
            language=language_of(body),
            text=raw,
            source=info.source,
            start=start,
            end=end,
            author=info.author,
            date=info.date,
            doc_kind=info.kind,
            note_label=block.note_label,
            embed_text=body if block.kind == "note" else self._embed_text(section, body),
            order=order,
            sentences=tuple((u.start, u.end) for u in units),
            note_kind=block.note_kind,
        )

    def _embed_text(self, section: str, body: str) -> str:
        title = clean(section)
        if title and self.count([title])[0] > SECTION_TOKENS:
            title = " ".join(title.split()[:12])
        return f"{title}: {body}" if title else body


def sentence_layout(p: Passage) -> list[tuple[int, int] | None]:
    """Where each of ``p.sentences`` lies in ``p.embed_text`` (None for one that cleaning
    emptied): the embed text is the section title, then the cleaned sentences joined by spaces."""
    out: list[tuple[int, int] | None] = []
    pos = 0
    for s, e in p.sentences:
        piece = clean(p.text[s - p.start : e - p.start])
        i = p.embed_text.find(piece, pos) if piece else -1
        if i < 0:
            out.append(None)
            continue
        out.append((i, i + len(piece)))
        pos = i + len(piece)
    return out


def _cut_words(text: str, u: Unit, pieces: int) -> list[Unit]:
    words = [m.span() for m in re.finditer(r"\S+", text[u.start : u.end])]
    per = max(1, math.ceil(len(words) / pieces))
    out = []
    for i in range(0, len(words), per):
        chunk = words[i : i + per]
        out.append(Unit(u.start + chunk[0][0], u.start + chunk[-1][1]))
    return out


def _even_pieces(units: list[Unit], sizes: list[int], budget: int) -> list[list[Unit]]:
    """Split a block's sentences into the fewest pieces within budget, of similar size."""
    total = sum(sizes)
    n = max(1, math.ceil(total / budget))
    target = total / n
    pieces: list[list[Unit]] = [[]]
    acc = 0
    for u, s in zip(units, sizes, strict=True):
        if pieces[-1] and (acc + s > budget or (acc >= target and len(pieces) < n)):
            pieces.append([])
            acc = 0
        pieces[-1].append(u)
        acc += s
    return [p for p in pieces if p]


def _head(b: Block) -> Head:
    return Head(b.kind, b.section, b.note_label, b.note_kind)


def passage_id(doc_id: str, text: str, start: int, end: int) -> str:
    """``<doc>:<start>-<end>:<hash of the text>``: the same text at the same place, the same id."""
    digest = hashlib.sha256(text[start:end].encode("utf-8")).hexdigest()[:10]
    return f"{doc_id}:{start}-{end}:{digest}"


def _link(
    spans: list[tuple[int, int]], ids: list[str], blocks: list[Block], owner: dict[int, list[int]]
) -> tuple[dict[int, tuple[str, ...]], dict[int, tuple[str, ...]]]:
    """Body passages list the notes their markers cite; notes list the passages citing them."""
    notes: dict[int, list[str]] = {}
    refs: dict[int, list[str]] = {}
    for bi, block in enumerate(blocks):
        for pos, target in block.links:
            citing = [p for p in owner.get(bi, []) if spans[p][0] <= pos < spans[p][1]]
            cited = owner.get(target, [])
            if not citing or not cited:
                continue
            for p in citing:
                notes.setdefault(p, []).extend(ids[c] for c in cited[:1])
            for c in cited:
                refs.setdefault(c, []).extend(ids[p] for p in citing)
    return (
        {i: tuple(dict.fromkeys(v)) for i, v in notes.items()},
        {i: tuple(dict.fromkeys(v)) for i, v in refs.items()},
    )


def _with_links(p: Passage, notes: tuple[str, ...], refs: tuple[str, ...]) -> Passage:
    return replace(p, notes=notes, refs=refs) if notes or refs else p
