"""Question answering over historical documents, with verbatim, offset-checked citations.

The names below are imported at first use (PEP 562), so that ``assistant --help`` and other
light commands do not pay for chromadb, LangChain or numpy. (The offline and telemetry
variables are set where the clients are made: :func:`assistant.offline.quiet`.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.api import Assistant
    from assistant.errors import (
        AssistantError,
        ChatModelError,
        CorruptStoreError,
        DiskFullError,
        EmptyStoreError,
        IncompleteStoreError,
        IngestError,
        InvalidQuestionError,
        ManifestError,
        ModelError,
        StoreAccessError,
        StoreBuildingError,
        StoreError,
        StoreLockedError,
        StoreUnavailableError,
    )
    from assistant.ingest import IngestProgress
    from assistant.markup import TextRun, plain_text, split_runs, text_runs
    from assistant.question import AskInput
    from assistant.render import format_answer
    from assistant.settings import Settings
    from assistant.types import (
        Answer,
        Citation,
        DocumentInfo,
        DocumentSummary,
        IngestReport,
        Passage,
    )

_HOMES = {
    "Answer": "assistant.types",
    "Assistant": "assistant.api",
    "AskInput": "assistant.question",
    "AssistantError": "assistant.errors",
    "ChatModelError": "assistant.errors",
    "Citation": "assistant.types",
    "CorruptStoreError": "assistant.errors",
    "DiskFullError": "assistant.errors",
    "DocumentInfo": "assistant.types",
    "DocumentSummary": "assistant.types",
    "EmptyStoreError": "assistant.errors",
    "IncompleteStoreError": "assistant.errors",
    "IngestError": "assistant.errors",
    "IngestProgress": "assistant.ingest",
    "IngestReport": "assistant.types",
    "InvalidQuestionError": "assistant.errors",
    "ManifestError": "assistant.errors",
    "ModelError": "assistant.errors",
    "Passage": "assistant.types",
    "Settings": "assistant.settings",
    "StoreAccessError": "assistant.errors",
    "StoreBuildingError": "assistant.errors",
    "StoreError": "assistant.errors",
    "StoreLockedError": "assistant.errors",
    "StoreUnavailableError": "assistant.errors",
    "TextRun": "assistant.markup",
    "format_answer": "assistant.render",
    "plain_text": "assistant.markup",
    "split_runs": "assistant.markup",
    "text_runs": "assistant.markup",
}

__all__ = [
    "Answer",
    "AskInput",
    "Assistant",
    "AssistantError",
    "ChatModelError",
    "Citation",
    "CorruptStoreError",
    "DiskFullError",
    "DocumentInfo",
    "DocumentSummary",
    "EmptyStoreError",
    "IncompleteStoreError",
    "IngestError",
    "IngestProgress",
    "IngestReport",
    "InvalidQuestionError",
    "ManifestError",
    "ModelError",
    "Passage",
    "Settings",
    "StoreAccessError",
    "StoreBuildingError",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "TextRun",
    "format_answer",
    "plain_text",
    "split_runs",
    "text_runs",
]


def __getattr__(name: str) -> Any:
    """``assistant.<name>`` for the public names, imported from their module at first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
