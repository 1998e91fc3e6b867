"""How the default answerer composes: evidence windows, no debris, the right entity, bad input.

Passages come from the real chunker on small documents; vectors from the hashing stand-in, so
what is tested is composition, not the model.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.answering import Thresholds, asks_for_source
from assistant.citations import is_verbatim
from assistant.corpus import load_source
from assistant.passages import Chunker
from assistant.prompts import CANNOT_ANSWER
from assistant.testing import fake_answerer
from assistant.types import Answer, Passage

LOOSE = Thresholds(min_semantic=0.05, min_coverage=0.05)


def chunk(tmp_path: Path, text: str, name: str = "doc.txt", kind: str = "book") -> list[Passage]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    entry = {"id": path.stem, "title": "Doc", "kind": kind, "authors": ["A"], "date": "1927",
             "languages": ["en"]}  # fmt: skip
    return Chunker(lambda texts: [len(t.split()) for t in texts], 200).passages(
        load_source(path, entry)
    )


def ask(passages: list[Passage], question: str, **kw: object) -> Answer:
    by_pos = {p.id: i for i, p in enumerate(passages)}

    def previous(p: Passage) -> Passage | None:
        i = by_pos[p.id]
        return passages[i - 1] if i > 0 else None

    def following(p: Passage) -> Passage | None:
        i = by_pos[p.id]
        return passages[i + 1] if i + 1 < len(passages) else None

    answerer = fake_answerer(thresholds=LOOSE, previous=previous, following=following, **kw)
    return answerer.answer(question, question, passages, [])


def assert_clean(ans: Answer) -> None:
    """Every quote verbatim, no ":." debris, no sentence twice, markers resolve."""
    for c in ans.citations:
        assert is_verbatim(c.source, c.start, c.end, c.quote)
    assert ":." not in ans.text
    sentences = [s.strip() for s in re.split(r"\[\d+\]", ans.text) if s.strip()]
    assert len(sentences) == len(set(sentences))
    assert sorted({int(n) for n in re.findall(r"\[(\d+)\]", ans.text)}) == [
        c.n for c in ans.citations
    ]


def test_a_lead_in_brings_its_quotation(tmp_path: Path) -> None:
    text = (
        "Chapter text about the plenum of the party in the autumn.\n\n"
        "At the plenum Bukharin addressed the Opposition and said the following:\n\n"
        "“You want a split of the party over the grain procurements of this year.”\n"
    )
    ans = ask(chunk(tmp_path, text, kind="letter"), "What did Bukharin say at the plenum?")
    assert not ans.abstained
    assert "said the following:" in ans.text and "grain procurements" in ans.text
    assert ans.text.index("said the following") < ans.text.index("grain procurements")
    assert_clean(ans)


def test_a_lead_in_without_its_quotation_is_dropped(tmp_path: Path) -> None:
    text = "Bukharin spoke about the grain procurements at the plenum and he said the following:\n"
    ans = ask(chunk(tmp_path, text, kind="letter"), "What did Bukharin say at the plenum?")
    assert ans.abstained or "following:" not in ans.text
    assert_clean(ans)


def test_references_and_title_lines_are_never_claims(tmp_path: Path) -> None:
    text = (
        "ALL ABOUT THE DECLARATION OF THE FORTY-SIX\n\n"
        "Published by Mehring Books, Oak Park, Michigan.\n\n"
        "The Declaration of the Forty-Six was presented to the Politburo on 15 October 1923.¹ "
        "Ibid., p. 608. Там же, С. 357.\n\n"
        "1. Стенографический отчет XIII съезда, М., 1963, С. 623 [Stenographic report, p. 623].\n"
    )
    ps = chunk(tmp_path, text)
    ans = ask(ps, "When was the Declaration of the Forty-Six presented to the Politburo?")
    assert "15 October 1923" in ans.text
    for debris in ("Ibid.", "Там же", "Стенографический", "Mehring", "ALL ABOUT"):
        assert debris not in ans.text
    assert_clean(ans)


def test_a_question_for_the_source_is_answered_by_the_reference(tmp_path: Path) -> None:
    assert asks_for_source("Where was the stenographic report of the congress published?")
    assert not asks_for_source("Who presented the declaration?")
    text = (
        "The congress report was long and was discussed in many party cells.¹\n\n"
        "1. XIII съезд РКП(б). Стенографический отчет. Moscow, 1963, p. 623.\n"
    )
    ans = ask(chunk(tmp_path, text), "Where was the stenographic report of the congress published?")
    assert "1963" in ans.text
    assert_clean(ans)


def test_the_declaration_asked_about_not_its_namesakes(tmp_path: Path) -> None:
    text = (
        "The Declaration of the Eighty-Three was signed by Opposition members in May 1927 and "
        "sent to the Politburo of the party.\n\n"
        "The Declaration of the Fifteen was written by the Democratic Centralists and sent to "
        "the Politburo of the party.\n\n"
        "The Declaration of the Forty-Six was written by Preobrazhensky, Serebriakov and others "
        "and sent to the Politburo in October 1923.\n"
    )
    ans = ask(chunk(tmp_path, text), "Who wrote the Declaration of the 46 and when was it sent?")
    assert "Preobrazhensky" in ans.text
    assert "Eighty-Three" not in ans.text and "Fifteen" not in ans.text
    assert_clean(ans)


def test_two_kosiors_the_answer_keeps_to_one_and_says_so(tmp_path: Path) -> None:
    text = (
        "At the plenum V. Kosior spoke against the majority of the Politburo and its methods.\n\n"
        "S. Kosior was a rising Stalinist and a member of the Central Committee.\n"
    )
    ps = chunk(tmp_path, text)
    ans = ask(ps, "Who was Kosior in the Politburo disputes?")
    assert ("V. Kosior" in ans.text) != ("S. Kosior" in ans.text)
    assert any("more than one Kosior" in n for n in ans.notes)
    named = ask(ps, "Who was S. Kosior?")
    assert "S. Kosior" in named.text and "V. Kosior" not in named.text
    assert_clean(ans)


def test_no_sentence_punctuation_at_all(tmp_path: Path) -> None:
    text = " ".join(["the party apparatus grew and the opposition spoke"] * 60) + "\n"
    ans = ask(chunk(tmp_path, text), "How did the party apparatus grow?")
    assert isinstance(ans, Answer)
    assert_clean(ans)
    assert len(ans.text.split()) < 400


def test_a_five_thousand_word_paragraph(tmp_path: Path) -> None:
    words = [f"Word{i % 50}" for i in range(5000)]
    text = " ".join(words[:2500]) + ". Trotsky left Moscow for Sukhum in January 1924. " + " ".join(
        words[2500:]
    ) + ".\n"  # fmt: skip
    ps = chunk(tmp_path, text)
    ps.sort(key=lambda p: "Sukhum" not in p.text)  # as retrieval would rank them
    ans = ask(ps, "When did Trotsky leave Moscow for Sukhum?")
    assert "January 1924" in ans.text
    assert len(ans.text.split()) <= LOOSE.max_words + 20
    assert_clean(ans)


def test_an_empty_note_and_a_passage_of_references_only(tmp_path: Path) -> None:
    text = (
        "The text of the chapter cites a source here.¹ And another one here.²\n\n"
        "1.\n\n"
        "2. Там же, С. 357 [Ibid., p. 357].\n"
    )
    ps = chunk(tmp_path, text)
    ans = ask([p for p in ps if p.kind == "note"] or ps, "What does page 357 say?")
    assert ans.abstained and ans.text == CANNOT_ANSWER
    assert_clean(ans)


def test_the_answer_judge_ranks_and_abstains(tmp_path: Path) -> None:
    text = (
        "The plenum met in October 1923 and discussed the letter of Trotsky at length.\n\n"
        "Trotsky's letter was dated 8 October 1923 and went to the members of the CC.\n"
    )
    ps = chunk(tmp_path, text)
    question = "On what date was Trotsky's letter written?"

    def fond_of_dates(_q: str, sentences: object) -> list[float]:
        return [0.9 if "8 October" in s else 0.1 for s in sentences]  # type: ignore[attr-defined]

    ans = ask(ps, question, judge=fond_of_dates)
    assert ans.text.startswith("Trotsky's letter was dated 8 October 1923")

    def nothing_answers(_q: str, sentences: object) -> list[float]:
        return [0.05 for _ in sentences]  # type: ignore[attr-defined]

    assert ask(ps, question, judge=nothing_answers).abstained
