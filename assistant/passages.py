"""Blocks -> passages sized for the embedder, cut at sentence boundaries, with notes linked.

A passage's ``text`` is always ``source[start:end]``; its ``embed_text`` (what the model and the
lexical index read) is the section title followed by the cleaned text of its sentences, and
never exceeds the model's 256 word pieces.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from assistant.corpus import SourceFile
from assistant.embedding import MODEL_MAX_TOKENS
from assistant.parsing import Block, clean, language_of, parse
from assistant.sentences import Unit, sentence_spans
from assistant.types import Passage

CHUNKER_VERSION = "7"
SECTION_TOKENS = 40  # most word pieces the section-title prefix may take
MERGE_TARGET = 0.6  # short paragraphs of a section are merged up to this share of the budget

Counter = Callable[[Sequence[str]], list[int]]


class Chunker:
    """Cuts one source file's blocks into passages within a word-piece budget."""

    def __init__(self, count: Counter, max_tokens: int = 200) -> None:
        self.count = count
        self.max_tokens = min(max_tokens, MODEL_MAX_TOKENS - 2 - SECTION_TOKENS)

    def passages(self, src: SourceFile) -> list[Passage]:
        """All passages of a source file, in document order, notes linked both ways."""
        text = src.text
        blocks = parse(text, src.info.kind)
        groups = self._group(text, blocks)
        passages: list[Passage] = []
        owner: dict[int, list[int]] = {}  # block index -> passage indexes
        for block_ids, units in groups:
            first = blocks[block_ids[0]]
            idx = len(passages)
            passages.append(self._passage(src, first, units, idx))
            for b in block_ids:
                owner.setdefault(b, []).append(idx)
        return _link(passages, blocks, owner)

    def _group(self, text: str, blocks: list[Block]) -> list[tuple[list[int], list[Unit]]]:
        """Pack sentences: long blocks split evenly, short neighbours of one section merged."""
        out: list[tuple[list[int], list[Unit]]] = []
        out_tokens: list[int] = []  # word pieces of each group, counted once per sentence
        for i, b in enumerate(blocks):
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

    def _passage(self, src: SourceFile, block: Block, units: list[Unit], order: int) -> Passage:
        text = src.text
        start, end = units[0].start, units[-1].end
        sentences = [clean(text[u.start : u.end]) for u in units]
        body = " ".join(s for s in sentences if s)
        section = block.section
        info = src.info
        raw = text[start:end]
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:10]
        return Passage(
            id=f"{info.id}:{start}-{end}:{digest}",
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


def _link(
    passages: list[Passage], blocks: list[Block], owner: dict[int, list[int]]
) -> list[Passage]:
    """Body passages list the notes their markers cite; notes list the passages citing them."""
    notes: dict[int, list[str]] = {}
    refs: dict[int, list[str]] = {}
    for bi, block in enumerate(blocks):
        for pos, target in block.links:
            citing = [p for p in owner.get(bi, []) if passages[p].start <= pos < passages[p].end]
            cited = owner.get(target, [])
            if not citing or not cited:
                continue
            for p in citing:
                notes.setdefault(p, []).extend(passages[c].id for c in cited[:1])
            for c in cited:
                refs.setdefault(c, []).extend(passages[p].id for p in citing)
    return [
        replace(
            p,
            notes=tuple(dict.fromkeys(notes.get(i, []))),
            refs=tuple(dict.fromkeys(refs.get(i, []))),
        )
        for i, p in enumerate(passages)
    ]
