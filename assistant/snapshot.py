"""One complete generation of the store, loaded: its retriever and the default answerer on it.

The :class:`assistant.api.Assistant` holds the snapshot of the generation its pointer names and
makes a new one when the pointer moves (an ingest finished); a question takes the snapshot once
and keeps it to the end. Everything a snapshot caches (the answerer's IDF table, the indexes)
is its own and goes when the last question holding it is done: nothing is kept in module state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.answering import ExcerptAnswerer, Thresholds, idf_function
from assistant.embedding import TextEmbedder
from assistant.errors import EmptyStoreError, ModelError
from assistant.settings import Settings
from assistant.types import Passage

if TYPE_CHECKING:
    from assistant.retrieval import Retriever
    from assistant.store import PassageStore
    from assistant.training.judge import Judge


@dataclass(frozen=True)
class Snapshot:
    """The index of one generation and the default answerer over it."""

    retriever: Retriever
    answerer: ExcerptAnswerer

    @property
    def doc_ids(self) -> list[str]:
        return self.retriever.doc_ids


def load_snapshot(
    settings: Settings, store: PassageStore, embedder: TextEmbedder, judge: Judge | None = None
) -> Snapshot:
    """The retriever and answerer of ``store`` (its indexes read from the index cache).

    Raises:
        EmptyStoreError: the store holds no passage.
        ModelError: the embedding model's manifest sets thresholds the answerer lacks.
    """
    if store.count() == 0:
        raise EmptyStoreError(
            "the store is empty; run `assistant ingest` to build it from corpus/."
        )
    from assistant.index_cache import load_or_build  # bm25s, scipy: only to search
    from assistant.retrieval import Retriever

    index = load_or_build(settings, store)
    files = {s: str(d.get("file") or "") for s, d in store.state()["docs"].items()}
    retriever = Retriever(
        store, embedder, index.passages, index.lexical, vectors=index.vectors,
        sentences=index.sentences, files=files,
    )  # fmt: skip
    return Snapshot(retriever, excerpt_answerer(settings, retriever, embedder, judge))


def excerpt_answerer(
    settings: Settings, retriever: Retriever, embedder: TextEmbedder, judge: Judge | None = None
) -> ExcerptAnswerer:
    """The default answerer over ``retriever``'s passages and sentence vectors."""
    idf = idf_function(dict(retriever.lexical.doc_freq), max(1, retriever.lexical.size))

    def embed_query(text: str) -> np.ndarray:
        return np.asarray(embedder.embed_query(text), dtype=np.float32)  # cached

    def sentence_vectors(p: Passage) -> np.ndarray:
        return retriever.sentences.vectors(p.id)

    return ExcerptAnswerer(
        embed_query, sentence_vectors, idf, thresholds=thresholds(settings, embedder),
        known=retriever.lexical.doc_freq.__contains__, judge=judge,
        previous=retriever.previous, following=retriever.following,
    )  # fmt: skip


def thresholds(settings: Settings, embedder: TextEmbedder) -> Thresholds:
    """The answerer's thresholds: the defaults, those the embedding model's manifest sets for
    its own scores, and the answer length from the settings."""
    tuned: dict[str, Any] = dict(embedder.thresholds())
    known = {f.name for f in fields(Thresholds) if f.type in ("float", float)}
    if set(tuned) - known:
        raise ModelError(
            f"the manifest of {settings.embedding_model} sets {', '.join(sorted(set(tuned) - known))}"
            f", which the answerer does not have (it has {', '.join(sorted(known))}); retrain "
            'or edit its "answerer" entry.'
        )
    return Thresholds(**{**tuned, "max_words": settings.max_answer_words})


def load_judge(settings: Settings) -> Judge | None:
    """The answer judge the settings name, if any."""
    if not settings.judge_model:
        return None
    from assistant.training.judge import Judge

    return Judge(Path(settings.judge_model).expanduser(), threads=settings.query_threads)
