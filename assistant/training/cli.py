"""``assistant train``: fine-tune the embedding model on the annotated questions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assistant.settings import PROJECT_ROOT, Settings

DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "training"


def add_train_parser(sub: Any) -> None:
    s = sub.add_parser(
        "train",
        help="fine-tune the embedding model on the annotated questions (CPU, ~30 min)",
        description="Mine hard negatives with the packaged model, fine-tune it on the training "
        "regions of the questions, save fp16 weights and a manifest, and measure the held-out "
        "regions before and after.",
    )
    s.add_argument(
        "--questions",
        type=Path,
        default=DEFAULT_QUESTIONS,
        metavar="DIR",
        help="folder of training questions with split.toml (default: eval/training)",
    )
    s.add_argument("--out", type=Path, required=True, metavar="DIR", help="model folder to write")
    s.add_argument("--epochs", type=float, default=2.0)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--seed", type=int, default=13)
    s.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="train on the first N training questions only",
    )
    s.add_argument(
        "--max-steps", type=int, default=-1, metavar="N", help="stop after N optimizer steps"
    )
    s.add_argument(
        "--judge",
        action="store_true",
        help="train the answer judge (a cross-encoder over question and sentence) instead, "
        "with candidates from the configured embedding model",
    )
    s.set_defaults(func=cmd_train)  # fmt: skip


def cmd_train(args: argparse.Namespace) -> int:
    if args.judge:
        return _judge(args)
    from assistant.training.fit import TrainConfig, train

    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, limit=args.limit,
        max_steps=args.max_steps,
    )  # fmt: skip
    report = train(Settings(), args.questions, args.out, config)
    print(report.summary())
    return 0


def _judge(args: argparse.Namespace) -> int:
    from assistant.training.judge import JudgeConfig, train_judge

    epochs = args.epochs if args.epochs != 2.0 else JudgeConfig.epochs
    config = JudgeConfig(epochs=epochs, batch_size=args.batch_size, seed=args.seed,
                         limit=args.limit, max_steps=args.max_steps)  # fmt: skip
    manifest = train_judge(Settings(), args.questions, args.out, config)
    print(
        f"judge: {args.out}: {manifest['examples']} examples, {manifest['steps']} steps, "
        f"loss {manifest['loss']:.3f}, {manifest['seconds'] / 60:.1f} min"
    )
    return 0
