"""The LangChain Runnable: a question (and history) in, a cited Answer out.

    AskInput
      -> prepare (validate, trim history, take the snapshot of the last complete store once,
                  resolve a follow-up)                                   -> QuestionState
      -> retrieve (hybrid search, linked notes pulled in)                -> QuestionState
      -> answer (the LLM when one is given and reachable, else composed from excerpts)
      -> verify (every quote against its file on disk now; changed files' citations dropped)
                                                                          -> Answer

``QuestionChain`` is a Runnable with typed input and output schemas; ``stream`` yields the LLM's
text as it comes and the checked Answer last (only the Answer with the default answerer).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, RootModel

from assistant.citations import SourceTexts, verify_answer
from assistant.conversation import (
    searched_ids,
    standalone_question,
    trim_history,
    validate_doc_ids,
    validate_question,
)
from assistant.question import AskInput, QuestionState, parse_input
from assistant.settings import Settings
from assistant.tuning import LinkTuning
from assistant.types import Answer, Passage

if TYPE_CHECKING:
    from assistant.llm import LLMAnswerer
    from assistant.snapshot import Snapshot


class AnswerOutput(RootModel[Answer]):
    """The chain's output schema: an :class:`assistant.types.Answer`."""


@dataclass(frozen=True)
class ChainParts:
    """What the chain is made of, passed in by the :class:`assistant.api.Assistant`."""

    settings: Settings
    snapshot: Callable[[], Snapshot]  # the last complete generation's, loaded (raises if none)
    store_notes: Callable[[], list[str]]  # an ingest at work or stopped half-way
    sources: SourceTexts  # the corpus files as they are now, for answer-time checks
    llm: LLMAnswerer | None = None  # None: the default answerer
    links: LinkTuning = field(default_factory=LinkTuning)  # linked notes: scores, how many


class QuestionChain(Runnable[AskInput | dict[str, Any], Answer]):
    """``{"question", "history", "doc_ids", "mode"}`` (or an :class:`AskInput`) in, Answer out."""

    name = "assistant"

    def __init__(self, parts: ChainParts) -> None:
        self.parts = parts

    @property
    def InputType(self) -> type[AskInput]:
        return AskInput

    @property
    def OutputType(self) -> type[Answer]:
        return Answer

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return AskInput

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return AnswerOutput

    def invoke(
        self, input: AskInput | dict[str, Any], config: RunnableConfig | None = None, **_: Any
    ) -> Answer:
        return self._call_with_config(self._invoke, input, config, run_type="chain")

    def stream(  # type: ignore[override]  # text pieces, then the Answer
        self, input: AskInput | dict[str, Any], config: RunnableConfig | None = None, **_: Any
    ) -> Iterator[str | Answer]:
        pieces: Any = self._stream  # yields str pieces besides Answers
        yield from self._transform_stream_with_config(iter([input]), pieces, config)

    async def astream(  # type: ignore[override]
        self, input: AskInput | dict[str, Any], config: RunnableConfig | None = None, **_: Any
    ) -> AsyncIterator[str | Answer]:
        items = self.stream(input, config)
        end = object()
        while (item := await asyncio.to_thread(next, items, end)) is not end:
            yield item  # type: ignore[misc]

    def _invoke(self, inp: AskInput | dict[str, Any]) -> Answer:
        return answer(self.parts, retrieve(self.parts, prepare(self.parts, inp)))

    def _stream(self, inputs: Iterator[AskInput | dict[str, Any]]) -> Iterator[str | Answer]:
        for inp in inputs:
            state = retrieve(self.parts, prepare(self.parts, inp))
            if self.parts.llm is None:
                yield answer(self.parts, state)
                continue
            for item in self.parts.llm.stream(state):
                yield _finished(self.parts, state, item) if isinstance(item, Answer) else item


def prepare(parts: ChainParts, inp: AskInput | dict[str, Any]) -> QuestionState:
    """Validate the input, trim the history, take the snapshot, resolve a follow-up."""
    ask = parse_input(inp)
    settings = parts.settings
    question = validate_question(ask.question, settings.max_question_chars)
    history, notes = trim_history(ask.history, settings)
    # an empty, damaged or half-built store fails here, before any model is called; the
    # question is answered from this one snapshot even if an ingest switches the store meanwhile
    snapshot = parts.snapshot()
    doc_ids = validate_doc_ids(ask.doc_ids, snapshot.doc_ids)
    if parts.llm is not None and history:
        query = parts.llm.condense(question, history)
    else:
        query = standalone_question(question, history)
    return QuestionState(
        question=question, history=history, query=query,
        doc_ids=tuple(doc_ids) if doc_ids else None, mode=ask.mode,
        notes=(*parts.store_notes(), *notes), snapshot=snapshot,
        linked_candidates=parts.links.linked_candidates,
    )  # fmt: skip


def retrieve(parts: ChainParts, state: QuestionState) -> QuestionState:
    """Hybrid search for the standalone question, with the hits' linked notes. The search
    runs in the snapshot's memory: an ingest that deletes its generation meanwhile changes
    nothing here."""
    hits = state.snapshot.retriever.search(
        state.query, k=parts.settings.top_k, doc_ids=state.doc_ids, mode=state.mode
    )
    return state.with_hits(hits, linked_of(state.snapshot, hits, parts.links.linked_score))


def linked_of(snapshot: Snapshot, hits: Sequence[Passage], share: float) -> list[Passage]:
    """The notes the hits cite and the paragraphs citing hit notes, each once, scored below
    the hit that links to it (``share`` of its score)."""
    seen = {h.id for h in hits}
    out: list[Passage] = []
    for h in hits:
        for q in snapshot.retriever.linked(h):
            if q.id not in seen:
                seen.add(q.id)
                out.append(q.with_score(h.score * share))
    return out


def answer(parts: ChainParts, state: QuestionState) -> Answer:
    """The answer for a retrieved state, checked against the files on disk, with the
    preparation's notes in front."""
    made = parts.llm.answer(state) if parts.llm is not None else state.excerpt_answer()
    return _finished(parts, state, made)


def _finished(parts: ChainParts, state: QuestionState, ans: Answer) -> Answer:
    ans = verify_answer(ans, state.snapshot.retriever.files, parts.sources)
    searched = searched_ids(state.snapshot.doc_ids, state.doc_ids)
    return replace(
        ans, notes=[*state.notes, *ans.notes], passages=list(state.passages), searched=searched
    )
