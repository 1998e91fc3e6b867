"""Question-time embedding with ONNX Runtime, ``tokenizers`` and numpy alone.

A question is one short text: loading sentence-transformers (and with it torch and
transformers) to embed it cost a new process ten seconds before its first answer. This module
runs the graph that :mod:`assistant.onnx_backend` exported and does, in numpy, what the
sentence-transformers pipeline of these models does around it (``modules.json``: Transformer,
Pooling with ``pooling_mode: mean``, Normalize):

1. tokenise with the model's own ``tokenizer.json`` (word pieces, [CLS]/[SEP], cut at
   ``max_tokens`` word pieces as sentence-transformers' ``max_seq_length`` does, padded to the
   longest text of the batch);
2. run the encoder: ``last_hidden_state`` for every token;
3. mean-pool the token vectors over the attention mask;
4. divide by the vector's length.

Ingest keeps the sentence-transformers path (its sentence vectors need the token vectors and
offsets that :meth:`assistant.embedding.Embedder.embed_passages` takes from it); a test checks
that both give the same vectors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime as ort
    from tokenizers import Tokenizer

# sentence-transformers clamps the mask's sum at this before dividing, and the norm at 1e-12
_MIN_TOKENS = 1e-9
_MIN_NORM = 1e-12


def check_mean_pooling(model_dir: Path) -> None:
    """Refuse a model whose sentence-transformers pipeline is not mean pooling + Normalize.

    Raises:
        ModelError: the pooling config asks for another pooling, or Normalize is absent.
    """
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens")
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    normalised = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
    if not (mean and normalised):
        raise ModelError(
            f"{model_dir} does not mean-pool and normalise its vectors, which the ONNX "
            "question path assumes; set ASSISTANT_EMBEDDING_BACKEND=torch for this model."
        )


def load_tokenizer(model_dir: Path, max_tokens: int) -> Tokenizer:
    """The model's tokenizer, cutting at ``max_tokens`` word pieces and padding a batch."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=max_tokens)
    pad_id = tok.token_to_id("[PAD]")
    tok.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tok


def open_session(onnx_file: Path, threads: int) -> ort.InferenceSession:
    """An ONNX Runtime session on ``threads`` intra-op threads (telemetry off)."""
    import onnxruntime as ort

    from assistant.offline import quiet

    quiet()  # ORT_DISABLE_TELEMETRY before its first session

    ort.disable_telemetry_events()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])


class OnnxQueryEncoder:
    """Embeds a few texts the way the model's sentence-transformers pipeline does, without it.

    Thread-safe: the tokenizer's settings are fixed here, and an ONNX Runtime session may be
    run from several threads at once.
    """

    def __init__(self, tokenizer: Tokenizer, session: ort.InferenceSession) -> None:
        self.tokenizer = tokenizer
        self.session = session
        self.inputs = {i.name for i in session.get_inputs()}

    @classmethod
    def open(
        cls, model_dir: Path, onnx_file: Path, threads: int, max_tokens: int
    ) -> OnnxQueryEncoder:
        """The encoder of ``model_dir`` (tokenizer, pooling) running the graph ``onnx_file``.

        Raises:
            ModelError: the model does not mean-pool and normalise (see
                :func:`check_mean_pooling`).
        """
        check_mean_pooling(model_dir)
        return cls(load_tokenizer(model_dir, max_tokens), open_session(onnx_file, threads))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, one row each (float32)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encs = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        ids = np.asarray([e.ids for e in encs], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encs], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self.session.run(
            ["last_hidden_state"], {k: v for k, v in feeds.items() if k in self.inputs}
        )
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden.astype(np.float32) * weights).sum(axis=1)
        pooled = summed / np.maximum(weights.sum(axis=1), _MIN_TOKENS)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, _MIN_NORM)).astype(np.float32)
