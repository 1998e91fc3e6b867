"""The sentence index: a vector for every sentence of every passage, made at ingest.

A sentence's vector is the mean of the passage's own token embeddings over the sentence's span,
taken from the same forward pass that embeds the passage: no extra model run, and each sentence
is read in its passage's context (its section title, the sentences around it). Measured on
eval/questions/dev.jsonl against embedding each sentence alone, with its section title, or with
the sentence before it: the key sentence ranked as well (top 6 of the candidates for 0.77-0.79
of questions by meaning alone, 0.83-0.89 with the answerer's word and rank scores), at no cost.

The vectors travel with their passage: in the store as float16 in the passage's metadata
(written in the same upsert, so an ingest killed half-way leaves no passage without them), and
in the index cache as one matrix.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MATRIX_FILE = "sentences.npy"
ROWS_FILE = "sentence_rows.json"


@dataclass(frozen=True)
class PassageVectors:
    """A passage's vector and one vector per sentence of it (unit length, float32)."""

    passage: np.ndarray
    sentences: np.ndarray


def pool_sentences(
    tokens: np.ndarray,
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[tuple[int, int] | None],
    fallback: np.ndarray,
) -> np.ndarray:
    """Mean token embedding over each character span, normalised.

    Args:
        tokens: the passage's token embeddings, ``[CLS] ... [SEP]`` (padding removed).
        offsets: each token's character span in the embedded text (as many as ``tokens``).
        spans: each sentence's character span in that text; None for one with no text.
        fallback: the vector for a sentence that no token covers (cut off, or empty).
    """
    ends = np.array([e for _, e in offsets[1:-1]], dtype=np.int64)
    starts = np.array([s for s, _ in offsets[1:-1]], dtype=np.int64)
    inner = tokens[1:-1]
    out = np.empty((len(spans), tokens.shape[1]), dtype=np.float32)
    for i, span in enumerate(spans):
        if span is None:
            out[i] = fallback
            continue
        inside = (starts >= span[0]) & (ends <= span[1]) & (ends > starts)
        v = inner[inside].mean(axis=0) if inside.any() else fallback
        norm = float(np.linalg.norm(v))
        out[i] = v / norm if norm > 0 else fallback
    return out


def encode(vectors: np.ndarray) -> str:
    """Sentence vectors as text for the store's metadata (float16, base64)."""
    return base64.b64encode(np.ascontiguousarray(vectors, dtype="<f2").tobytes()).decode("ascii")


def decode(text: str, dim: int) -> np.ndarray:
    """The inverse of :func:`encode`."""
    raw = np.frombuffer(base64.b64decode(text), dtype="<f2")
    return raw.reshape(-1, dim).astype(np.float32)


class SentenceIndex:
    """Every passage's sentence vectors in one matrix; a passage's rows found by its id."""

    def __init__(self, rows: dict[str, tuple[int, int]], matrix: np.ndarray) -> None:
        self.rows = rows
        self.matrix = matrix

    @classmethod
    def build(cls, ids: Sequence[str], vectors: Sequence[np.ndarray], dim: int) -> SentenceIndex:
        rows: dict[str, tuple[int, int]] = {}
        pos = 0
        for pid, v in zip(ids, vectors, strict=True):
            rows[pid] = (pos, pos + len(v))
            pos += len(v)
        parts = [v for v in vectors if len(v)]
        matrix = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, dim))
        return cls(rows, matrix)

    def vectors(self, passage_id: str) -> np.ndarray:
        """The sentence vectors of a passage, in sentence order (none for an unknown id)."""
        lo, hi = self.rows.get(passage_id, (0, 0))
        return self.matrix[lo:hi]

    def save(self, folder: Path) -> None:
        np.save(folder / MATRIX_FILE, self.matrix.astype(np.float16))
        (folder / ROWS_FILE).write_text(json.dumps(self.rows), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> SentenceIndex:
        rows = {k: (int(v[0]), int(v[1])) for k, v in json.loads(
            (folder / ROWS_FILE).read_text(encoding="utf-8")).items()}  # fmt: skip
        matrix = np.load(folder / MATRIX_FILE).astype(np.float32)
        if rows and max(hi for _, hi in rows.values()) > len(matrix):
            raise ValueError("sentence rows point past the end of the matrix")
        return cls(rows, matrix)
