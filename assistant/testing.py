"""Helpers for tests: a deterministic stand-in for the embedding model, and the default
answerer built on it. No model is loaded; the same text always gets the same vector."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from assistant.answering import ExcerptAnswerer, Thresholds
from assistant.evidence import sentence_text, spans_of
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
