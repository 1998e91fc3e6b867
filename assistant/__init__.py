"""Question answering over historical documents, with verbatim, offset-checked citations."""

from assistant.settings import Settings  # noqa: I001  (sets offline/telemetry env first)
from assistant.api import Assistant
from assistant.errors import (
    AssistantError,
    BackendUnavailableError,
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
from assistant.types import Answer, Citation, DocumentInfo, IngestReport, Passage

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "BackendUnavailableError",
    "Citation",
    "CorruptStoreError",
    "DiskFullError",
    "DocumentInfo",
    "EmptyStoreError",
    "IncompleteStoreError",
    "IngestError",
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
]
