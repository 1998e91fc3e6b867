"""Question answering over historical documents, with verbatim, offset-checked citations."""

from assistant.api import Assistant
from assistant.errors import (
    AssistantError,
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

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
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
