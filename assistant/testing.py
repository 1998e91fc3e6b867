"""Helpers for tests: a deterministic stand-in for the embedding model, and the default
answerer built on it. No model is loaded; the same text always gets the same vector.

``Assistant(settings, embedder=FakeEmbedder())`` ingests, retrieves and answers in
milliseconds: chunking, the store, BM25, the answerer and the checks are the real ones, only the
vectors are hashed words instead of the model's.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assistant.answering import ExcerptAnswerer, Thresholds
from assistant.evidence import sentence_text, spans_of
from assistant.sentence_index import PassageVectors
from assistant.types import Passage


def hashing_vectors(texts: list[str], dim: int = 64) -> np.ndarray:
    """Unit vectors of hashed words: texts sharing words point the same way."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in re.findall(r"\w+", t.lower()):
            out[i, zlib.crc32(w.encode()) % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def hashing_sentence_vectors(p: Passage) -> np.ndarray:
    """A passage's sentence vectors, as the sentence index would hold them."""
    return hashing_vectors([sentence_text(p, s) for s in spans_of(p)])


def fake_answerer(
    idf: Callable[[str], float] = lambda _t: 1.0, thresholds: Thresholds | None = None, **kw: Any
) -> ExcerptAnswerer:
    """The default answerer on hashing vectors instead of the model."""
    return ExcerptAnswerer(
        lambda q: hashing_vectors([q])[0], hashing_sentence_vectors, idf,
        thresholds=thresholds, **kw,
    )  # fmt: skip


class FakeEmbedder:
    """A :class:`assistant.embedding.TextEmbedder` of hashed words: no model, no threads.

    Texts sharing words get close vectors, so retrieval still finds the passage that shares the
    question's words; the answerer's thresholds are its defaults (no manifest).
    """

    def __init__(self, dim: int = 64, label: str = "fake-hashing") -> None:
        self.dim = dim
        self.model_id = f"{label}@{dim}"
        self.queries: list[str] = []  # every query embedded, in order (tests read it)

    def load(self) -> None:
        """Nothing to load."""

    def thresholds(self) -> dict[str, float]:
        return {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in hashing_vectors(list(texts), self.dim)]

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return [float(x) for x in hashing_vectors([text], self.dim)[0]]

    def embed_passages(self, passages: Sequence[Passage]) -> list[PassageVectors]:
        from assistant.passages import sentence_layout

        out = []
        for p in passages:
            vec = hashing_vectors([p.embed_text], self.dim)[0]
            spans = sentence_layout(p)
            texts = [p.embed_text[s[0] : s[1]] if s else "" for s in spans]
            sents = hashing_vectors(texts, self.dim) if texts else np.zeros((0, self.dim))
            for i, s in enumerate(spans):
                if s is None or not sents[i].any():
                    sents[i] = vec
            out.append(PassageVectors(vec, sents.astype(np.float32)))
        return out
