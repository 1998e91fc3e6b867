"""Errors the assistant raises; each message says what to do next.

AssistantError
├── InvalidQuestionError     empty, punctuation-only or over-long question or history
├── StoreError               the store cannot serve answers
│   ├── EmptyStoreError      nothing ingested yet
│   ├── StoreBuildingError   the first build is running (n of m documents)
│   ├── IncompleteStoreError an ingest stopped before the first build was complete
│   ├── CorruptStoreError    damaged files (`ingest --rebuild` replaces them)
│   ├── StoreAccessError     the folder is not ours to write, or on a read-only disk
│   ├── DiskFullError        no room left on the store's disk
│   └── StoreUnavailableError  the Chroma server does not answer or refuses us
├── StoreLockedError         another ingest holds the store
├── IngestError              a corpus file or the manifest is wrong (names the file)
│   └── ManifestError
└── ModelError               the embedding model's files are missing
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


class StoreBuildingError(StoreError):
    """No complete store yet: an ingest is building the first one right now."""


class IncompleteStoreError(StoreError):
    """No complete store yet: the ingest that was building it stopped (killed, crashed)."""


class StoreAccessError(StoreError):
    """The store's folder cannot be written (permissions, or a read-only file system).

    Rebuilding would not help: the message names the folder and the permission to give.
    """


class DiskFullError(StoreError):
    """The disk holding the store is full; the message says how much to free."""


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
