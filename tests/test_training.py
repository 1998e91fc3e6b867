"""The relevance model's data and training: the split, the mined triples, the shipped model's
manifest, and a smoke run of `assistant train` through the same code on 20 questions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.corpus import corpus_files, load_manifest, load_source
from assistant.embedding import PACKAGED, Embedder, token_counts
from assistant.passages import Chunker
from assistant.settings import PROJECT_ROOT, Settings
from assistant.training.data import (
    EvidenceLocator,
    data_hash,
    load_split,
    mine_triples,
    query_of,
    region_of,
)
from assistant.training.fit import MANIFEST, TrainConfig, read_manifest, train
from tests.conftest import CORPUS, small_corpus

QUESTIONS = PROJECT_ROOT / "eval" / "training"
SHIPPED = Path(Settings().embedding_model)


def test_the_split_holds_whole_regions_out() -> None:
    split = load_split(QUESTIONS)
    assert len(split.train) > 3000 and len(split.test) > 300
    test_regions = {region_of(q) for q in split.test}
    assert test_regions == set(split.test_regions)
    assert not test_regions & {region_of(q) for q in split.train}
    assert not {q.id for q in split.train} & {q.id for q in split.test}
    answerable = [q for q in (*split.train, *split.test) if q.answerable]
    assert len(answerable) >= 3000
    assert sum(not q.answerable for q in (*split.train, *split.test)) >= 300


def test_the_shipped_model_matches_its_training_data() -> None:
    """The manifest's hash is that of the question files: model and data cannot drift apart."""
    if not (SHIPPED / MANIFEST).exists():
        pytest.skip(f"the default model {SHIPPED} is not a trained folder of ours")
    manifest = read_manifest(SHIPPED)
    assert manifest["data_hash"] == data_hash(QUESTIONS), (
        "eval/training changed since the model was trained: run `assistant train` again"
    )
    assert manifest["test_regions"] == list(load_split(QUESTIONS).test_regions)
    weights = SHIPPED / "model.safetensors"
    assert weights.stat().st_size < 60_000_000  # fp16


def corpus_passages() -> list:
    manifest = load_manifest(CORPUS / "manifest.toml")
    chunker = Chunker(lambda texts: token_counts(PACKAGED, texts), 200)
    return [
        p
        for path in corpus_files(CORPUS)
        for p in chunker.passages(load_source(path, manifest.get(path.name)))
    ]


def test_triples_pair_the_evidence_with_a_passage_that_lacks_it() -> None:
    passages = corpus_passages()
    locator = EvidenceLocator(passages, CORPUS)
    split = load_split(QUESTIONS)
    answerable = [q for q in split.train if q.answerable]
    located = [q for q in answerable if locator.positives(q)]
    assert len(located) / len(answerable) > 0.97  # the rest quote headings or dates alone
    questions = located[:60]
    for q in questions:
        for p in locator.positives(
            q
        ):  # each overlaps one of the evidence quotes where it is in the file
            text = locator.texts[Path(p.source).name]
            spans = [(i, i + len(e.quote)) for e in q.evidence if (i := text.find(e.quote)) >= 0]
            assert any(min(p.end, b) > max(p.start, a) for a, b in spans)

    def search(query: str, k: int) -> list:
        return passages[:k]  # a fake retriever: the first passages, whatever the question

    triples = mine_triples(questions, locator, search, seed=3)
    assert triples
    for t in triples:
        q = next(q for q in questions if q.id == t.question_id)
        assert t.query == query_of(q)
        assert t.negative.id not in {p.id for p in locator.positives(q)}
    again = mine_triples(questions, locator, search, seed=3)
    assert [(t.positive.id, t.negative.id) for t in again] == [
        (t.positive.id, t.negative.id) for t in triples
    ]


