"""The ONNX Runtime backend: exported locally from the packaged weights, faithful to PyTorch."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.embedding import PACKAGED, Embedder, model_path
from assistant.errors import ModelError
from assistant.onnx_backend import (
    FP32_FILE,
    _require,
    ensure_onnx_model,
    load_onnx_sentence_transformer,
    onnx_file_name,
    use_threads,
)
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


def test_query_embedding_runs_on_its_own_thread_count() -> None:
    embedder = Embedder(Settings(embedding_backend="onnx-int8", query_threads=1))
    batch = np.asarray(embedder.embed_documents(SENTENCES[:1]))[0]
    encoder = embedder.model[0].model
    default = encoder.threads
    query = np.asarray(embedder.embed_query(SENTENCES[0]))
    assert 1 in encoder.sessions and encoder.threads == default  # made for the query, restored
    assert float(query @ batch) > 0.9999  # same graph, same vector
    with use_threads(embedder.model, 1):
        assert encoder.threads == 1
    assert encoder.threads == default


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
