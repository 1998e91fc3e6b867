"""Answers on the real corpus with the real model: citations verbatim, numbered, abstention."""

from __future__ import annotations

import re

import pytest
from langchain_core.runnables import Runnable

from assistant import Answer, Assistant
from assistant.citations import is_verbatim
from assistant.errors import InvalidQuestionError
from assistant.prompts import CANNOT_ANSWER

pytestmark = pytest.mark.real_model  # what the real model answers to real questions


def check_citations(ans: Answer) -> None:
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", ans.text)]
    first_use = list(dict.fromkeys(markers))
    assert first_use == list(range(1, len(first_use) + 1))
    assert [c.n for c in ans.citations] == first_use
    for c in ans.citations:
        assert is_verbatim(c.source, c.start, c.end, c.quote)
        assert c.quote in c.passage_text


def test_chain_is_a_runnable_and_ask_uses_it(real_assistant: Assistant) -> None:
    assert isinstance(real_assistant.chain, Runnable)
    out = real_assistant.chain.invoke({"question": "Who was Kosior?", "history": []})
    assert isinstance(out, Answer)


def test_answer_cites_verbatim_quotes(real_assistant: Assistant) -> None:
    ans = real_assistant.ask("Why did Trotsky write to Krupskaya in May 1927?")
    assert not ans.abstained
    assert ans.citations
    check_citations(ans)
    assert len(ans.text.split()) <= 160
    assert any("Krupskaya" in c.quote for c in ans.citations)


def test_a_note_citation_says_what_it_annotates(real_assistant: Assistant) -> None:
    ans = real_assistant.ask("Who was S. V. Kosior, who used the word fuss at the plenum?")
    check_citations(ans)
    notes = [c for c in ans.citations if c.kind == "note"]
    assert notes, ans.text
    assert all(c.annotates and c.annotated_text for c in notes)


def test_off_corpus_question_abstains_with_see_also(real_assistant: Assistant) -> None:
    ans = real_assistant.ask("How do I make a sourdough starter?")
    assert ans.abstained
    assert ans.text == CANNOT_ANSWER
    assert ans.citations == []
    assert ans.see_also


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


def test_document_filter(real_assistant: Assistant) -> None:
    ans = real_assistant.ask("What did Natalia Sedova say about the defense of the USSR?",
                             doc_ids=["sedova-1944"])  # fmt: skip
    assert {c.doc_id for c in ans.citations} <= {"sedova-1944"}


def test_bad_questions_are_rejected_before_retrieval(real_assistant: Assistant) -> None:
    for bad in ("", "   ", "???", "x" * 5000):
        with pytest.raises(InvalidQuestionError):
            real_assistant.ask(bad)


def test_public_surface_is_exported() -> None:
    import assistant

    for name in assistant.__all__:
        assert hasattr(assistant, name)
    assert {"Assistant", "Settings", "Passage", "Answer", "Citation"} <= set(assistant.__all__)
