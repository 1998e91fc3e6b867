"""Evaluation metrics on hand-made cases whose right values are known."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.evaluation import metrics
from assistant.types import Citation

SOURCE = "corpus/letter.txt"
TEXT = (
    "Dear comrades, I write to you about the platform. "
    "The Opposition will defend its views in the party. "
    "Greetings to Krupskaya and to all friends."
)


def cite(n: int, start: int, end: int, source: str = SOURCE, text: str = TEXT) -> Citation:
    return Citation(
        n=n,
        passage_id="p",
        doc_id="letter",
        title="Letter",
        author="L. T.",
        section="",
        kind="body",
        source=source,
        start=start,
        end=end,
        quote=text[start:end],
        score=1.0,
    )


def reader(files: dict[str, str]) -> metrics.SourceReader:
    def read(source: str) -> str:
        if source not in files:
            raise OSError(f"no file {source}")
        return files[source]

    return read


READ = reader({SOURCE: TEXT})


# -- substrings and relevance ---------------------------------------------------------------
def test_normalize_collapses_whitespace() -> None:
    assert metrics.normalize("  a\n\tb   c \n") == "a b c"


def test_common_substring_known_values() -> None:
    assert metrics.has_common_substring("abcdef", "zcdez", 3)
    assert not metrics.has_common_substring("abcdef", "zcdez", 4)
    assert not metrics.has_common_substring("abc", "xyz", 1)
    assert not metrics.has_common_substring("", "abc", 1)
    assert metrics.has_common_substring("the party", "the party", 9)


def _brute_lcs(a: str, b: str) -> int:
    return max(
        (j - i for i in range(len(a)) for j in range(i + 1, len(a) + 1) if a[i:j] in b),
        default=0,
    )


@given(
    st.text(alphabet="abc ", max_size=25),
    st.text(alphabet="abc ", max_size=25),
    st.integers(min_value=1, max_value=8),
)
def test_common_substring_matches_brute_force(a: str, b: str, length: int) -> None:
    assert metrics.has_common_substring(a, b, length) == (_brute_lcs(a, b) >= length)


def test_passage_containing_whole_quote_is_relevant() -> None:
    assert metrics.is_relevant("before. " + "short quote" + " after.", "short quote")


def test_relevance_ignores_whitespace_differences() -> None:
    assert metrics.is_relevant("the Opposition will\n  defend its views", "Opposition will defend")


def test_sixty_percent_of_a_short_quote_is_the_threshold() -> None:
    quote = "".join(chr(ord("A") + i % 26) + str(i % 10) for i in range(50))  # 100 chars
    assert metrics.is_relevant("xx " + quote[:60] + " yy", quote)
    assert not metrics.is_relevant("xx " + quote[:59] + " yy", quote)


def test_a_short_quote_needs_forty_characters_or_all_of_it() -> None:
    quote = "".join(chr(ord("a") + i % 26) for i in range(50))  # 60% would be 30
    assert metrics.is_relevant("xx " + quote[:40] + " yy", quote)
    assert not metrics.is_relevant("xx " + quote[:39] + " yy", quote)
    assert not metrics.is_relevant("the Central Committee met", "of the Central Committee")
    assert metrics.is_relevant("all of the Central Committee met", "of the Central Committee")


def test_120_characters_suffice_for_a_long_quote() -> None:
    quote = "".join(f"{i:03d}" for i in range(200))  # 600 chars, 60% would be 360
    assert metrics.is_relevant("start " + quote[200:320] + " end", quote)
    assert not metrics.is_relevant("start " + quote[200:319] + " end", quote)


def test_passage_wholly_inside_a_long_quote_is_relevant() -> None:
    quote = "x" * 300 + " a passage of forty-odd characters, all quoted " + "y" * 300
    assert metrics.is_relevant("a passage of forty-odd characters, all quoted", quote)
    assert not metrics.is_relevant("a passage", quote)


def test_relevance_of_a_ranking_uses_any_quote() -> None:
    assert metrics.relevance(["alpha beta", "gamma", "delta"], ["gamma", "delta"]) == [
        False,
        True,
        True,
    ]


# -- ranking --------------------------------------------------------------------------------
def test_hit_at_k() -> None:
    rel = [False, False, True]
    assert metrics.hit_at(rel, 1) == 0.0
    assert metrics.hit_at(rel, 2) == 0.0
    assert metrics.hit_at(rel, 3) == 1.0


def test_reciprocal_rank() -> None:
    assert metrics.reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank([True]) == 1.0
    assert metrics.reciprocal_rank([False] * 10 + [True]) == 0.0  # rank 11 is past @10
    assert metrics.reciprocal_rank([]) == 0.0


def test_ndcg_known_values() -> None:
    assert metrics.ndcg([True, False], n_relevant=1) == 1.0
    assert metrics.ndcg([False, True], n_relevant=1) == pytest.approx(1 / math.log2(3))
    # two relevant at ranks 1 and 3, ideal puts them at 1 and 2
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg([True, False, True], n_relevant=2) == pytest.approx(expected)
    # two evidence quotes, only one found at rank 1
    assert metrics.ndcg([True, False], n_relevant=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert metrics.ndcg([False, False], n_relevant=1) == 0.0
    assert metrics.ndcg([], n_relevant=0) == 0.0


def test_ndcg_never_exceeds_one_when_more_passages_than_quotes_are_relevant() -> None:
    assert metrics.ndcg([True, True, True], n_relevant=1) == pytest.approx(1.0)


# -- answers --------------------------------------------------------------------------------
def test_key_fact_recall_counts_entries_with_any_alternative() -> None:
    answer = "TROTSKY wrote to\nKrupskaya in May [1]."
    facts = ["Trotskii|trotsky", "Krupskaya", "1926|1928"]
    assert metrics.key_fact_recall(answer, facts) == pytest.approx(2 / 3)
    assert metrics.key_fact_recall(answer, []) is None


def test_key_facts_match_typographic_variants() -> None:
    assert metrics.contains_fact("the party’s line, 1923–1927", "party's line|x")
    assert metrics.contains_fact("years 1923-1927", "1923–1927")


def test_answer_words_skip_citation_markers() -> None:
    assert metrics.answer_words("One two [1] three [2, 3].") == 3
    assert metrics.answer_words("") == 0
    assert metrics.answer_words("Yes — 1927 , so") == 3


def test_citation_markers() -> None:
    assert metrics.citation_markers("a [1] b [2, 3] c [x] [10]") == [1, 2, 3, 10]


# -- citations ------------------------------------------------------------------------------
def test_valid_citations_have_no_problems() -> None:
    c = cite(1, 50, 100)
    assert metrics.citation_problems("The Opposition will defend its views [1].", [c], READ) == []


def test_marker_without_citation_is_a_problem() -> None:
    problems = metrics.citation_problems("Claim [1] and [2].", [cite(1, 0, 14)], READ)
    assert problems == ["[2] has no citation"]


def test_quote_not_at_its_offsets_is_a_problem() -> None:
    wrong = Citation(**{**cite(1, 0, 14).__dict__, "start": 1, "end": 15})
    assert metrics.citation_problems("x [1]", [wrong], READ) == [f"[1] quote is not {SOURCE}[1:15]"]


def test_offsets_past_the_end_are_a_problem() -> None:
    past = Citation(**{**cite(1, 0, 14).__dict__, "start": 200, "end": 200, "quote": ""})
    assert len(metrics.citation_problems("x [1]", [past], READ)) == 1


def test_unreadable_source_is_a_problem() -> None:
    c = cite(1, 0, 14, source="corpus/missing.txt")
    (problem,) = metrics.citation_problems("x [1]", [c], READ)
    assert "cannot be read" in problem


def test_supported_when_a_cited_quote_overlaps_evidence() -> None:
    evidence = ["The Opposition will defend its views in the party."]
    assert metrics.is_supported([cite(1, 55, 80)], evidence, READ)  # inside the evidence
    assert metrics.is_supported([cite(1, 0, 51)], evidence, READ)  # overlaps its first char
    assert not metrics.is_supported([cite(1, 0, 50)], evidence, READ)  # ends where it starts
    assert not metrics.is_supported([], evidence, READ)


def test_not_supported_when_the_evidence_is_in_another_file() -> None:
    read = reader({SOURCE: TEXT, "corpus/other.txt": "nothing relevant"})
    c = cite(1, 0, 7, source="corpus/other.txt", text="nothing relevant")
    assert not metrics.is_supported([c], ["nothing relevant but longer"], read)


def test_quote_spans_finds_every_occurrence() -> None:
    assert metrics.quote_spans("abcabc", "bc") == [(1, 3), (4, 6)]
    assert metrics.quote_spans("abc", "") == []


# -- aggregates -----------------------------------------------------------------------------
def test_mean_skips_none() -> None:
    assert metrics.mean([1.0, None, 0.0, True]) == pytest.approx(2 / 3)
    assert metrics.mean([None]) is None


def test_percentile_interpolates_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert metrics.percentile(values, 50) == pytest.approx(2.5)
    assert metrics.percentile(values, 95) == pytest.approx(3.85)
    assert metrics.percentile([7.0], 95) == 7.0
    assert metrics.percentile([], 50) is None
