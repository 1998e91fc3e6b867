"""The public entry point: ``Assistant`` ingests, retrieves and answers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from assistant.conversation import History, standalone_question, trim_history, validate_question
from assistant.embedding import Embedder
from assistant.errors import CorruptStoreError, EmptyStoreError
from assistant.ingest import Ingester, Progress, writer_lock
from assistant.settings import Settings
from assistant.store import PassageStore, wipe_local_store
from assistant.types import Answer, DocumentSummary, IngestReport, Passage

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

    from assistant.retrieval import Mode, Retriever


class Assistant:
    """Question answering over the corpus, every claim cited to a verbatim excerpt.

    Example:
        >>> a = Assistant()
        >>> a.ingest()
        >>> a.ask("Why did Trotsky write to Krupskaya in May 1927?").text
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._lock = threading.Lock()
        self._retriever: Retriever | None = None

    @cached_property
    def embedder(self) -> Embedder:
        return Embedder(self.settings)

    @cached_property
    def store(self) -> PassageStore:
        return PassageStore(self.settings, self.embedder)

    # -- ingestion --------------------------------------------------------------------------
    def ingest(self, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
        """Bring the store in line with the corpus folder (see :mod:`assistant.ingest`).

        With ``rebuild``, a local store too damaged to open is deleted and built anew.
        """
        try:
            report = Ingester(self.settings, self.store, self.embedder).run(rebuild, progress)
        except CorruptStoreError:
            if not rebuild or self.settings.chroma_host:
                raise
            with writer_lock(self.settings):
                wipe_local_store(self.settings)
            self.__dict__.pop("store", None)  # reopen the emptied folder
            report = Ingester(self.settings, self.store, self.embedder).run(rebuild, progress)
        with self._lock:
            self._retriever = None  # passages changed: reload on next use
        return report

    # -- retrieval --------------------------------------------------------------------------
    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                if self.store.count() == 0:
                    raise EmptyStoreError(
                        "the store is empty; run `assistant ingest` to build it from corpus/."
                    )
                from assistant.index_cache import load_or_build  # bm25s, scipy: only to search
                from assistant.retrieval import Retriever

                passages, lexical, sentences = load_or_build(self.settings, self.store)
                self._retriever = Retriever(
                    self.store, self.embedder, passages, lexical, sentences=sentences
                )
            return self._retriever

    def documents(self) -> list[DocumentSummary]:
        """The documents in the store, by title, with their passage counts."""
        counts: Counter[str] = Counter()
        first: dict[str, Passage] = {}
        for p in self.retriever.passages:
            counts[p.doc_id] += 1
            first.setdefault(p.doc_id, p)
        docs = [
            DocumentSummary(p.doc_id, p.title, p.author, p.date, p.doc_kind, counts[p.doc_id])
            for p in first.values()
        ]
        return sorted(docs, key=lambda d: (d.title, d.id))

    def searched(self, doc_ids: Sequence[str] | None) -> tuple[str, ...]:
        """The ids of the documents a search limited to ``doc_ids`` covers (None: all)."""
        known = sorted({p.doc_id for p in self.retriever.passages})
        wanted = set(doc_ids or known)
        return tuple(i for i in known if i in wanted)

    def retrieve(
        self,
        question: str,
        k: int = 10,
        history: History | None = None,
        doc_ids: Sequence[str] | None = None,
        mode: Mode = "hybrid",
    ) -> list[Passage]:
        """The passages the chain would use, best first (follow-ups resolved with history)."""
        question = validate_question(question, self.settings.max_question_chars)
        hist, _ = trim_history(history, self.settings)
        query = standalone_question(question, hist)
        return self.retriever.search(query, k=k, doc_ids=doc_ids, mode=mode)

    # -- answers ----------------------------------------------------------------------------
    @cached_property
    def chain(self) -> Runnable[dict[str, Any], Answer]:
        """The LangChain Runnable: ``{"question", "history", "doc_ids"}`` in, ``Answer`` out."""
        from assistant.chain import build_chain

        return build_chain(self)

    def ask(
        self,
        question: str,
        history: History | None = None,
        doc_ids: Sequence[str] | None = None,
        mode: Mode = "hybrid",
    ) -> Answer:
        """Answer a question (or a follow-up, given the chat history) with citations.

        ``doc_ids`` limits the search to those documents; the Answer's ``searched`` names
        the documents that were searched.
        """
        answer = self.chain.invoke(
            {"question": question, "history": history or [], "doc_ids": doc_ids, "mode": mode}
        )
        return replace(answer, searched=self.searched(doc_ids))

    def ask_stream(
        self,
        question: str,
        history: History | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, but yields the LLM's text as it comes, then the checked Answer.

        The streamed text is provisional; the final Answer (always the last item) replaces it.
        With the default answerer only the Answer is yielded.
        """
        from assistant.chain import stream

        inp = {"question": question, "history": history or [], "doc_ids": doc_ids}
        for item in stream(self, inp):
            if isinstance(item, Answer):
                item = replace(item, searched=self.searched(doc_ids))
            yield item
