"""The ONNX Runtime backend: exported locally from the packaged weights, faithful to PyTorch."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.embedding import MODEL_MAX_TOKENS, PACKAGED, Embedder, QueryCache, model_path
from assistant.errors import ModelError
from assistant.onnx_backend import (
    FP32_FILE,
    _require,
    ensure_onnx_model,
    load_onnx_sentence_transformer,
    onnx_file_name,
    use_threads,
)
from assistant.onnx_query import check_mean_pooling
from assistant.settings import Settings

SENTENCES = [
    "Trotsky wrote to Krupskaya in May 1927 about the struggle against the Opposition.",
    "The scissors crisis of 1923: the gap between industrial and agricultural prices.",
    "Сталин решил теперь заменить борьбу на истощение борьбой на истребление.",
    "The Twelfth Party Congress enlarged the Central Committee.",
]


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return np.asarray(Embedder(Settings(embedding_backend="torch")).embed_documents(SENTENCES))


def test_export_writes_both_graphs_once(tmp_path: Path) -> None:
    folder = ensure_onnx_model(model_path(PACKAGED), tmp_path, quantize=True)
    fp32, int8 = folder / FP32_FILE, folder / onnx_file_name(True)
    assert fp32.stat().st_size > 10_000_000 and int8.stat().st_size > 5_000_000
    # int8 matrices; the word-embedding table (47 MB) stays fp32
    assert int8.stat().st_size < 0.7 * fp32.stat().st_size
    before = (fp32.stat().st_mtime_ns, int8.stat().st_mtime_ns)
    assert ensure_onnx_model(model_path(PACKAGED), tmp_path, quantize=True) == folder
    assert (fp32.stat().st_mtime_ns, int8.stat().st_mtime_ns) == before  # not exported again
    assert not list(folder.rglob("model.safetensors"))  # weights are not copied


@pytest.mark.parametrize(("backend", "floor"), [("onnx", 0.9999), ("onnx-int8", 0.97)])
def test_onnx_vectors_match_torch(backend: str, floor: float, torch_vectors: np.ndarray) -> None:
    embedder = Embedder(Settings(embedding_backend=backend))  # type: ignore[arg-type]
    vecs = np.asarray(embedder.embed_documents(SENTENCES))
    assert vecs.shape == torch_vectors.shape == (len(SENTENCES), 384)
    cos = (vecs * torch_vectors).sum(axis=1)
    assert cos.min() > floor, cos
    # the meaning survives: each sentence is still nearest to itself
    assert (np.argmax(vecs @ torch_vectors.T, axis=1) == np.arange(len(SENTENCES))).all()


# A text of far more than 256 word pieces: both paths must cut it at the same place.
LONG = "The Opposition asked for a change of course in the party and the economy. " * 30
QUERY_TEXTS = [*SENTENCES, "Krupskaya", LONG]


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_question_path_gives_the_sentence_transformers_vectors(backend: str) -> None:
    """The question encoder (ONNX Runtime + tokenizers + numpy) runs the same graph on the same
    word pieces as sentence-transformers and pools the same way: only float32 summation order
    differs (measured: 1e-7 apart), so 1e-5 would still catch a wrong pooling, mask or cut."""
    embedder = Embedder(Settings(embedding_backend=backend))  # type: ignore[arg-type]
    assert len(embedder.tokenizer.encode(LONG).ids) > MODEL_MAX_TOKENS + 100
    ours = embedder.encode_small(QUERY_TEXTS)
    theirs = np.asarray(embedder.model.encode(QUERY_TEXTS, normalize_embeddings=True))
    assert ours.shape == theirs.shape == (len(QUERY_TEXTS), embedder.dim)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert (ours * theirs).sum(axis=1).min() > 0.9999
    # alone, as a question is embedded (int8 activations are scaled per batch, so a text's
    # vector depends on its batch-mates: compare a text alone with itself alone)
    for text in (SENTENCES[2], LONG):
        query = np.asarray(embedder.embed_query(text))
        alone = np.asarray(embedder.model.encode([text], normalize_embeddings=True))[0]
        assert float(query @ alone) > 0.9999


def test_question_encoder_runs_on_query_threads() -> None:
    embedder = Embedder(Settings(embedding_backend="onnx-int8", query_threads=1))
    embedder.embed_query(SENTENCES[0])
    options = embedder.query_encoder.session.get_session_options()
    assert options.intra_op_num_threads == 1


def test_query_cache_is_bounded_and_keeps_the_recent() -> None:
    cache = QueryCache(size=2)
    cache.put("a", [1.0])
    cache.put("b", [2.0])
    assert cache.get("a") == [1.0]  # "a" is now the most recent
    cache.put("c", [3.0])
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ([1.0], None, [3.0])
    cache.clear()
    assert cache.get("a") is None


def test_each_embedder_keeps_its_own_query_cache() -> None:
    first, second = (Embedder(Settings(embedding_backend="onnx-int8")) for _ in range(2))
    first.embed_query(SENTENCES[1])
    assert first.queries.get(SENTENCES[1]) is not None
    assert second.queries.get(SENTENCES[1]) is None


def test_pooling_other_than_mean_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "1_Pooling").mkdir(parents=True)
    for name in ("modules.json", "1_Pooling/config.json"):
        shutil.copyfile(model_path(PACKAGED) / name, model / name)
    config = model / "1_Pooling" / "config.json"
    pooling = json.loads(config.read_text(encoding="utf-8"))
    pooling.update(pooling_mode="cls", pooling_mode_mean_tokens=False)
    config.write_text(json.dumps(pooling), encoding="utf-8")
    with pytest.raises(ModelError, match="EMBEDDING_BACKEND=torch"):
        check_mean_pooling(model)
    check_mean_pooling(model_path(PACKAGED))


def test_thread_count_is_per_thread() -> None:
    """A question's one thread must not leak into an ingest running on another thread."""
    embedder = Embedder(Settings(embedding_backend="onnx-int8", query_threads=1))
    encoder = embedder.model[0].model
    default = encoder.threads
    inside, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def question() -> None:
        with use_threads(embedder.model, 1):
            seen.append(encoder.threads)
            inside.set()
            release.wait(10)

    t = threading.Thread(target=question)
    t.start()
    assert inside.wait(10)
    assert encoder.threads == default != 1  # this thread is not moved
    release.set()
    t.join()
    assert seen == [1] and encoder.threads == default


