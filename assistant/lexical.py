"""The lexical (BM25) index over the same passages, with bm25s (sparse matrices, no Python scan).

Built from the store's texts (half a second for this corpus) and kept on disk between runs
by :mod:`assistant.index_cache`. English words are Snowball-stemmed, Russian words too, stop
words dropped.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from assistant.tuning import LexicalTuning

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import

# Bump when tokenize() or the BM25 parameters change: indexes saved before are then rebuilt.
LEXICAL_VERSION = "2"

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
STOP_EN = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "after",
        "also",
        "any",
        "can",
        "could",
        "did",
        "should",
        "upon",
        "may",
        "might",
        "more",
        "most",
        "other",
        "some",
        "only",
        "between",
        "during",
        "before",
        "being",
        "each",
        "very",
        "own",
        "same",
        "over",
        "under",
        "again",
        "further",
        "here",
        "once",
    ]
)
STOP_RU = frozenset(
    [
        "и",
        "в",
        "во",
        "не",
        "что",
        "он",
        "на",
        "я",
        "с",
        "со",
        "как",
        "а",
        "то",
        "все",
        "она",
        "так",
        "его",
        "но",
        "да",
        "ты",
        "к",
        "у",
        "же",
        "вы",
        "за",
        "бы",
        "по",
    ]
)


@lru_cache(maxsize=1)
def _stemmers() -> tuple[Stemmer.Stemmer, Stemmer.Stemmer]:
    return Stemmer.Stemmer("english"), Stemmer.Stemmer("russian")


_UNITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen"]  # fmt: skip
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_VALUES = {
    **{w: i + 1 for i, w in enumerate(_UNITS)},
    **{w: i + 10 for i, w in enumerate(_TEENS)},
    **{w: 10 * (i + 2) for i, w in enumerate(_TENS)},
}
_NUMBER_RE = re.compile(
    rf"\b({'|'.join(_TENS)})(?:[- ]({'|'.join(_UNITS)}))?\b|\b({'|'.join(_UNITS + _TEENS)})\b",
    re.I,
)


def numbers_as_digits(text: str) -> str:
    """Number words as digits, so that "the Forty-Six" and "the 46" are the same words."""

    def value(m: re.Match[str]) -> str:
        if m.group(3):
            return str(_NUMBER_VALUES[m.group(3).lower()])
        ones = _NUMBER_VALUES[m.group(2).lower()] if m.group(2) else 0
        return str(_NUMBER_VALUES[m.group(1).lower()] + ones)

    return _NUMBER_RE.sub(value, text)


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed word tokens (English and Russian); number words
    as digits."""
    en, ru = _stemmers()
    out: list[str] = []
    for m in WORD_RE.finditer(numbers_as_digits(text).lower()):
        w = m.group(0).replace("’", "'")
        if w in STOP_EN or w in STOP_RU:
            continue
        if "\u0400" <= w[0] <= "\u04ff":
            out.append(ru.stemWord(w))
        else:
            out.append(en.stemWord(w.removesuffix("'s")))
    return out


class LexicalIndex:
    """BM25 over passage texts; search returns (position, score) best first."""

    def __init__(
        self, texts: Sequence[str], doc_ids: Sequence[str], tuning: LexicalTuning | None = None
    ) -> None:
        self.size = len(texts)
        self.doc_ids = np.array(doc_ids, dtype=object)
        t = tuning or LexicalTuning()
        self.bm25 = bm25s.BM25(k1=t.k1, b=t.b)
        self.doc_freq: Counter[str] = Counter()
        if self.size:
            tokens = [tokenize(t) or ["∅"] for t in texts]
            for toks in tokens:
                self.doc_freq.update(set(toks))
            self.bm25.index(tokens, show_progress=False)

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (bm25s's own files plus the document frequencies)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self.bm25.save(str(folder / "bm25"), show_progress=False)
        extra = {"size": self.size, "doc_freq": self.doc_freq}
        (folder / "lexical.json").write_text(json.dumps(extra), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, doc_ids: Sequence[str]) -> LexicalIndex:
        """The index :meth:`save` wrote, for passages with these ``doc_ids`` in the same order."""
        extra = json.loads((folder / "lexical.json").read_text(encoding="utf-8"))
        if extra["size"] != len(doc_ids):
            raise ValueError(f"saved for {extra['size']} passages, not {len(doc_ids)}")
        index = cls([], [])
        index.size = len(doc_ids)
        index.doc_ids = np.array(doc_ids, dtype=object)
        index.doc_freq = Counter(extra["doc_freq"])
        if index.size:
            index.bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=True, show_progress=False)
        return index

    def search(
        self, query: str, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[int, float]]:
        q = tokenize(query)
        if not self.size or not q:
            return []
        mask = None
        if doc_ids:
            mask = np.isin(self.doc_ids, list(doc_ids)).astype(np.float32)
        vocab = self.bm25.vocab_dict
        q = [t for t in q if t in vocab]
        if not q:
            return []
        scores = self.bm25.get_scores(q, weight_mask=mask)
        k = min(k, self.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
