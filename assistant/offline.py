"""No network: the environment that keeps every library that would phone home quiet and offline.

Nothing happens on import. :func:`quiet` is called where a client that reads these variables is
made: the Chroma client (:mod:`assistant.store_client`), the embedding model's load, the web
page, and the ``assistant`` command before it loads anything. Each variable is set only when
it is unset, so a user's own choice (``HF_HUB_OFFLINE=0`` to fetch a model) wins.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# ONNX Runtime (1.2x on Linux) queues usage events in ~/.cache/Microsoft/DeveloperTools/
# .onnxruntime and sends them to mobile.events.data.microsoft.com unless ORT_DISABLE_TELEMETRY
# is set before its first session (assistant.onnx_backend also turns its events off where it
# makes sessions). Hugging Face's libraries read theirs when they are imported.
QUIET_ENV: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE_LOADING_WEIGHTS": "1",
}


def quiet(environ: MutableMapping[str, str] | None = None) -> None:
    """Turn telemetry off and the Hugging Face libraries offline, unless already set.

    Args:
        environ: the environment to change (``os.environ`` by default).
    """
    env = os.environ if environ is None else environ
    for name, value in QUIET_ENV.items():
        env.setdefault(name, value)