@pytest.mark.parametrize("backend", ["onnx-int8", "torch"])
def test_question_time_texts_are_cut_to_max_tokens(backend: str) -> None:
    embedder = Embedder(Settings(embedding_backend=backend))
    long = SENTENCES[2] * 2  # Cyrillic: 128 word pieces in all
    tail = long + " " + SENTENCES[0]
    cut = np.asarray(embedder.encode_small([long, tail], max_tokens=24))
    assert float(cut[0] @ cut[1]) > 0.9999  # what follows the 24th word piece is not read
    whole = np.asarray(embedder.encode_small([long, tail]))
    assert float(whole[0] @ whole[1]) < 0.999
    assert embedder.model.max_seq_length == 256  # restored for ingest


def test_model_id_names_the_backend() -> None:
    assert Embedder(Settings(embedding_backend="onnx-int8")).model_id.endswith("@onnx-int8")
    assert Embedder(Settings(embedding_backend="torch")).model_id.endswith("@torch")


def test_missing_runtime_says_how_to_install() -> None:
    with pytest.raises(ModelError, match="pip install onnx onnxruntime"):
        _require("onnxruntime", "no_such_module_for_the_test")


def test_a_folder_without_weights_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    (empty / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="no model weights"):
        load_onnx_sentence_transformer(empty, tmp_path / "cache", quantize=True)