@pytest.mark.real_model
def test_train_smoke(tmp_path: Path) -> None:
    """20 questions, 2 steps, through `train` itself: a loadable fp16 model and a manifest."""
    corpus = small_corpus(tmp_path / "corpus", ("sedova_letter_to_friends_1944-11-06.txt",))
    qdir = tmp_path / "questions"
    qdir.mkdir()
    lines = (QUESTIONS / "sedova.jsonl").read_text(encoding="utf-8").splitlines()
    (qdir / "a.jsonl").write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    (qdir / "b.jsonl").write_text("\n".join(lines[20:26]) + "\n", encoding="utf-8")
    (qdir / "split.toml").write_text('train_test = ["b"]\n', encoding="utf-8")
    settings = Settings(corpus_dir=corpus, onnx_cache_dir=tmp_path / "onnx")
    out = tmp_path / "model"
    report = train(settings, qdir, out, TrainConfig(max_steps=2, batch_size=4), say=lambda _: None)
    assert report.steps == 2 and report.triples > 0
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["data_hash"] == data_hash(qdir)
    assert manifest["config"]["seed"] == 13 and manifest["test_regions"] == ["b"]
    assert (out / "model.safetensors").stat().st_size < 60_000_000
    shutil.rmtree(tmp_path / "onnx", ignore_errors=True)
    vec = np.asarray(Embedder(settings.model_copy(update={"embedding_model": str(out),
                                                          "embedding_backend": "torch"})
                              ).embed_query("Who wrote to Dear Friends?"))  # fmt: skip
    assert vec.dtype == np.float64 or vec.dtype == np.float32
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-3


def test_judge_examples_label_the_evidence_sentence() -> None:
    import random

    from assistant.evaluation.questions import Evidence, Question
    from assistant.training.judge import examples_for

    q = Question("q1", "When?", "ref", ("1923",), (Evidence("a.txt", "dated 1923."),),
                 "factoid", True)  # fmt: skip
    candidates = [
        ("The letter was dated 1923.", (10, 36), "a.txt"),
        ("Another sentence of 1923 elsewhere.", (100, 135), "a.txt"),
        ("Nothing here at all.", (200, 220), "a.txt"),
    ]
    spans = [("a.txt", 24, 36)]
    got = examples_for(q, "When?", candidates, spans, random.Random(1), negatives=4)
    labels = {e.sentence: e.label for e in got}
    assert labels["The letter was dated 1923."] == 1.0
    assert "Another sentence of 1923 elsewhere." not in labels  # holds the fact: no negative
    assert labels["Nothing here at all."] == 0.0
    unanswerable = Question("q2", "How many?", "", (), (), "unanswerable", False)
    got = examples_for(unanswerable, "How many?", candidates, [], random.Random(1), negatives=4)
    assert got and all(e.label == 0.0 for e in got)


def test_a_models_manifest_sets_the_answerers_thresholds_for_its_scores(tmp_path: Path) -> None:
    from assistant.embedding import Embedder
    from assistant.errors import ModelError
    from assistant.snapshot import thresholds as _thresholds

    def thresholds(settings: Settings):  # type: ignore[no-untyped-def]
        return _thresholds(settings, Embedder(settings))

    shipped = thresholds(Settings())
    assert (shipped.min_semantic, shipped.keep_ratio) == (
        read_manifest(SHIPPED)["answerer"]["min_semantic"],
        read_manifest(SHIPPED)["answerer"]["keep_ratio"],
    )
    packaged = thresholds(Settings(embedding_model=PACKAGED, max_answer_words=90))
    assert packaged.min_semantic == 0.5 and packaged.max_words == 90  # the defaults are its
    model = tmp_path / "model"
    shutil.copytree(SHIPPED, model)
    (model / MANIFEST).write_text(json.dumps({"answerer": {"min_semantic": 0.35}}))
    assert thresholds(Settings(embedding_model=str(model))).min_semantic == 0.35
    (model / MANIFEST).write_text(json.dumps({"answerer": {"min_semantik": 0.35}}))
    with pytest.raises(ModelError, match="min_semantik, which the answerer does not have"):
        thresholds(Settings(embedding_model=str(model)))
    (model / MANIFEST).write_text("{not json")
    with pytest.raises(ModelError, match="damaged"):
        thresholds(Settings(embedding_model=str(model)))
