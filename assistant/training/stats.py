"""What the training questions cover and teach, and whether they repeat the evaluation sets.

    .venv/bin/python -m assistant.training.stats [--questions eval/training]

Prints: questions per type and split; the share of body passages and of substantive notes with
at least one question; how often BM25 alone ranks a question's evidence first (if it does for
most, the set teaches nothing BM25 cannot); and the training questions nearest to the dev and
held-out questions by embedding similarity, with those over ``--max-similarity`` listed as
repeats to remove.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.evaluation.questions import Question, load_questions
from assistant.settings import PROJECT_ROOT, Settings
from assistant.training.data import EvidenceLocator, load_split, query_of


def coverage(questions: Sequence[Question], locator: EvidenceLocator, passages: list) -> dict:
    """Shares of body passages and of substantive notes holding some question's evidence."""
    covered = {p.id for q in questions for p in locator.positives(q)}
    body = [p for p in passages if p.kind == "body"]
    notes = [p for p in passages if p.kind == "note" and p.note_kind == "substantive"]
    return {
        "body passages": f"{sum(p.id in covered for p in body)}/{len(body)}",
        "substantive notes": f"{sum(p.id in covered for p in notes)}/{len(notes)}",
    }


def bm25_first(questions: Sequence[Question], locator: EvidenceLocator, retriever) -> float:
    """Share of answerable questions whose first BM25 passage holds their evidence."""
    hits = []
    for q in questions:
        if not q.answerable:
            continue
        positives = {p.id for p in locator.positives(q)}
        top = retriever.search(query_of(q), k=1, mode="lexical")
        hits.append(bool(top) and top[0].id in positives)
    return sum(hits) / max(1, len(hits))


def nearest(
    train: Sequence[Question], others: Sequence[Question], embed, top: int
) -> list[tuple[float, Question, Question]]:
    """The ``top`` most similar (training, other) question pairs by cosine."""
    a = np.asarray(embed([q.question for q in train]), dtype=np.float32)
    b = np.asarray(embed([q.question for q in others]), dtype=np.float32)
    sim = a @ b.T
    best = np.argsort(-sim, axis=None)[:top]
    return [(float(sim.flat[i]), train[i // sim.shape[1]], others[i % sim.shape[1]]) for i in best]


def repeats(
    train: Sequence[Question],
    others: Sequence[Question],
    embed,
    locator: EvidenceLocator,
    max_similarity: float,
    max_related: float,
) -> dict[str, tuple[float, Question]]:
    """Training questions that repeat or paraphrase another set's: cosine over
    ``max_similarity``, or over ``max_related`` with evidence in the same passage.

    Returns:
        ``{training id: (cosine, the other question)}``.
    """
    a = np.asarray(embed([q.question for q in train]), dtype=np.float32)
    b = np.asarray(embed([q.question for q in others]), dtype=np.float32)
    sim = a @ b.T
    other_passages = [{p.id for p in locator.positives(o)} for o in others]
    out = {}
    for i, q in enumerate(train):
        mine = {p.id for p in locator.positives(q)}
        for j in np.argsort(-sim[i])[:5]:
            s = float(sim[i, j])
            if s > max_similarity or (s > max_related and mine & other_passages[j]):
                out[q.id] = (s, others[j])
                break
    return out


def drop(folder: Path, ids: set[str]) -> int:
    """Rewrite the question files of ``folder`` without the questions ``ids``; lines dropped."""
    import json

    dropped = 0
    for f in sorted(folder.glob("*.jsonl")):
        lines = f.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if not line.strip() or json.loads(line)["id"] not in ids]
        dropped += len(lines) - len(kept)
        f.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    return dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "eval" / "training")
    parser.add_argument("--eval", type=Path, default=PROJECT_ROOT / "eval" / "questions")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--max-similarity", type=float, default=0.8)
    parser.add_argument(
        "--max-related",
        type=float,
        default=0.7,
        help="cosine over which a question with evidence in the same passage as "
        "an evaluation question's counts as a paraphrase",
    )
    parser.add_argument("--drop-repeats", action="store_true",
                        help="rewrite the training files without the repeats")  # fmt: skip
    args = parser.parse_args(argv)

    from assistant.api import Assistant

    a = Assistant(Settings())
    r = a.retriever
    split = load_split(args.questions)
    everything = [*split.train, *split.test]
    locator = EvidenceLocator(r.passages, a.settings.corpus_dir)
    print("questions by type:", dict(Counter(q.type for q in everything)))
    print(f"train {len(split.train)}, train-test {len(split.test)} ({len(split.test_regions)} "
          "regions)")  # fmt: skip
    print("covered:", coverage(everything, locator, r.passages))
    print(f"BM25 ranks the evidence first for {bm25_first(everything, locator, r):.2f} of the "
          "answerable questions")  # fmt: skip
    others, _ = load_questions(args.eval)
    embed = a.embedder.embed_documents
    found = repeats(everything, others, embed, locator, args.max_similarity, args.max_related)
    print(f"{len(found)} training questions repeat or paraphrase one of {args.eval}")
    if args.drop_repeats and found:
        print(f"dropped {drop(args.questions, set(found))} lines")
        everything = [q for q in everything if q.id not in found]
    pairs = nearest(everything, others, embed, args.top)
    print(f"nearest pairs to {args.eval} (cosine):")
    for s, t, o in pairs:
        print(f"  {s:.3f}  {t.id}: {t.question}\n         {o.id}: {o.question}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
