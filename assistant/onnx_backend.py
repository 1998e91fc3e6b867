"""An ONNX Runtime copy of the sentence-transformers model, exported offline from local weights.

``ensure_onnx_model`` writes, once, an ONNX export (and optionally an int8 dynamically
quantised copy) of a sentence-transformers folder into a cache folder outside the model
package, in the layout sentence-transformers uses for its own ONNX backend::

    <cache>/<model>-<fingerprint>/
        modules.json, config.json, tokenizer.json, 1_Pooling/, ...   (copied, no weights)
        onnx/model.onnx                 fp32
        onnx/model_qint8_<isa>.onnx     int8 weights, dynamic activations (isa: avx2,
                                        avx512_vnni or arm64, picked from the CPU)

``load_onnx_sentence_transformer`` returns a ``SentenceTransformer`` whose transformer runs
in ONNX Runtime; tokenisation, pooling and normalisation stay sentence-transformers' own (the
ingest path). Questions run the same graph without sentence-transformers or torch
(:mod:`assistant.onnx_query`).

Why not ``SentenceTransformer(..., backend="onnx")``: that path needs ``optimum-onnx``,
whose only releases pin ``transformers<4.58`` and fail to import with transformers 5, which
sentence-transformers 6 requires. The export here needs only ``torch`` (already installed),
``onnx`` and ``onnxruntime``; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import platform
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer

ONNX_SUBDIR = "onnx"
FP32_FILE = f"{ONNX_SUBDIR}/model.onnx"
OPSET = 17
EXPORT_VERSION = "2"  # bump to invalidate caches when the export recipe changes
_WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin")
_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def _require(*modules: str) -> None:
    """Raise a ``ModelError`` naming the missing packages and the pip line that adds them."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(
            f"the ONNX embedding backend needs {', '.join(missing)}, which is not installed; "
            "run `pip install onnx onnxruntime` (no network is needed once installed), "
            "or set the embedding backend back to torch."
        )


def cpu_isa() -> str:
    """The int8 kernel family this CPU runs best: ``avx512_vnni``, ``avx2`` or ``arm64``."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "avx2"
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    return "avx2"


def onnx_file_name(quantize: bool) -> str:
    """The file, relative to the folder ``ensure_onnx_model`` returns, holding the graph."""
    return f"{ONNX_SUBDIR}/model_qint8_{cpu_isa()}.onnx" if quantize else FP32_FILE


def _fingerprint(model_dir: Path) -> str:
    """Short hash of what the export depends on: config, weights (size and mtime), recipe."""
    h = hashlib.sha256(EXPORT_VERSION.encode())
    h.update((model_dir / "config.json").read_bytes())
    for name in _WEIGHT_NAMES:
        p = model_dir / name
        if p.exists():
            st = p.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def _copy_config_files(model_dir: Path, target: Path) -> None:
    """Copy every file of the model folder except weights and any existing ONNX/OpenVINO."""
    for src in model_dir.rglob("*"):
        rel = src.relative_to(model_dir)
        if src.is_dir() or rel.parts[0] in (ONNX_SUBDIR, "openvino") or src.name in _WEIGHT_NAMES:
            continue
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def _export_fp32(model_dir: Path, out_file: Path) -> None:
    """Trace the Hugging Face encoder of ``model_dir`` to ONNX, then fuse it for ONNX Runtime.

    The fusion (attention, skip-layer-norm, bias-GELU, embedding-layer-norm into ONNX Runtime
    contrib ops) is numerically the same graph and about 1.3x faster on CPU.
    """
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager", dtype=torch.float32
    )
    model.eval()

    class _Encoder(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                return_dict=True,
            )
            return out.last_hidden_state

    dummy = torch.ones((2, 16), dtype=torch.long)
    dynamic_axes = {name: {0: "batch", 1: "seq"} for name in (*_INPUT_NAMES, "last_hidden_state")}
    raw = out_file.with_name("raw-" + out_file.name)
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            _Encoder(model),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(raw),
            input_names=list(_INPUT_NAMES),
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    cfg = model.config
    fused = optimize_model(
        str(raw),
        model_type="bert",
        num_heads=cfg.num_attention_heads,
        hidden_size=cfg.hidden_size,
        opt_level=1,
    )
    fused.save_model_to_file(str(out_file))
    raw.unlink()


def _quantize_int8(fp32_file: Path, out_file: Path) -> None:
    """Dynamic int8 quantisation: int8 per-channel weights, uint8 activations at run time.

    ``reduce_range`` (7-bit weights) avoids the u8*s8 saturation of AVX2/AVX-512 kernels
    without VNNI, as the ONNX Runtime documentation advises for those CPUs.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        model_input=str(fp32_file),
        model_output=str(out_file),
        per_channel=True,
        reduce_range=cpu_isa() == "avx2",
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gemm", "Attention"],
        # the fused contrib ops defeat shape inference; their outputs are float
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def ensure_onnx_model(model_dir: Path, cache_dir: Path, quantize: bool) -> Path:
    """Export ``model_dir`` to ONNX into ``cache_dir`` once, and return the exported folder.

    The folder holds the model's config and tokenizer files and ``onnx_file_name(quantize)``.
    Later calls find the files and return at once; the cache key changes when the model's
    config or weights change. Files are written to a temporary name and renamed, so an
    interrupted export leaves no half-written model behind. Works offline: only the local
    weights are read.

    Raises:
        ModelError: ``onnx`` or ``onnxruntime`` is missing, or ``model_dir`` has no weights.
    """
    _require("onnxruntime", "onnx")
    model_dir = Path(model_dir)
    if not any((model_dir / n).exists() for n in _WEIGHT_NAMES):
        raise ModelError(f"cannot export {model_dir} to ONNX: it holds no model weights.")
    target = Path(cache_dir).expanduser() / f"{model_dir.name}-onnx-{_fingerprint(model_dir)}"
    wanted = [FP32_FILE] + ([onnx_file_name(True)] if quantize else [])
    if all((target / f).exists() for f in wanted):
        return target

    from filelock import FileLock

    quiet_onnxruntime()  # the export's optimiser and quantiser make sessions of their own
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        (target / ONNX_SUBDIR).mkdir(parents=True, exist_ok=True)
        if not (target / "modules.json").exists():
            _copy_config_files(model_dir, target)
        fp32 = target / FP32_FILE
        if not fp32.exists():
            with tempfile.TemporaryDirectory(dir=target) as tmp:
                tmp_file = Path(tmp) / "model.onnx"
                _export_fp32(model_dir, tmp_file)
                os.replace(tmp_file, fp32)
        if quantize:
            q = target / onnx_file_name(True)
            if not q.exists():
                with tempfile.TemporaryDirectory(dir=target) as tmp:
                    tmp_file = Path(tmp) / q.name
                    _quantize_int8(fp32, tmp_file)
                    os.replace(tmp_file, q)
    return target


