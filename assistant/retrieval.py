"""Hybrid retrieval: dense (in memory) and lexical (BM25) candidates, fused by normalised score.

Plain reciprocal-rank fusion throws the scores away and lets a weak dense list drown a strong
lexical hit. Here both scores are put on one scale (BM25 divided by the query's best BM25
score; cosine as it is, relative to the best cosine) and added with weights; notes are pulled
up with the paragraphs that cite them and vice versa.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from assistant.embedding import TextEmbedder
from assistant.lexical import LexicalIndex
from assistant.question import Mode
from assistant.sentence_index import SentenceIndex
from assistant.store import PassageStore
from assistant.tuning import RetrievalTuning
from assistant.types import Passage


class Retriever:
    """Searches the passages held in memory: their metadata, vectors and BM25 index."""

    def __init__(
        self,
        store: PassageStore,
        embedder: TextEmbedder,
        passages: Sequence[Passage],
        lexical: LexicalIndex,
        tuning: RetrievalTuning | None = None,
        sentences: SentenceIndex | None = None,
        files: Mapping[str, str] | None = None,
        vectors: np.ndarray | None = None,
    ) -> None:
        """``passages`` in document order, ``lexical`` indexing them in that order and their
        ``sentences`` vectors, as :func:`assistant.index_cache.load_or_build` returns them;
        ``files``: each source file's sha256 as ingested ("" where the store did not record
        it), which answers compare the file on disk with; ``tuning``: the fusion's weights
        (:class:`assistant.tuning.RetrievalTuning`, its documented defaults unless given);
        ``vectors``: the passages' own vectors, row i for passage i: dense search runs on them
        in memory (exact, and the question needs nothing of the store that an ingest could
        delete meanwhile); without them it asks the store."""
        self.store = store
        self.embedder = embedder
        self.passages = list(passages)
        self.files = dict(files or {})
        self.doc_ids = sorted({p.doc_id for p in self.passages})
        self.by_id = {p.id: p for p in self.passages}
        self.pos = {p.id: i for i, p in enumerate(self.passages)}
        self.tuning = tuning or RetrievalTuning()
        # A passage of a few words (a bare reference such as "Ibid., p. 608", a caption) matches
        # many questions on its title alone; it is weighed down in proportion to its brevity.
        t = self.tuning
        self.brevity = [
            min(1.0, len(p.text.split()) / t.short_words) ** t.brevity_power for p in self.passages
        ]
        self.lexical = lexical
        self.vectors = vectors
        self.doc_rows = {d: np.array([i for i, p in enumerate(self.passages) if p.doc_id == d])
                         for d in self.doc_ids}  # fmt: skip
        self.sentences = sentences or SentenceIndex({}, np.zeros((0, 1), dtype=np.float32))

    def dense(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> dict[str, float]:
        if not self.passages:
            return {}
        vec = self.embedder.embed_query(query)
        if self.vectors is None:
            return dict(self.store.search(vec, min(k, len(self.passages)), doc_ids))
        # einsum, not BLAS: a matrix-vector product this small is 0.2 ms in one thread, while
        # BLAS threads stall for 10 ms and more as soon as anything else runs on the cores
        scores = np.einsum("ij,j->i", self.vectors, np.asarray(vec, dtype=np.float32))
        rows = (np.concatenate([self.doc_rows.get(d, np.zeros(0, int)) for d in doc_ids])
                if doc_ids else np.arange(len(self.passages)))  # fmt: skip
        top = rows[np.argsort(-scores[rows], kind="stable")[:k]]
        return {self.passages[i].id: float(scores[i]) for i in top}

    def bm25(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> dict[str, float]:
        return {self.passages[i].id: s for i, s in self.lexical.search(query, k, doc_ids)}

    def search(
        self, query: str, k: int = 10, doc_ids: Sequence[str] | None = None, mode: Mode = "hybrid"
    ) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first, each with its fused score."""
        n = max(k, self.tuning.candidates)
        if mode == "dense":
            return self._ranked(self.dense(query, n, doc_ids), k)
        if mode == "lexical":
            return self._ranked(self.bm25(query, n, doc_ids), k)
        scores = self._fuse(self.dense(query, n, doc_ids), self.bm25(query, n, doc_ids))
        return self._ranked(self._pull_links(scores, doc_ids), k)

    def _fuse(self, dense: dict[str, float], lexical: dict[str, float]) -> dict[str, float]:
        w = self.tuning
        top_lex = max(lexical.values(), default=0.0) or 1.0
        floor = min(dense.values(), default=0.0)
        out: dict[str, float] = {}
        for pid in dense.keys() | lexical.keys():
            d = dense.get(pid, floor)
            lx = lexical.get(pid, 0.0) / top_lex
            out[pid] = (w.dense * d + w.lexical * lx) * self.brevity[self.pos[pid]]
        return out

    def _pull_links(
        self, scores: dict[str, float], doc_ids: Sequence[str] | None
    ) -> dict[str, float]:
        """A note inherits part of its paragraph's score, and a paragraph part of its note's."""
        if self.tuning.link <= 0:
            return scores
        out = dict(scores)
        for pid, s in scores.items():
            p = self.by_id.get(pid)
            if p is None:
                continue
            for other in (*p.notes, *p.refs):
                if other in self.by_id and (not doc_ids or self.by_id[other].doc_id in doc_ids):
                    out[other] = max(out.get(other, 0.0), self.tuning.link * s)
        return out

    def _ranked(self, scores: dict[str, float], k: int) -> list[Passage]:
        best = sorted(scores.items(), key=lambda kv: (-kv[1], self.pos.get(kv[0], 0)))
        return [self.by_id[pid].with_score(s) for pid, s in best[:k] if pid in self.by_id]

    def previous(self, p: Passage) -> Passage | None:
        """The passage just before ``p`` in its document (same kind), if any."""
        i = self.pos.get(p.id, 0) - 1
        if i < 0:
            return None
        prev = self.passages[i]
        return prev if prev.doc_id == p.doc_id and prev.kind == p.kind else None

    def following(self, p: Passage) -> Passage | None:
        """The passage just after ``p`` in its document (same kind), if any."""
        i = self.pos.get(p.id, len(self.passages)) + 1
        if i >= len(self.passages):
            return None
        nxt = self.passages[i]
        return nxt if nxt.doc_id == p.doc_id and nxt.kind == p.kind else None

    def linked(self, p: Passage) -> list[Passage]:
        """The notes a paragraph cites, or the paragraphs that cite a note."""
        return [self.by_id[i] for i in (*p.notes, *p.refs) if i in self.by_id]
