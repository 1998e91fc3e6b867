"""The hybrid search as a LangChain ``BaseRetriever``, for chains of a user's own.

    retriever = Assistant().as_retriever(k=4)
    chain = {"context": retriever, "question": RunnablePassthrough()} | prompt | model

Each Document's ``page_content`` is the passage exactly as it stands in its source file
(``source[start:end]``), not the cleaned text the model embedded; its metadata says where.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.question import Mode
from assistant.types import Passage

if TYPE_CHECKING:
    from assistant.api import Assistant

METADATA = ("id", "doc_id", "title", "section", "kind", "source", "start", "end", "score")


class HybridRetriever(BaseRetriever):
    """BM25 and dense search fused (see :mod:`assistant.retrieval`), over the assistant's
    last complete store; made by :meth:`assistant.api.Assistant.as_retriever`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Any  # an Assistant (Any: pydantic cannot build a schema for it)
    k: int = 4
    doc_ids: list[str] | None = None
    mode: Mode = "hybrid"

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        a: Assistant = self.assistant
        hits = a.retrieve(query, k=self.k, doc_ids=self.doc_ids, mode=self.mode)
        return [to_document(p) for p in hits]


def to_document(p: Passage) -> Document:
    """A passage as a LangChain Document: its verbatim text, and where it stands."""
    return Document(
        page_content=p.text, metadata={name: getattr(p, name) for name in METADATA}, id=p.id
    )
