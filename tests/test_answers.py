"""Answers on the real corpus: what the real model answers to real questions (citations
verbatim and on topic, a note's citation, abstention, a follow-up), marked ``real_model``; the
chain's shape, the filter and the refusals on the fake embedder's whole corpus."""

from __future__ import annotations

import pytest
from langchain_core.runnables import Runnable

from assistant import Answer, Assistant
from assistant.errors import InvalidQuestionError
from assistant.prompts import CANNOT_ANSWER
from tests.helpers import check_citations


def test_chain_is_a_runnable_and_ask_uses_it(fake_full: Assistant) -> None:
    assert isinstance(fake_full.chain, Runnable)
    out = fake_full.chain.invoke({"question": "Who was Kosior?", "history": []})
    assert isinstance(out, Answer)


@pytest.mark.real_model
def test_answer_cites_verbatim_quotes(real_assistant: Assistant) -> None:
    ans = real_assistant.ask("Why did Trotsky write to Krupskaya in May 1927?")
    assert not ans.abstained
    assert ans.citations
    check_citations(ans)
    assert len(ans.text.split()) <= 160
    assert any("Krupskaya" in c.quote for c in ans.citations)


@pytest.mark.real_model
def test_a_note_citation_says_what_it_annotates(real_assistant: Assistant) -> None:
    ans = real_assistant.ask("Who was S. V. Kosior, who used the word fuss at the plenum?")
    check_citations(ans)
    notes = [c for c in ans.citations if c.kind == "note"]
    assert notes, ans.text
    assert all(c.annotates and c.annotated_text for c in notes)


@pytest.mark.real_model
def test_off_corpus_question_abstains_with_see_also(real_assistant: Assistant) -> None:
    ans = real_assistant.ask("How do I make a sourdough starter?")
    assert ans.abstained
    assert ans.text == CANNOT_ANSWER
    assert ans.citations == []
    assert ans.see_also


@pytest.mark.real_model
def test_follow_up_uses_the_history(real_assistant: Assistant) -> None:
    first = real_assistant.ask("What did Kosior call the Opposition's speeches at the plenum?")
    history = [
        {
            "role": "user",
            "content": "What did Kosior call the Opposition's speeches at the plenum?",
        },
        {"role": "assistant", "content": first.text},
    ]
    hits = real_assistant.retrieve("And who was he?", k=5, history=history)
    assert any("Kosior" in h.text for h in hits)


def test_document_filter(fake_full: Assistant) -> None:
    ans = fake_full.ask("What did Natalia Sedova say about the defense of the USSR?",
                             doc_ids=["sedova-1944"])  # fmt: skip
    assert {c.doc_id for c in ans.citations} <= {"sedova-1944"}


def test_bad_questions_are_rejected_before_retrieval(fake_full: Assistant) -> None:
    for bad in ("", "   ", "???", "x" * 5000):
        with pytest.raises(InvalidQuestionError):
            fake_full.ask(bad)


def test_public_surface_is_exported() -> None:
    import assistant

    for name in assistant.__all__:
        assert hasattr(assistant, name)
    assert {"Assistant", "Settings", "Passage", "Answer", "Citation"} <= set(assistant.__all__)
