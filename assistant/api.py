"""The public entry point: ``Assistant`` ingests, retrieves and answers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from assistant.citations import SourceTexts
from assistant.conversation import (
    History,
    searched_ids,
    standalone_question,
    trim_history,
    validate_doc_ids,
    validate_k,
    validate_question,
)
from assistant.embedding import Embedder, TextEmbedder
from assistant.generations import Pointer, Pointers, reader_problem
from assistant.ingest import Ingester, Progress
from assistant.prompts import BUILDING_NOTE, INTERRUPTED_NOTE
from assistant.question import Mode, QuestionState, check_mode
from assistant.settings import Settings
from assistant.snapshot import Snapshot, load_judge, load_snapshot
from assistant.store import PassageStore
from assistant.types import Answer, DocumentSummary, IngestReport, Passage, StoreState

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.chain import QuestionChain
    from assistant.lc_retriever import HybridRetriever
    from assistant.llm import LLMAnswerer
    from assistant.retrieval import Retriever
    from assistant.training.judge import Judge


class NoStore:
    """What :attr:`Assistant.store` is while no generation of the store is complete."""

    generation = None

    def count(self) -> int:
        return 0

    def state(self) -> StoreState:
        return StoreState()

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
        """The assistant over ``settings``' corpus and store, with the collaborators given.

        Args:
            settings: where the corpus and store are and how answers are made (default:
                ``Settings()``, read from ``ASSISTANT_*`` variables).
            embedder: the embedding model (default: the one ``settings.embedding_model``
                names, loaded at first use); tests pass :class:`assistant.testing.FakeEmbedder`.
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
        self._snapshot: Snapshot | None = None

    @property
    def store(self) -> PassageStore | NoStore:
        """The last complete generation of the store: what answers come from."""
        return self._view()[1] or NoStore()

    def _view(self) -> tuple[Pointer, PassageStore | None]:
        """The pointer as it is now and the store it names (reopened when it moved on)."""
        pointer = self.pointers.read()
        with self._lock:
            return pointer, self._open(pointer)

    def _open(self, pointer: Pointer) -> PassageStore | None:
        """The store ``pointer`` names; call with the lock held."""
        if pointer.current is None:
            return None
        if self._store is None or self._store.generation != pointer.current:
            self._store = PassageStore(self.settings, self.embedder, pointer.current)
        return self._store

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
            self._snapshot = None
        return report

    # -- retrieval --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The loaded index of the last complete generation (loaded again when the pointer
        moves). A question takes it once and keeps it to its end."""
        pointer = self.pointers.read()
        with self._lock:  # one load at a time; the store and its snapshot change together
            store = self._open(pointer)
            if store is None:
                raise reader_problem(pointer)
            if self._snapshot is None or self._snapshot.retriever.store is not store:
                self._snapshot = load_snapshot(self.settings, store, self.embedder, self._judge)
            return self._snapshot

    @property
    def retriever(self) -> Retriever:
        """The hybrid retriever of the current snapshot."""
        return self.snapshot().retriever

    @cached_property
    def _judge(self) -> Judge | None:
        return load_judge(self.settings)

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

    def passage_count(self) -> int:
        """How many passages the last complete generation holds (0 while there is none)."""
        return self.store.count()

    def searched(self, doc_ids: Sequence[str] | None) -> tuple[str, ...]:
        """The ids of the documents a search limited to ``doc_ids`` covers (None: all)."""
        return searched_ids(self.snapshot().doc_ids, doc_ids)

    def retrieve(
        self,
        question: str,
        k: int = 10,
        history: History | None = None,
        doc_ids: Sequence[str] | None = None,
        mode: Mode = "hybrid",
    ) -> list[Passage]:
        """The passages the chain would use, best first (follow-ups resolved with history).

        Raises:
            InvalidQuestionError: an empty or overlong question, a bad history message, an
                unknown document id (the message lists the valid ones) or search mode.
        """
        question = validate_question(question, self.settings.max_question_chars)
        hist, _ = trim_history(history, self.settings)
        query = standalone_question(question, hist)
        k = validate_k(k)
        mode = check_mode(mode)
        snapshot = self.snapshot()
        doc_ids = validate_doc_ids(doc_ids, snapshot.doc_ids)
        return snapshot.retriever.search(query, k=k, doc_ids=doc_ids, mode=mode)

    def as_retriever(
        self, k: int = 4, doc_ids: Sequence[str] | None = None, mode: Mode = "hybrid"
    ) -> HybridRetriever:
        """A LangChain ``BaseRetriever`` over the hybrid search, for a chain of your own: its
        Documents' ``page_content`` is the verbatim passage and their metadata holds id,
        doc_id, title, section, kind, source, start, end and score."""
        from assistant.lc_retriever import HybridRetriever

        mode = check_mode(mode)
        if doc_ids is not None:
            validate_doc_ids(list(doc_ids), self.snapshot().doc_ids)
        return HybridRetriever(
            assistant=self, k=validate_k(k), doc_ids=list(doc_ids) if doc_ids else None, mode=mode
        )

    # -- answers ----------------------------------------------------------------------------
    @cached_property
    def llm(self) -> LLMAnswerer | None:
        """The LLM answerer: with the chat model given, or the one the settings name when
        ``settings.answerer`` is "llm"; None: answers are composed from the excerpts."""
        model = self.chat_model
        if model is None and self.settings.answerer == "llm":
            from assistant.llm import make_chat_model

            model = make_chat_model(self.settings)
        if model is None:
            return None
        from assistant.llm import LLMAnswerer

        return LLMAnswerer(model, self.settings)

    @cached_property
    def chain(self) -> QuestionChain:
        """The LangChain Runnable: an :class:`assistant.question.AskInput` (or a dict of its
        fields: question, history, doc_ids, mode) in, an ``Answer`` out; ``stream`` yields an
        LLM's text as it comes, then the Answer."""
        from assistant.chain import ChainParts, QuestionChain

        return QuestionChain(
            ChainParts(self.settings, self.snapshot, self.store_notes, self.sources, self.llm)
        )  # fmt: skip

    def ask(
        self,
        question: str,
        history: History | None = None,
        doc_ids: Sequence[str] | None = None,
        mode: Mode = "hybrid",
    ) -> Answer:
        """Answer a question (or a follow-up, given the chat history) with citations.

        ``history``: earlier messages as {"role", "content"} dicts, LangChain messages or
        (role, content) pairs. ``doc_ids`` limits the search to those documents; the Answer's
        ``searched`` names the documents that were searched, its ``passages`` the passages it
        was built from.
        """
        return self.chain.invoke(_input(question, history, doc_ids, mode))

    def state_for(self, question: str, history: History | None = None) -> QuestionState:
        """What the answerer sees for a question: the prepared and retrieved state (for tools
        that study the answerer, such as the threshold calibration)."""
        from assistant.chain import prepare, retrieve

        parts = self.chain.parts
        return retrieve(parts, prepare(parts, _input(question, history, None, "hybrid")))

    def ask_stream(
        self,
        question: str,
        history: History | None = None,
        doc_ids: Sequence[str] | None = None,
        mode: Mode = "hybrid",
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, but yields the LLM's text as it comes, then the checked Answer.

        The streamed text is provisional; the final Answer (always the last item) replaces it.
        With the default answerer only the Answer is yielded.
        """
        yield from self.chain.stream(_input(question, history, doc_ids, mode))


def _input(
    question: str, history: History | None, doc_ids: Sequence[str] | None, mode: Mode
) -> dict[str, Any]:
    return {"question": question, "history": list(history or []),
            "doc_ids": None if doc_ids is None else list(doc_ids), "mode": mode}  # fmt: skip
