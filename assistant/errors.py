"""Errors the assistant raises; each message says what to do next.

AssistantError
├── InvalidQuestionError     empty, punctuation-only or over-long question or history
├── StoreError               the store cannot serve answers
│   ├── EmptyStoreError      nothing ingested yet
│   ├── CorruptStoreError    damaged files
│   └── StoreUnavailableError  the Chroma server does not answer or refuses us
├── StoreLockedError         another ingest holds the store
├── IngestError              a corpus file or the manifest is wrong (names the file)
│   └── ManifestError
├── ModelError               the embedding model's files are missing
└── BackendUnavailableError  the configured chat model cannot be reached
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the assistant raises on purpose."""


class InvalidQuestionError(AssistantError, ValueError):
    """The question or history cannot be answered as given."""


class StoreError(AssistantError):
    """The vector store cannot serve answers."""


class EmptyStoreError(StoreError):
    """Nothing has been ingested yet."""


class CorruptStoreError(StoreError):
    """The store's files are damaged or unreadable."""


class StoreUnavailableError(StoreError):
    """The Chroma server named in the settings cannot be reached, or refuses the client."""


class StoreLockedError(AssistantError):
    """Another process is writing the store."""


class IngestError(AssistantError):
    """A corpus file could not be ingested."""


class ManifestError(IngestError):
    """The corpus manifest is malformed."""


class ModelError(AssistantError):
    """The embedding model cannot be loaded."""


class BackendUnavailableError(AssistantError):
    """The chat model backend did not answer."""
