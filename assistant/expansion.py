"""Question expansion of the lexical index (doc2query): a passage is also found by the
annotated questions it answers.

The questions are the training regions of ``eval/training`` (``settings.expansion_questions``);
each answerable one is added to the BM25 text of the passages holding its evidence, worded as a
reader asked it. The held-out regions are never added, so on them expansion cannot help by
construction: their figures say what it does for a passage nobody annotated.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.settings import Settings
from assistant.types import Passage


def expansion_key(settings: Settings) -> str:
    """What the expansion adds, as a hash ("" when off): part of the index cache's key."""
    folder = settings.expansion_questions
    if folder is None or not folder.is_dir():
        return ""
    from assistant.training.data import data_hash

    return data_hash(folder)[:16]


def expansions(settings: Settings, passages: Sequence[Passage]) -> dict[str, list[str]]:
    """The training questions each passage answers, by passage id."""
    folder = settings.expansion_questions
    if folder is None or not folder.is_dir():
        return {}
    from assistant.training.data import EvidenceLocator, load_split, query_of

    present = [p for p in passages if (settings.corpus_dir / p.source.rsplit("/", 1)[-1]).exists()]
    locator = EvidenceLocator(present, settings.corpus_dir)
    out: dict[str, list[str]] = {}
    for q in load_split(folder).train:
        if q.answerable:
            for p in locator.positives(q):
                out.setdefault(p.id, []).append(query_of(q))
    return out


def lexical_texts(settings: Settings, passages: Sequence[Passage]) -> list[str]:
    """What BM25 indexes for each passage: its embedded text, then the questions it answers."""
    extra = expansions(settings, passages)
    return [" ".join([p.embed_text, *extra.get(p.id, [])]) for p in passages]
