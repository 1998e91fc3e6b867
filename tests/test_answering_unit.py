"""The default answerer with a deterministic fake embedding: composition and numbering."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.answering import ExcerptAnswerer, Thresholds, question_kind
from assistant.citations import is_verbatim
from assistant.prompts import CANNOT_ANSWER
from assistant.testing import fake_answerer
from assistant.types import Passage

TEXT = (
    "Kosior used the word fuss at the plenum in April 1927. It was said of the Opposition.\n\n"
    "In [1927] the party held its Fifteenth Congress. The Opposition was expelled there.\n"
)


def passages(tmp_path: Path, text: str = TEXT) -> list[Passage]:
    """The two paragraphs of ``text`` (split at its blank line) as passages of one file."""
    path = tmp_path / "doc.txt"
    path.write_text(text, encoding="utf-8")
    cut = text.index("\n\n")
    spans = [(0, cut), (cut + 2, len(text) - 1)]
    return [
        Passage(
            id=f"d:{s}",
            doc_id="d",
            title="Doc",
            section="S",
            kind="body",
            language="en",
            text=text[s:e],
            source=str(path),
            start=s,
            end=e,
            score=1.0 - i / 10,
            embed_text=text[s:e],
        )
        for i, (s, e) in enumerate(spans)
    ]


def answerer(**kw: float) -> ExcerptAnswerer:
    return fake_answerer(thresholds=Thresholds(**kw))  # type: ignore[arg-type]


def test_answer_quotes_are_verbatim_and_numbered_in_order(tmp_path: Path) -> None:
    ps = passages(tmp_path)
    ans = answerer(min_semantic=0.1, min_coverage=0.1).answer(
        "Who used the word fuss in 1927?", "Who used the word fuss in 1927?", ps, []
    )
    assert not ans.abstained
    first_use = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", ans.text)))
    assert first_use == [c.n for c in ans.citations] == list(range(1, len(first_use) + 1))
    for c in ans.citations:
        assert is_verbatim(c.source, c.start, c.end, c.quote)
    assert "Kosior" in ans.text


def test_bracketed_year_in_the_source_is_not_a_marker(tmp_path: Path) -> None:
    ps = passages(tmp_path)
    ans = answerer(min_semantic=0.0, min_coverage=0.0, keep_ratio=0.0).answer(
        "When did the party hold the Fifteenth Congress?", "Fifteenth Congress party held", ps, []
    )
    assert "[1927]" not in ans.text
    assert all(int(n) <= len(ans.citations) for n in re.findall(r"\[(\d+)\]", ans.text))


def test_weak_evidence_abstains(tmp_path: Path) -> None:
    ans = answerer(min_semantic=0.9).answer("sourdough starter?", "sourdough starter?",
                                            passages(tmp_path), [])  # fmt: skip
    assert ans.abstained and ans.text == CANNOT_ANSWER and not ans.citations
    assert ans.see_also


def test_question_kinds() -> None:
    assert question_kind("When did Lenin die?") == "date"
    assert question_kind("How many delegates attended?") == "number"
    assert question_kind("Who was Kosior?") == "person"
    assert question_kind("Why did Trotsky refuse?") == "reason"
    assert question_kind("What did she reply?") == "general"


def test_a_name_the_corpus_never_mentions_is_not_answered(tmp_path: Path) -> None:
    words = {w.lower() for w in re.findall(r"\w+", TEXT)}
    known = fake_answerer(
        thresholds=Thresholds(min_semantic=0.1, min_coverage=0.1),
        known=lambda token: token in words,
    )
    q = "What did Kosior say at the plenum in Normandy in April 1927?"
    assert known.unknown_names(q) == ["Normandy"]
    assert known.answer(q, q, passages(tmp_path), []).abstained
    # the same question without the unknown name is answered; sentence-initial words are no names
    q = "What did Kosior say at the plenum in April 1927? Fuss was the word."
    assert known.unknown_names(q) == []
    assert not known.answer(q, q, passages(tmp_path), []).abstained
    # a close enough match still answers (a misspelt name must not silence a clear answer)
    lenient = fake_answerer(
        thresholds=Thresholds(min_semantic=0.1, min_coverage=0.1, unknown_name_support=0.0),
        known=lambda token: token in words,
    )
    q = "What did Kosiorr say about fuss at the plenum in April 1927?"
    assert lenient.unknown_names(q) == ["Kosiorr"]
    assert not lenient.answer(q, q, passages(tmp_path), []).abstained


def test_a_sentence_that_says_he_brings_the_one_naming_him(tmp_path: Path) -> None:
    text = (
        "In this heated atmosphere Voroshilov took the floor at the congress.\n\n"
        "For the first time, he called Stalin the main member of the Politburo. "
        "Nobody in the hall objected to these words at all.\n"
    )
    ps = passages(tmp_path, text)
    answerer = fake_answerer(
        thresholds=Thresholds(min_semantic=0.1, min_coverage=0.1),
        previous=lambda p: ps[0] if p.id == ps[1].id else None,
    )
    q = "Who called Stalin the main member of the Politburo?"
    ans = answerer.answer(q, q, [ps[1]], [])
    assert "Voroshilov took the floor" in ans.text
    assert ans.text.index("Voroshilov") < ans.text.index("he called Stalin")
    assert {c.passage_id for c in ans.citations} == {ps[0].id, ps[1].id}
    for c in ans.citations:
        assert is_verbatim(c.source, c.start, c.end, c.quote)
