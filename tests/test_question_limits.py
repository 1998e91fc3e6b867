"""Issue 7, cases 1-4: questions the assistant cannot or must not answer get a clear message
(an empty store, a blank or overlong question, a question off the corpus), and no model is
asked in vain. The fake embedder on the two small documents (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant import Assistant, EmptyStoreError, InvalidQuestionError
from assistant.chain import prepare
from assistant.chain import retrieve as chain_retrieve
from assistant.llm import number_excerpts
from assistant.prompts import CANNOT_ANSWER
from assistant.testing import FakeEmbedder
from assistant_ui.page import ChatPage
from assistant_ui.render import answer_html
from tests.conftest import fake
from tests.helpers import OFF_CORPUS, SEDOVA_Q, check_citations, last_outputs, settings_for
from tests.test_llm_answerer import RecordingChat

pytestmark = [
    # gradio's own queue statistics use pandas options that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]


# -- 1-4: questions ----------------------------------------------------------------------------
def test_case_01_empty_store_says_run_ingest_and_calls_no_model(tmp_path: Path) -> None:
    model = RecordingChat(responses=["What did Sedova write about the USSR?"])
    a = fake(settings_for(tmp_path), model)
    history = [{"role": "user", "content": SEDOVA_Q}, {"role": "assistant", "content": "She..."}]
    calls: list[Callable[[], object]] = [
        lambda: a.ask("And why did she write it?", history=history),  # a follow-up: condensing
        lambda: a.ask(SEDOVA_Q),
        lambda: list(a.ask_stream("And why?", history=history)),
        lambda: a.retrieve(SEDOVA_Q),
    ]
    for call in calls:
        with pytest.raises(EmptyStoreError, match=r"run `assistant ingest`"):
            call()
    # The page says the same instead of failing; at launch it builds the store itself
    # (test_ui_app.py::test_sync_store_builds_a_missing_store_with_progress).
    page = ChatPage(a)
    chat, _, notice, box, turns = last_outputs(page, SEDOVA_Q)
    assert chat == [] and turns == [] and box == SEDOVA_Q
    assert "assistant ingest" in notice
    assert "Run <code>assistant ingest</code>" in page.status()
    assert model.seen == []


BLANK = ["", "   \n\t ", "?!…", "—«»", "\u200b\u200b", "...", "?" * 5000, "¿¡ — *** ### …"]


def test_case_02_blank_questions_are_rejected_before_any_embedding(tmp_path: Path) -> None:
    embedder = FakeEmbedder()  # records every question it embeds
    # Nothing ingested: had the question reached the store, EmptyStoreError would come instead.
    a = Assistant(settings_for(tmp_path), embedder=embedder)
    calls: list[Callable[[str], object]] = [a.ask, a.retrieve, lambda q: list(a.ask_stream(q))]
    for q in BLANK:
        for call in calls:
            with pytest.raises(InvalidQuestionError, match="type a question"):
                call(q)
    page = ChatPage(a)
    assert "question is empty" in last_outputs(page, "  ")[2]
    assert "only punctuation or symbols" in last_outputs(page, "?!…")[2]
    assert embedder.queries == []


def test_case_03_long_questions_and_histories_have_stated_limits(shared: Assistant) -> None:
    a = fake(shared.settings.model_copy(update={"max_question_chars": 300, "max_history_turns": 4}))
    too_long = "Why " * 99 + "why?"
    with pytest.raises(InvalidQuestionError, match=r"400 characters long; the limit is 300"):
        a.ask(too_long)
    assert "the limit is 300" in last_outputs(ChatPage(a), too_long)[2]
    long_answer = "She wrote at length about the bureaucracy. " * 40  # 1720 > 4 * 300 characters
    history = []
    for i in range(5):
        history += [{"role": "user", "content": f"Question {i} about Natalia Sedova?"},
                    {"role": "assistant", "content": long_answer if i == 4 else "Short."}]  # fmt: skip
    ans = a.ask("And what did she say about the defense of the USSR?", history=history)
    assert "Only the last 4 messages of the chat were used (6 older ones left out)." in ans.notes
    assert "1 long chat message(s) were cut to their first 1200 characters." in ans.notes
    shown = answer_html(ans, 1)
    assert all(f"Note: {n}" in shown for n in ans.notes)  # visible under the answer


def test_case_04_off_corpus_questions_get_the_fixed_sentence(shared: Assistant) -> None:
    k = shared.settings.top_k
    for q in OFF_CORPUS:
        ans = shared.ask(q)
        assert ans.abstained and ans.text == CANNOT_ANSWER and ans.citations == []
        assert ans.see_also and {p.id for p in ans.see_also} <= {
            p.id for p in shared.retrieve(q, k=k)
        }
    # A language model that makes things up: only sentences citing a given excerpt survive,
    # and every citation is one of the retrieved excerpts, quoted verbatim.
    made_up_reply = "Feed the starter rye flour daily [1]. Use “filtered water only” [9]."
    llm = fake(shared.settings, FakeListChatModel(responses=[made_up_reply, CANNOT_ANSWER]))
    parts = llm.chain.parts
    state = chain_retrieve(parts, prepare(parts, {"question": OFF_CORPUS[0], "history": []}))
    given = {p.id for p in number_excerpts(state, parts.links.linked_excerpts).values()}
    made_up = llm.ask(OFF_CORPUS[0])
    assert {c.passage_id for c in made_up.citations} <= given
    assert "filtered water" not in made_up.text
    # excerpt 1 exists but says nothing of starters or flour: the claim loses it, and goes
    assert "rye flour" not in made_up.text
    check_citations(made_up)
    refused = llm.ask(OFF_CORPUS[0])
    assert refused.abstained and refused.text == CANNOT_ANSWER and refused.citations == []
