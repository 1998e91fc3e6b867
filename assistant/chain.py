"""The LangChain Runnable: question and history in, a cited Answer out.

prepare (validate, trim history, resolve a follow-up)
  -> retrieve (hybrid search, linked notes pulled in)
  -> answer (LLM when configured and reachable, else composed from excerpts)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableLambda

from assistant.answering import ExcerptAnswerer, Thresholds, idf_function
from assistant.conversation import standalone_question, trim_history, validate_question
from assistant.types import Answer, Passage

if TYPE_CHECKING:
    from assistant.api import Assistant


def build_chain(assistant: Assistant) -> Runnable[dict[str, Any], Answer]:
    """The chain behind ``Assistant.ask``."""
    return (
        RunnableLambda(partial(prepare, assistant), name="prepare")
        | RunnableLambda(partial(retrieve, assistant), name="retrieve")
        | RunnableLambda(partial(answer, assistant), name="answer")
    )


def prepare(assistant: Assistant, inp: dict[str, Any]) -> dict[str, Any]:
    """Validate the question, trim the history, resolve a follow-up."""
    settings = assistant.settings
    question = validate_question(inp.get("question"), settings.max_question_chars)
    history, notes = trim_history(inp.get("history"), settings)
    _ = assistant.retriever  # an empty or damaged store fails here, before any model is called
    query = _condense(assistant, question, history)
    return {**inp, "question": question, "history": history, "query": query, "notes": notes}


def retrieve(assistant: Assistant, state: dict[str, Any]) -> dict[str, Any]:
    """Hybrid search for the standalone question, with the hits' linked notes."""
    retriever = assistant.retriever
    hits = retriever.search(
        state["query"], k=assistant.settings.top_k, doc_ids=state.get("doc_ids"),
        mode=state.get("mode") or "hybrid",
    )  # fmt: skip
    return {**state, "passages": hits, "linked": _linked(retriever, hits)}


def answer(assistant: Assistant, state: dict[str, Any]) -> Answer:
    """The answer for a retrieved state, with the preparation's notes in front."""
    ans = _answer(assistant, state)
    return replace(ans, notes=[*state["notes"], *ans.notes])


def stream(assistant: Assistant, inp: dict[str, Any]) -> Iterator[str | Answer]:
    """Text pieces as the LLM writes them, then the checked Answer (always last)."""
    state = retrieve(assistant, prepare(assistant, inp))
    if assistant.settings.answerer != "llm":
        yield answer(assistant, state)
        return
    from assistant.llm import stream_answer_with_llm

    for item in stream_answer_with_llm(assistant, state, excerpt_answerer(assistant)):
        yield (
            replace(item, notes=[*state["notes"], *item.notes])
            if isinstance(item, Answer)
            else item
        )


def _linked(retriever: Any, hits: list[Passage]) -> list[Passage]:
    seen = {h.id for h in hits}
    out: list[Passage] = []
    for h in hits:
        for q in retriever.linked(h):
            if q.id not in seen:
                seen.add(q.id)
                out.append(q.with_score(h.score * 0.9))
    return out


def _condense(assistant: Assistant, question: str, history: list[dict[str, str]]) -> str:
    if assistant.settings.answerer == "llm" and history:
        from assistant.llm import condense_with_llm

        return condense_with_llm(assistant, question, history)
    return standalone_question(question, history)


def _answer(assistant: Assistant, state: dict[str, Any]) -> Answer:
    if assistant.settings.answerer == "llm":
        from assistant.llm import answer_with_llm

        return answer_with_llm(assistant, state, excerpt_answerer(assistant))
    return excerpt_answer(assistant, state)


def excerpt_answer(assistant: Assistant, state: dict[str, Any]) -> Answer:
    """The default answerer applied to a prepared, retrieved state."""
    passages = [*state["passages"], *notes_of_top(state)]
    return excerpt_answerer(assistant).answer(
        state["question"], state["query"], passages, state["linked"]
    )


def notes_of_top(state: dict[str, Any]) -> list[Passage]:
    """Linked passages of the top hits join the candidates (a note may hold the answer)."""
    return list(state["linked"][:4])


def excerpt_answerer(assistant: Assistant) -> ExcerptAnswerer:
    return _excerpt_answerer_for(id(assistant.retriever), assistant)


@cache
def _excerpt_answerer_for(_key: int, assistant: Assistant) -> ExcerptAnswerer:
    retriever = assistant.retriever
    embedder = assistant.embedder
    idf = idf_function(dict(retriever.lexical.doc_freq), max(1, retriever.lexical.size))

    def embed_query(text: str) -> np.ndarray:
        return np.asarray(embedder.embed_query(text), dtype=np.float32)  # cached

    def sentence_vectors(p: Passage) -> np.ndarray:
        return retriever.sentences.vectors(p.id)

    thresholds = Thresholds(max_words=assistant.settings.max_answer_words)
    return ExcerptAnswerer(
        embed_query, sentence_vectors, idf, thresholds=thresholds,
        known=retriever.lexical.doc_freq.__contains__, judge=_judge(assistant.settings),
        previous=retriever.previous, following=retriever.following,
    )  # fmt: skip


def _judge(settings: Any) -> Any:
    """The answer judge the settings name, if any."""
    if not settings.judge_model:
        return None
    from pathlib import Path

    from assistant.training.judge import Judge

    return Judge(Path(settings.judge_model).expanduser(), threads=settings.query_threads)
