"""The LangChain Runnable: question and history in, a cited Answer out.

prepare (validate, trim history, take the index of the last complete store, resolve a follow-up)
  -> retrieve (hybrid search, linked notes pulled in)
  -> answer (LLM when configured and reachable, else composed from excerpts)
  -> verify (every quote against its file on disk now; changed files' citations dropped)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableLambda

from assistant.answering import ExcerptAnswerer, Thresholds, idf_function
from assistant.citations import verify_answer
from assistant.conversation import (
    standalone_question,
    trim_history,
    validate_doc_ids,
    validate_question,
)
from assistant.errors import ModelError, StoreError
from assistant.types import Answer, Passage

if TYPE_CHECKING:
    from assistant.api import Assistant
    from assistant.retrieval import Retriever

_ANSWERER_ATTR = "_excerpt_answerer"  # (retriever, answerer): the latest, on the Assistant


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
    # an empty, damaged or half-built store fails here, before any model is called; the
    # question is answered from this one index even if an ingest switches the store meanwhile
    retriever = assistant.retriever
    doc_ids = validate_doc_ids(inp.get("doc_ids"), retriever.doc_ids)
    notes = [*assistant.store_notes(), *notes]
    query = _condense(assistant, question, history)
    return {**inp, "question": question, "history": history, "query": query, "notes": notes,
            "doc_ids": doc_ids, "retriever": retriever}  # fmt: skip


def retrieve(assistant: Assistant, state: dict[str, Any]) -> dict[str, Any]:
    """Hybrid search for the standalone question, with the hits' linked notes."""
    retriever: Retriever = state.get("retriever") or assistant.retriever
    try:
        hits = _search(assistant, retriever, state)
    except StoreError:  # an ingest finished and deleted the generation this index reads
        newer = assistant.newer_retriever(retriever)
        if newer is None:
            raise
        retriever = newer
        hits = _search(assistant, retriever, state)
    return {**state, "retriever": retriever, "passages": hits, "linked": _linked(retriever, hits)}


def _search(assistant: Assistant, retriever: Retriever, state: dict[str, Any]) -> list[Passage]:
    return retriever.search(
        state["query"], k=assistant.settings.top_k, doc_ids=state.get("doc_ids"),
        mode=state.get("mode") or "hybrid",
    )  # fmt: skip


def answer(assistant: Assistant, state: dict[str, Any]) -> Answer:
    """The answer for a retrieved state, checked against the files on disk, with the
    preparation's notes in front."""
    return _finished(assistant, state, _answer(assistant, state))


def _finished(assistant: Assistant, state: dict[str, Any], ans: Answer) -> Answer:
    retriever = state.get("retriever") or assistant.retriever
    ans = verify_answer(ans, retriever.files, assistant.sources)
    return replace(ans, notes=[*state["notes"], *ans.notes])


def stream(assistant: Assistant, inp: dict[str, Any]) -> Iterator[str | Answer]:
    """Text pieces as the LLM writes them, then the checked Answer (always last)."""
    state = retrieve(assistant, prepare(assistant, inp))
    if assistant.settings.answerer != "llm":
        yield answer(assistant, state)
        return
    from assistant.llm import stream_answer_with_llm

    fallback = excerpt_answerer(assistant, state["retriever"])
    for item in stream_answer_with_llm(assistant, state, fallback):
        yield _finished(assistant, state, item) if isinstance(item, Answer) else item


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

        return answer_with_llm(assistant, state, excerpt_answerer(assistant, state["retriever"]))
    return excerpt_answer(assistant, state)


def excerpt_answer(assistant: Assistant, state: dict[str, Any]) -> Answer:
    """The default answerer applied to a prepared, retrieved state."""
    passages = [*state["passages"], *notes_of_top(state)]
    return excerpt_answerer(assistant, state.get("retriever")).answer(
        state["question"], state["query"], passages, state["linked"]
    )


def notes_of_top(state: dict[str, Any]) -> list[Passage]:
    """Linked passages of the top hits join the candidates (a note may hold the answer)."""
    return list(state["linked"][:4])


def excerpt_answerer(assistant: Assistant, retriever: Retriever | None = None) -> ExcerptAnswerer:
    """The default answerer over ``retriever`` (the assistant's current one by default),
    kept on the assistant while its retriever is the same."""
    retriever = retriever or assistant.retriever
    held = getattr(assistant, _ANSWERER_ATTR, None)
    if held is not None and held[0] is retriever:
        return held[1]
    made = _make_excerpt_answerer(assistant, retriever)
    setattr(assistant, _ANSWERER_ATTR, (retriever, made))
    return made


def _make_excerpt_answerer(assistant: Assistant, retriever: Retriever) -> ExcerptAnswerer:
    embedder = assistant.embedder
    idf = idf_function(dict(retriever.lexical.doc_freq), max(1, retriever.lexical.size))

    def embed_query(text: str) -> np.ndarray:
        return np.asarray(embedder.embed_query(text), dtype=np.float32)  # cached

    def sentence_vectors(p: Passage) -> np.ndarray:
        return retriever.sentences.vectors(p.id)

    thresholds = _thresholds(assistant.settings, embedder)
    return ExcerptAnswerer(
        embed_query, sentence_vectors, idf, thresholds=thresholds,
        known=retriever.lexical.doc_freq.__contains__, judge=_judge(assistant.settings),
        previous=retriever.previous, following=retriever.following,
    )  # fmt: skip


def _thresholds(settings: Any, embedder: Any) -> Thresholds:
    """The answerer's thresholds: the defaults, those the embedding model's manifest sets for
    its own scores, and the answer length from the settings."""
    tuned = embedder.thresholds()
    known = {f.name for f in fields(Thresholds) if f.type in ("float", float)}
    if set(tuned) - known:
        raise ModelError(
            f"the manifest of {settings.embedding_model} sets {', '.join(sorted(set(tuned) - known))}"
            f", which the answerer does not have (it has {', '.join(sorted(known))}); retrain "
            'or edit its "answerer" entry.'
        )
    return Thresholds(**{**tuned, "max_words": settings.max_answer_words})


def _judge(settings: Any) -> Any:
    """The answer judge the settings name, if any."""
    if not settings.judge_model:
        return None
    from pathlib import Path

    from assistant.training.judge import Judge

    return Judge(Path(settings.judge_model).expanduser(), threads=settings.query_threads)
