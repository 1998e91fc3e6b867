"""When to say "the documents do not answer": the support threshold, set from the learned scores.

    .venv/bin/python -m assistant.training.calibrate [--questions eval/training] [--split train]

Runs the chain up to the answerer's scoring for every question of the split (follow-ups with
their history as the user's turns) and prints, for each candidate ``min_semantic``, the share of
unanswerable questions abstained on and of answerable ones wrongly abstained on. The near-miss
unanswerables of the training regions set the threshold; the held-out regions check it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.evaluation.questions import Question
from assistant.settings import PROJECT_ROOT, Settings
from assistant.training.data import load_split

if TYPE_CHECKING:
    from assistant.api import Assistant


@dataclass(frozen=True)
class Evidence:
    """What the answerer's abstention rule sees for one question."""

    answerable: bool
    support: float  # the best sentence's meaning score
    weak_otherwise: bool  # coverage too low, or an unknown name without a close match


def measure(a: Assistant, questions: Sequence[Question]) -> list[Evidence]:

    out = []
    for q in questions:
        state = a.state_for(q.question, [("user", h) for h in q.history])
        ex, passages = state.snapshot.answerer, state.candidates()
        query = state.query
        support = ex.score(query, passages).support
        weak = ex.coverage(query, passages[:3]) < ex.t.min_coverage or (
            bool(ex.unknown_names(query)) and support < ex.t.unknown_name_support
        )
        out.append(Evidence(q.answerable, support, weak))
    return out


def rates(evidence: Sequence[Evidence], threshold: float) -> tuple[float, float]:
    """(abstention on unanswerable, false abstention on answerable) at a threshold."""

    def abstains(e: Evidence) -> bool:
        return e.weak_otherwise or e.support < threshold

    unanswerable = [abstains(e) for e in evidence if not e.answerable]
    answerable = [abstains(e) for e in evidence if e.answerable]
    return (
        sum(unanswerable) / max(1, len(unanswerable)),
        sum(answerable) / max(1, len(answerable)),
    )


def best_threshold(evidence: Sequence[Evidence], max_false: float) -> float:
    """The highest threshold whose false abstention stays within ``max_false``."""
    candidates = sorted({round(e.support, 3) for e in evidence})
    best = 0.0
    for t in candidates:
        if rates(evidence, t)[1] <= max_false:
            best = t
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "eval" / "training")
    parser.add_argument("--max-false", type=float, default=0.03)
    args = parser.parse_args(argv)

    from assistant.api import Assistant

    a = Assistant(Settings())
    split = load_split(args.questions)
    train, test = measure(a, split.train), measure(a, split.test)
    t = best_threshold(train, args.max_false)
    print(f"min_semantic from the training regions (false abstention <= {args.max_false}): {t}")
    for name, ev in (("train", train), ("train-test", test)):
        for x in sorted({t, 0.45, 0.5, 0.55, 0.6, 0.65}):
            un, fa = rates(ev, x)
            print(
                f"  {name:10} min_semantic {x:.3f}: abstention {un:.2f}, false abstention {fa:.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
