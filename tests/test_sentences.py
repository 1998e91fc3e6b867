"""Sentences with offsets, and what a sentence is: fixtures cut from the corpus."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from assistant.corpus import read_source
from assistant.parsing import parse
from assistant.sentences import (
    is_furniture,
    is_prose,
    is_reference,
    leads_in,
    leans_back,
    sentence_spans,
)

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def split(text: str) -> list[str]:
    return [text[u.start : u.end] for u in sentence_spans(text, 0, len(text))]


# (text, its sentences): initials, abbreviations, ellipses, quotations; English and Russian.
# benchmarks/sentence_split.py scores pysbd on the same fixtures.
SPLIT_FIXTURES: list[tuple[str, list[str]]] = [
    # initials and two-letter transliterated initials
    (
        "The report was signed by M. A. Trilisser. He headed the foreign department.",
        ["The report was signed by M. A. Trilisser.", "He headed the foreign department."],
    ),
    (
        "Ibid., “G. Ye. Zinoviev and N. I. Bukharin to I. V. Stalin,” 10 August 1923.",
        ["Ibid., “G. Ye. Zinoviev and N. I. Bukharin to I. V. Stalin,” 10 August 1923."],
    ),
    ("Yu. Larin objected. Ia. Iakovlev agreed.", ["Yu. Larin objected.", "Ia. Iakovlev agreed."]),
    # abbreviations, English and Russian
    (
        "from four p.m. on, the doctors treating him began to hold consultations. The final "
        "one came later.",
        [
            "from four p.m. on, the doctors treating him began to hold consultations.",
            "The final one came later.",
        ],
    ),
    (
        "17. Цит. по: Наумов, В., 1923 год. Там же, С. 205–206 [Ibid., p. 205].",
        ["17.", "Цит. по: Наумов, В., 1923 год.", "Там же, С. 205–206 [Ibid., p. 205]."],
    ),
    ("See pp. 5-6 of Vol. 2. Next one.", ["See pp. 5-6 of Vol. 2.", "Next one."]),
    (
        "The U.S.S.R. was young. In the U.S.S.R. It rained.",
        ["The U.S.S.R. was young.", "In the U.S.S.R.", "It rained."],
    ),
    # an ellipsis inside a sentence
    (
        'Lenin wrote: "The ABC of legal work is ... to triple the punishment of communists '
        'compared to the punishment of those outside the party." (Ленин, В. И., ПСС, Т. 44, '
        "С. 397)",
        [
            'Lenin wrote: "The ABC of legal work is ... to triple the punishment of communists '
            'compared to the punishment of those outside the party."',
            "(Ленин, В. И., ПСС, Т. 44, С. 397)",
        ],
    ),
    # inside a quotation, and the quotation's end; the reference after it stands apart
    (
        "Kozhevnikov noted in his diary: “Stalin visited. Discussion of suicide.” [Pravda, "
        "21 January 1993].",
        [
            "Kozhevnikov noted in his diary: “Stalin visited. Discussion of suicide.”",
            "[Pravda, 21 January 1993].",
        ],
    ),
    (
        "Но ведь нам в этом отказали. Почему же не выходит „самокритики”? Еще совсем недавно.",
        [
            "Но ведь нам в этом отказали.",
            "Почему же не выходит „самокритики”?",
            "Еще совсем недавно.",
        ],
    ),
    (
        "Он сказал: „Мы победим. Мы должны.“ Потом ушёл.",
        ["Он сказал: „Мы победим. Мы должны.“", "Потом ушёл."],
    ),
    ("“Why?” he asked. Nobody knew.", ["“Why?” he asked.", "Nobody knew."]),
    ("He said “no.”¹ They went.", ["He said “no.”¹", "They went."]),
]


@pytest.mark.parametrize(("text", "expected"), SPLIT_FIXTURES)
def test_sentences_are_cut_at_their_ends_only(text: str, expected: list[str]) -> None:
    assert split(text) == expected


def test_a_long_quotation_is_still_cut_into_sentences() -> None:
    sentence = "This is one of many long sentences that a speech holds in the book. "
    text = "He said: “" + sentence * 8 + "”"
    assert len(split(text)) > 1


def test_spans_are_exact_offsets_of_the_corpus() -> None:
    text = read_source(CORPUS / "rogovin_was_there_an_alternative_1923-1927.txt")
    units = sentence_spans(text, 300_000, 310_000)
    assert units and all(text[u.start : u.end].strip() == text[u.start : u.end] for u in units)
    assert all(a.end <= b.start for a, b in itertools.pairwise(units))


@pytest.mark.parametrize(
    "text",
    [
        "Ibid., p. 608",
        "Там же, С. 357",
        "Там же [Ibid.].",
        "Ленин, ПСС, Т. 45, С. 343 [Lenin, CW, Volume 36, “Letter to the Congress,” p. 593].",
        "XIII съезд РКП(б). Стенографический отчет. М., 1963, С. 779",
        "*Правда*, 1923, 18 декабря [*Pravda*, 18 December 1923].",
        "Правда, 1925, 5 февраля [*Pravda*, 5 February 1925].",
        "(Minutes, 4th issue, p.104)",
        "Троцкий, Л. Д., *Моя жизнь*, М., 1991, С. 501 [Cf. Trotsky, *My Life*, p. 528].",
    ],
)
def test_references_are_not_claims(text: str) -> None:
    assert is_reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "Expelled from party on 12 January 1933.",
        "One desiatina equals approximately 2.7 acres.",
        "Shlyapnikov received 354 out of 479 votes in the Central Committee election.",
        "“Owing to the fact that the norms set by Orders No.1042 and 1157 were lowered, the "
        "experiment failed,” he wrote.",
        "Radek’s article, “Lev Trotsky — Organizer of Victory,” appeared in *Pravda* on 14 "
        "March 1923.",
    ],
)
def test_claims_are_not_references(text: str) -> None:
    assert not is_reference(text)


def test_furniture_and_prose() -> None:
    assert is_furniture("Published by Mehring Books")
    assert is_furniture("All rights reserved.")
    assert is_furniture("A LETTER FROM TROTSKY TO KRUPSKAYA")
    assert is_furniture("[12.]")
    assert is_furniture("(From Lenin’s letter of December 31, 1922)")
    assert not is_furniture("Trotsky was not present at the funeral.")
    assert is_prose("The French proverb is: “Calomniez, calomniez, il en restera quelque chose.”")
    assert not is_prose("Правда, 1923, 6 декабря [Pravda, 6 December 1923.")


def test_what_a_sentence_leans_on() -> None:
    assert leans_back("He called Stalin the main member of the Politburo.")
    assert leans_back("— but openly said to me: no.")
    assert leans_back("Voroshilov said he would speak.", asks_person=True)
    assert not leans_back("Voroshilov took the floor.")
    assert leads_in("The Opposition's declaration stated:")
    assert not leads_in("The Opposition's declaration was signed.")


def _notes(name: str) -> dict[str, str]:
    text = read_source(CORPUS / name)
    return {
        " ".join(text[s:e] for s, e in b.segments): b.note_kind
        for b in parse(text, "book" if "rogovin" in name else "letter")
        if b.kind == "note"
    }


def test_notes_are_told_apart_at_parse_time() -> None:
    notes = _notes("rogovin_was_there_an_alternative_1923-1927.txt")

    def kind(start: str) -> str:
        return next(k for t, k in notes.items() if start in t[:80])

    assert kind("Shlyapnikov received 354 out of 479 votes") == "substantive"
    assert kind("One desiatina equals approximately") == "substantive"
    assert kind("*Правда*, 1923, 6 декабря") == "substantive"  # then: "The French proverb is:"
    assert kind("Там же, С. 205–206") == "bibliographic"
    bibliographic = sum(k == "bibliographic" for k in notes.values())
    assert 0.75 < bibliographic / len(notes) < 0.95  # most of the book's endnotes cite sources
