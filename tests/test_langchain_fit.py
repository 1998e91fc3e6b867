"""The assistant inside the LangChain ecosystem: its retriever in a user's own LCEL chain, the
chain's schemas, streaming, any chat model, and errors that name the choices. Fake embedder and
fake chat models throughout: nothing here measures the real model."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough

from assistant import Assistant
from assistant.chain import answer, prepare, retrieve
from assistant.errors import InvalidQuestionError
from assistant.question import AskInput
from assistant.settings import Settings
from assistant.testing import FakeEmbedder
from assistant.types import Answer
from tests.conftest import small_corpus

QUESTION = "Why did Trotsky write to Krupskaya in May 1927?"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(corpus_dir=small_corpus(tmp_path / "corpus"), vectorstore_dir=tmp_path / "vs")


@pytest.fixture
def assistant(settings: Settings) -> Assistant:
    a = Assistant(settings, embedder=FakeEmbedder())
    a.ingest()
    return a


def test_as_retriever_gives_verbatim_documents_with_where_they_stand(assistant: Assistant) -> None:
    retriever = assistant.as_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke(QUESTION)
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    hits = assistant.retrieve(QUESTION, k=3)
    assert [d.metadata["id"] for d in docs] == [p.id for p in hits]
    for d in docs:
        m = d.metadata
        assert set(m) == {"id", "doc_id", "title", "section", "kind", "source", "start", "end",
                          "score"}  # fmt: skip
        source = Path(m["source"])
        text = (source if source.is_absolute() else Path.cwd() / source).read_text("utf-8")
        assert d.page_content == text[m["start"] : m["end"]]  # the verbatim passage
    only = assistant.as_retriever(k=5, doc_ids=["sedova-1944"]).invoke(QUESTION)
    assert only and {d.metadata["doc_id"] for d in only} == {"sedova-1944"}


def test_the_retriever_works_inside_a_users_own_lcel_chain(assistant: Assistant) -> None:
    model = FakeListChatModel(responses=["Because of the Chinese question."])
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from:\n{context}"), ("human", "{question}")]
    )

    def join(docs: list[Document]) -> str:
        return "\n\n".join(d.page_content for d in docs)

    chain = (
        {"context": assistant.as_retriever(k=2) | join, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )
    assert chain.invoke(QUESTION) == "Because of the Chinese question."
    sent = prompt.invoke({"context": join(assistant.as_retriever(k=2).invoke(QUESTION)),
                          "question": QUESTION}).to_string()  # fmt: skip
    assert "Krupskaya" in sent


def test_the_chain_has_typed_schemas(assistant: Assistant) -> None:
    chain = assistant.chain
    assert chain.get_input_schema() is AskInput
    assert set(chain.get_input_schema().model_json_schema()["properties"]) == {
        "question", "history", "doc_ids", "mode"
    }  # fmt: skip
    out = chain.get_output_schema().model_json_schema()
    assert out["$defs"]["Answer"]["properties"]["citations"]["type"] == "array"
    got = chain.invoke(AskInput(question=QUESTION))
    assert isinstance(got, Answer) and got.citations
    assert got.passages and got.passages == assistant.retrieve(QUESTION, k=len(got.passages))


def test_batch_and_astream_work_as_runnables_do(assistant: Assistant) -> None:
    answers = assistant.chain.batch([{"question": QUESTION}, {"question": "Who was Sedova?"}])
    assert [a.question for a in answers] == [QUESTION, "Who was Sedova?"]

    async def collect() -> list[Any]:
        return [x async for x in assistant.chain.astream({"question": QUESTION})]

    items = asyncio.run(collect())
    assert len(items) == 1 and items[0].text == answers[0].text


def test_any_chat_model_streams_tokens_then_the_checked_answer(settings: Settings) -> None:
    reply = "It appears that Krupskaya did receive the letter [1]."
    a = Assistant(
        settings, embedder=FakeEmbedder(), chat_model=FakeListChatModel(responses=[reply])
    )
    a.ingest()
    *pieces, final = list(a.chain.stream({"question": QUESTION}))
    assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == reply
    assert isinstance(final, Answer) and final.answerer == "llm:llama3.1"
    assert final.text == reply and len(final.citations) == 1
    assert final.citations[0].passage_id in {p.id for p in final.passages}


def test_history_may_be_langchain_messages_or_pairs(assistant: Assistant) -> None:
    first = "Why did Trotsky write to Krupskaya in May 1927?"
    reply = assistant.ask(first).text
    follow = "And what did she reply?"
    as_dicts = assistant.ask(follow, history=[{"role": "user", "content": first},
                                              {"role": "assistant", "content": reply}])  # fmt: skip
    as_messages = assistant.ask(follow, history=[HumanMessage(first), AIMessage(reply)])
    as_pairs = assistant.ask(follow, history=[("user", first), ("assistant", reply)])
    assert as_dicts.standalone_question != follow  # resolved with the earlier turn
    assert as_dicts == as_messages == as_pairs


@pytest.mark.parametrize(
    ("inp", "names"),
    [
        ({"question": QUESTION, "mode": "bogus"}, "hybrid, dense, lexical"),
        ({"question": QUESTION, "doc_ids": ["nosuch"]}, "mcneal-krupskaya, sedova-1944"),
        ({"question": QUESTION, "top_kk": 3}, "question, history, doc_ids, mode"),
        ({"question": QUESTION, "history": [("system", "be brief")]}, "HumanMessage/AIMessage"),
    ],
)
def test_wrong_inputs_are_errors_naming_the_choices(
    assistant: Assistant, inp: dict[str, Any], names: str
) -> None:
    with pytest.raises(InvalidQuestionError, match=names):
        assistant.chain.invoke(inp)


def test_the_python_api_names_the_choices_too(assistant: Assistant) -> None:
    with pytest.raises(InvalidQuestionError, match="hybrid, dense, lexical"):
        assistant.ask(QUESTION, mode="bogus")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuestionError, match="hybrid, dense, lexical"):
        assistant.as_retriever(mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuestionError, match="the documents are: mcneal-krupskaya"):
        assistant.as_retriever(doc_ids=["nosuch"])
    with pytest.raises(ValueError, match="top_kk"):
        Settings(top_kk=3)  # type: ignore[call-arg]


def test_an_ingest_during_a_question_does_not_change_its_answer(
    assistant: Assistant, settings: Settings
) -> None:
    expected = assistant.ask(QUESTION)
    parts = assistant.chain.parts
    state = prepare(parts, {"question": QUESTION})  # the question has taken its snapshot
    before = {p.name for p in settings.vectorstore_dir.glob("gen-*")}
    (settings.corpus_dir / "sedova_letter_to_friends_1944-11-06.txt").unlink()
    assistant.ingest()  # a new generation; the one the question holds is deleted
    assert not before & {p.name for p in settings.vectorstore_dir.glob("gen-*")}
    got = answer(parts, retrieve(parts, state))
    assert got.text == expected.text and got.citations == expected.citations
    assert got.passages == expected.passages
    assert "sedova-1944" in {p.doc_id for p in got.passages} | set(state.snapshot.doc_ids)
    after = assistant.ask(QUESTION)  # the next question reads the new index
    assert "sedova-1944" not in assistant.snapshot().doc_ids
    assert all(p.doc_id != "sedova-1944" for p in after.passages)


def test_a_snapshot_goes_with_its_generation(assistant: Assistant, settings: Settings) -> None:
    """Nothing outlives a re-ingest: the assistant holds one snapshot, the new one."""
    import gc
    import weakref

    first = weakref.ref(assistant.snapshot())
    assistant.ask(QUESTION)
    shutil.copyfile(
        settings.corpus_dir / "sedova_letter_to_friends_1944-11-06.txt",
        settings.corpus_dir / "sedova_copy.txt",
    )
    assistant.ingest()
    assistant.ask(QUESTION)
    gc.collect()
    assert first() is None