def quiet_onnxruntime() -> None:
    """Turn ONNX Runtime's telemetry events off (with ``ORT_DISABLE_TELEMETRY``, which
    :mod:`assistant.settings` sets, nothing is queued or sent; this holds even if it was unset)."""
    import onnxruntime as ort

    ort.disable_telemetry_events()


def _session(onnx_file: Path, threads: int) -> ort.InferenceSession:
    from assistant.onnx_query import open_session

    return open_session(onnx_file, threads)


def _ort_encoder(onnx_file: Path, threads: int, config: Any) -> Any:
    """A torch module standing in for the Hugging Face encoder, running ONNX Runtime.

    ONNX Runtime fixes a session's thread count when the session is made, so the encoder
    keeps one session per thread count asked for (``use_threads``); they share the file. The
    count asked for is per thread: a question on one thread does not move an ingest on another.
    """
    import torch

    class OrtEncoder(torch.nn.Module):
        """Takes the Hugging Face encoder's place inside sentence-transformers' Transformer."""

        def __init__(self) -> None:
            super().__init__()
            self.onnx_file = onnx_file
            self.default_threads = threads
            self.local = threading.local()
            self.sessions: dict[int, ort.InferenceSession] = {threads: _session(onnx_file, threads)}
            self.config = config
            # one buffer so that ``.device``/``.dtype`` lookups on the model still work
            self.register_buffer("_anchor", torch.zeros(1), persistent=False)

        @property
        def threads(self) -> int:
            return int(getattr(self.local, "threads", self.default_threads))

        @threads.setter
        def threads(self, n: int) -> None:
            self.local.threads = n

        def session(self) -> ort.InferenceSession:
            if self.threads not in self.sessions:
                self.sessions[self.threads] = _session(self.onnx_file, self.threads)
            return self.sessions[self.threads]

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
            **_: Any,
        ) -> dict[str, torch.Tensor]:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            feeds = {
                "input_ids": input_ids.cpu().numpy().astype("int64", copy=False),
                "attention_mask": attention_mask.cpu().numpy().astype("int64", copy=False),
                "token_type_ids": token_type_ids.cpu().numpy().astype("int64", copy=False),
            }
            (hidden,) = self.session().run(["last_hidden_state"], feeds)
            return {"last_hidden_state": torch.from_numpy(hidden)}

    return OrtEncoder()


@contextlib.contextmanager
def use_threads(model: SentenceTransformer, threads: int) -> Iterator[None]:
    """Run ``model``'s ONNX encoder on ``threads`` intra-op threads inside the block (on
    this thread only)."""
    encoder: Any = model[0].model
    before = encoder.threads
    encoder.threads = threads
    try:
        yield
    finally:
        encoder.threads = before


def load_onnx_sentence_transformer(
    model_dir: Path, cache_dir: Path, quantize: bool, threads: int | None = None
) -> SentenceTransformer:
    """A ``SentenceTransformer`` for ``model_dir`` whose encoder runs in ONNX Runtime on CPU.

    Exports first if needed (see ``ensure_onnx_model``). The model is loaded from
    ``model_dir`` itself, so its trained weights are checked to load, then the Hugging Face
    encoder inside is swapped for an ONNX Runtime session; ``encode`` behaves as before.

    Args:
        model_dir: a complete sentence-transformers folder (e.g. ``embedding.model_path(...)``).
        cache_dir: where the ONNX export is kept; outside the model package.
        quantize: use the int8 dynamically quantised graph instead of fp32.
        threads: ONNX Runtime intra-op threads; default: every CPU.

    Raises:
        ModelError: ``onnx``/``onnxruntime`` are missing or the model has no weights.
    """
    folder = ensure_onnx_model(model_dir, cache_dir, quantize)
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(model_dir), device="cpu", local_files_only=True,
        model_kwargs={"dtype": torch.float32},  # a model kept in fp16 runs in fp32
    )  # fmt: skip
    transformer: Any = model[0]
    inner = transformer.model
    transformer.model = _ort_encoder(
        folder / onnx_file_name(quantize), threads or os.cpu_count() or 1, inner.config
    )
    del inner
    return model
