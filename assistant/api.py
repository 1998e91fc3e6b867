"""The public entry point: ``Assistant`` ingests, retrieves and answers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from assistant.citations import SourceTexts
from assistant.conversation import (
    History,
    standalone_question,
    trim_history,
    validate_doc_ids,
    validate_k,
    validate_question,
)
from assistant.embedding import Embedder, TextEmbedder
from assistant.errors import EmptyStoreError, StoreError
from assistant.generations import Pointer, Pointers, reader_problem
from assistant.ingest import Ingester, Progress
from assistant.prompts import BUILDING_NOTE, INTERRUPTED_NOTE
from assistant.settings import Settings
from assistant.store import PassageStore
from assistant.types import Answer, DocumentSummary, IngestReport, Passage

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from assistant.retrieval import Mode, Retriever


class NoStore:
    """What :attr:`Assistant.store` is while no generation of the store is complete."""

    generation = None

    def count(self) -> int:
        return 0

    def state(self) -> dict[str, Any]:
        return {"model": None, "chunker": None, "docs": {}, "partial": None}

    def all_passages(self) -> list[Passage]:
        return []


class Assistant:
    """Question answering over the corpus, every claim cited to a verbatim excerpt.

    Example:
        >>> a = Assistant()
        >>> a.ingest()
        >>> a.ask("Why did Trotsky write to Krupskaya in May 1927?").text
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: TextEmbedder | None = None,
        chat_model: BaseChatModel | None = None,
    ) -> None:
        """Args:
        settings: where the corpus and store are and how answers are made (default:
            ``Settings()``, read from ``ASSISTANT_*`` variables).
        embedder: the embedding model (default: the one ``settings.embedding_model`` names,
            loaded at first use); tests pass :class:`assistant.testing.FakeEmbedder`.
        chat_model: any LangChain chat model to answer with (sets the answerer to the LLM
            one); default: the one the settings name, if ``settings.answerer`` is "llm".
        """
        self.settings = settings or Settings()
        self.embedder: TextEmbedder = embedder or Embedder(self.settings)  # checks its files
        self.chat_model = chat_model
        self.pointers = Pointers(self.settings)
        self.sources = SourceTexts()  # corpus files as they are now, for answer-time checks
        self._lock = threading.Lock()
        self._store: PassageStore | None = None
        self._retriever: Retriever | None = None

    @property
    def store(self) -> PassageStore | NoStore:
        """The last complete generation of the store: what answers come from."""
        return self._view()[1] or NoStore()

    def _view(self) -> tuple[Pointer, PassageStore | None]:
        """The pointer as it is now and the store it names (reopened when it moved on)."""
        pointer = self.pointers.read()
        with self._lock:
            if pointer.current is None:
                return pointer, None
            if self._store is None or self._store.generation != pointer.current:
                self._store = PassageStore(self.settings, self.embedder, pointer.current)
            return pointer, self._store

    def store_notes(self) -> list[str]:
        """What a reader should know about an ingest at work or stopped half-way."""
        build = self.pointers.read().building
        if build is None:
            return []
        note = BUILDING_NOTE if build.running() else INTERRUPTED_NOTE
        return [note.format(progress=build.progress())]

    # -- ingestion --------------------------------------------------------------------------
    def ingest(self, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
        """Bring the store in line with the corpus folder (see :mod:`assistant.ingest`).

        With ``rebuild``, every document is embedded anew into a new generation, whatever
        state the old one is in (damaged, half-written, another model's).
        """
        report = Ingester(self.settings, self.embedder, self.pointers).run(rebuild, progress)
        with self._lock:
            self._store = None  # the generation changed: reopen on next use
            self._retriever = None
        return report

    # -- retrieval --------------------------------------------------------------------------
    @property
    def retriever(self) -> Retriever:
        """The index of the last complete generation (loaded again when the pointer moves)."""
        pointer, store = self._view()
        if store is None:
            raise reader_problem(pointer)
        with self._lock:
            if self._retriever is None or self._retriever.store is not store:
                self._retriever = self._load(store)
            return self._retriever

    def newer_retriever(self, stale: Retriever) -> Retriever | None:
        """After a store error: the retriever of a newer generation, if the pointer moved on
        (an ingest finished and deleted the one ``stale`` reads); None if it did not."""
        try:
            fresh = self.retriever
        except StoreError:
            return None
        return fresh if fresh is not stale else None

    def _load(self, store: PassageStore) -> Retriever:
        if store.count() == 0:
            raise EmptyStoreError(
                "the store is empty; run `assistant ingest` to build it from corpus/."
            )
        from assistant.index_cache import load_or_build  # bm25s, scipy: only to search
        from assistant.retrieval import Retriever

        passages, lexical, sentences = load_or_build(self.settings, store)
        files = {s: str(d.get("file") or "") for s, d in store.state()["docs"].items()}
        return Retriever(store, self.embedder, passages, lexical, sentences=sentences,
                         files=files)  # fmt: skip

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
        k = validate_k(k)
        retriever = self.retriever
        doc_ids = validate_doc_ids(doc_ids, retriever.doc_ids)
        try:
            return retriever.search(query, k=k, doc_ids=doc_ids, mode=mode)
        except StoreError:
            if (newer := self.newer_retriever(retriever)) is None:
                raise
            return newer.search(query, k=k, doc_ids=doc_ids, mode=mode)

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
