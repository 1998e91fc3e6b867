"""Corpus markup as a reader sees it: styles instead of marks, every run still verbatim."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from assistant import plain_text, split_runs, text_runs
from assistant.parsing import paragraphs
from tests.conftest import CORPUS


def shown(text: str) -> list[tuple[str, str]]:
    """(text, style letters) of each run: i italic, b bold, n note marker."""
    out = []
    for r in text_runs(text):
        style = "i" * r.italic + "b" * r.bold + "n" * r.note
        out.append((r.text, style))
    return out


def test_note_markers_become_superscripts_and_emphasis_style() -> None:
    assert shown("disloyal.*<sup>5</sup> Do *Pravda* and [26] too") == [
        ("disloyal.", ""), ("5", "n"), (" Do ", ""), ("Pravda", "i"), (" and ", ""),
        ("26", "n"), (" too", ""),
    ]  # fmt: skip
    assert plain_text("a<sup>12</sup> b [3]") == "a¹² b ³"


def test_nested_emphasis_and_bold_inside_italic() -> None:
    assert shown("***Prozhektor**, 15 March 1927*") == [
        ("Prozhektor", "ib"), (", 15 March 1927", "i"),
    ]  # fmt: skip
    assert shown("*in **Pravda**, 1923.*") == [("in ", "i"), ("Pravda", "ib"), (", 1923.", "i")]


def test_note_labels_links_and_addresses_lose_their_syntax() -> None:
    label = "- [45.](#) *Известия ЦК*, 1920 [*Information of the CC*, p. 2]."
    assert plain_text(label) == "45. Известия ЦК, 1920 [Information of the CC, p. 2]."
    assert plain_text("[1. The Birth\nof the One-Party System](#)") == (
        "1. The Birth\nof the One-Party System"
    )
    assert (
        plain_text("see <https://lcn.loc.gov/2021037382>.") == "see https://lcn.loc.gov/2021037382."
    )


def test_stars_that_are_not_emphasis_stay() -> None:
    assert plain_text("2*3*4 and ** alone") == "2*3*4 and ** alone"
    # a passage that begins inside an italic phrase: the lone closing mark is still markup
    assert plain_text("Pravda* wrote") == "Pravda wrote"


def test_an_answers_citation_markers_are_not_notes() -> None:
    assert plain_text("He wrote to her. [1] [2]", notes=False) == "He wrote to her. [1] [2]"
    assert not any(r.note for r in text_runs("He wrote [1].", notes=False))


def test_html_in_a_document_is_text_not_markup() -> None:
    hostile = "<script>alert(1)</script> <b>x</b>"
    assert plain_text(hostile) == hostile


PIECES = [*"ab *[]()#-<>/\n12.", "<sup>", "</sup>", "](#)", "**", "https://x"]
MARKUP = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@given(MARKUP)
def test_every_run_is_verbatim_and_in_order(text: str) -> None:
    runs = text_runs(text)
    assert all(r.text == text[r.start : r.end] and r.start < r.end for r in runs)
    assert all(a.end <= b.start for a, b in itertools.pairwise(runs))


@given(MARKUP, st.integers(0, 60), st.integers(0, 60))
def test_split_runs_cuts_at_both_offsets_and_loses_nothing(text: str, a: int, b: int) -> None:
    start, end = sorted((min(a, len(text)), min(b, len(text))))
    runs = text_runs(text)
    cut = split_runs(runs, start, end)
    assert "".join(r.text for r in cut) == "".join(r.text for r in runs)
    assert all(r.text == text[r.start : r.end] for r in cut)
    assert all(r.end <= start or start <= r.start for r in cut)
    assert all(r.end <= end or end <= r.start for r in cut)


def test_the_corpus_shows_no_markup() -> None:
    """No star, tag or link syntax is left in any paragraph of the real corpus."""
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for start, end in paragraphs(text):
            clean = plain_text(text[start:end])
            assert "*" not in clean and "<sup>" not in clean and "](#" not in clean, clean[:200]
