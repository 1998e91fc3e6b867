"""The page's HTML: markers link to their sources, quotes are marked, nothing is unescaped."""

from __future__ import annotations

import html
import re

import pytest

from assistant import Answer, Citation, DocumentSummary, Passage
from assistant_ui.render import (
    EMPTY_PANEL,
    Turn,
    answer_html,
    answerer_line,
    citation_excerpt,
    citation_html,
    copy_text,
    highlighted,
    notice_html,
    see_also_html,
    sources_html,
    status_html,
    text_html,
)

HOSTILE = "<script>document.title='PWNED'</script> <img src=x onerror=\"alert(1)\">"
PASSAGE = (
    "Before the quote. The quoted sentence is here. After it, <sup>3</sup> more *Pravda* text."
)


def citation(n: int = 1, **kw: object) -> Citation:
    quote = "The quoted sentence is here."
    start = PASSAGE.index(quote)
    fields: dict[str, object] = dict(
        n=n, passage_id=f"doc:{n}", doc_id="doc", title="A Letter", author="L. Trotsky",
        section="Chapter 2", kind="body", source="corpus/doc.txt", start=100 + start,
        end=100 + start + len(quote), quote=quote, score=1.0, date="1927-05-17",
        passage_text=PASSAGE, passage_start=100,
    )  # fmt: skip
    fields.update(kw)
    return Citation(**fields)  # type: ignore[arg-type]


def passage(text: str = "A nearby passage.", **kw: object) -> Passage:
    fields: dict[str, object] = dict(
        id="doc:9", doc_id="doc", title="A Book", section="Part 1", kind="body", language="en",
        text=text, source="corpus/book.txt", start=5, end=5 + len(text), author="V. Rogovin",
        date="2021",
    )  # fmt: skip
    fields.update(kw)
    return Passage(**fields)  # type: ignore[arg-type]


def answer(text: str = "Claim one. [1] Claim two. [2]", **kw: object) -> Answer:
    fields: dict[str, object] = dict(question="Q?", text=text, citations=[citation(1), citation(2)])
    fields.update(kw)
    return Answer(**fields)  # type: ignore[arg-type]


def no_tags_from(text: str, rendered: str) -> None:
    """Nothing of ``text`` became markup: no <script>, no <img>, no event handler."""
    assert "<script" not in rendered
    assert "<img" not in rendered
    assert "onerror=" not in rendered.replace("onerror=&quot;", "")


def test_text_is_escaped_then_its_markup_rendered() -> None:
    out = text_html("a <b>bold</b> & <sup>12</sup> *Pravda* 2*3*4 - [45.](#) [26]")
    assert "&lt;b&gt;bold&lt;/b&gt;" in out
    assert "&amp;" in out
    assert "<sup>12</sup>" in out and "<sup>26</sup>" in out  # note markers as superscripts
    assert "<em>Pravda</em>" in out
    assert "2*3*4" in out
    assert "[45.](#)" not in out and "45." in out


def test_sup_with_markup_inside_stays_escaped() -> None:
    out = text_html("<sup><script>x</script></sup> <sup onclick=x>1</sup>")
    assert "<script" not in out and "<sup onclick" not in out


def test_answer_markers_are_not_taken_for_note_markers() -> None:
    out = answer_html(answer("Claim. [1] Aside [26]."), 1)
    assert '<a class="cite" href="#src-1-1">[1]</a>' in out and "[26]" in out
    assert "<sup>" not in out


def visible_marked(out: str) -> str:
    """The text inside every <mark>, tags removed, joined."""
    runs = re.findall(r"<mark>(.*?)</mark>", out, re.S)
    return "".join(html.unescape(re.sub(r"<[^>]+>", "", r)) for r in runs)


def test_highlight_marks_exactly_the_quote_inside_its_passage() -> None:
    c = citation()
    out = citation_excerpt(c)
    assert visible_marked(out) == c.quote
    assert out.startswith("Before the quote. ")
    assert "<sup>3</sup>" in out and "<em>Pravda</em>" in out


def test_a_quote_through_markup_is_marked_at_its_offsets_and_shown_clean() -> None:
    passage = "He read *Pravda* on<sup>4</sup> Monday. Then he wrote."
    quote = "read *Pravda* on<sup>4</sup> Mon"  # from inside one word to inside another
    start = passage.index(quote)
    c = citation(quote=quote, passage_text=passage, start=100 + start,
                 end=100 + start + len(quote))  # fmt: skip
    out = citation_excerpt(c)
    assert visible_marked(out) == "read Pravda on4 Mon"
    assert "<mark><em>Pravda</em></mark>" in out and "<mark><sup>4</sup></mark>" in out
    assert "*" not in out and "&lt;sup" not in out
    assert re.sub(r"<[^>]+>", "", out) == "He read Pravda on4 Monday. Then he wrote."


def test_highlight_falls_back_to_the_quote_when_offsets_disagree() -> None:
    c = citation(passage_start=0)
    assert citation_excerpt(c) == f"<mark>{html.escape(c.quote)}</mark>"


def test_highlight_ignores_bad_offsets() -> None:
    assert "<mark>" not in highlighted("text", 3, 99)


def test_hostile_excerpt_is_escaped_everywhere() -> None:
    text = f"Intro. {HOSTILE} The end."
    c = citation(
        title=HOSTILE, author=HOSTILE, section=HOSTILE, source=HOSTILE, quote=HOSTILE,
        passage_text=text, start=100 + 7, end=100 + 7 + len(HOSTILE),
        annotated_text=HOSTILE, kind="note",
    )  # fmt: skip
    ans = answer(text=f"{HOSTILE} [1]", citations=[c], notes=[HOSTILE])
    turn = Turn(1, HOSTILE, ans)
    for rendered in (citation_html(c, 1), answer_html(ans, 1), sources_html([turn])):
        no_tags_from(HOSTILE, rendered)
        assert "&lt;script&gt;" in rendered
    abst = answer(text=HOSTILE, abstained=True, citations=[], see_also=[passage(HOSTILE)])
    for rendered in (answer_html(abst, 2), sources_html([Turn(2, HOSTILE, abst)])):
        no_tags_from(HOSTILE, rendered)
    no_tags_from(HOSTILE, notice_html(HOSTILE))
    no_tags_from(HOSTILE, status_html(1, 1, "x", note=HOSTILE))
    assert "<script" not in answerer_line("llm", HOSTILE, HOSTILE)


def test_markers_link_to_their_source_entries() -> None:
    out = answer_html(answer("One. [1] Two. [2] Unknown. [7]"), turn=3)
    assert '<a class="cite" href="#src-3-1">[1]</a>' in out
    assert '<a class="cite" href="#src-3-2">[2]</a>' in out
    assert "[7]" in out and "#src-3-7" not in out
    panel = sources_html([Turn(3, "Q?", answer())])
    assert 'id="src-3-1"' in panel and 'id="src-3-2"' in panel


def test_citation_entry_shows_number_title_author_date_section() -> None:
    out = citation_html(citation(4), turn=1)
    for part in ("[4]", "A Letter", "L. Trotsky", "1927-05-17", "Chapter 2", "corpus/doc.txt"):
        assert part in out


def test_note_citation_shows_the_note_and_the_paragraph_it_annotates() -> None:
    c = citation(kind="note", annotated_text="The paragraph that cites note <sup>3</sup>.")
    out = citation_html(c, turn=1)
    assert "The note" in out and "The paragraph this note annotates" in out
    assert "The paragraph that cites note <sup>3</sup>." in out
    assert 'class="badge">note<' in out


def test_abstention_looks_different_and_offers_see_also() -> None:
    abst = answer(
        text="The documents do not answer this question.", abstained=True, citations=[],
        see_also=[passage("The closest passage.")],
    )  # fmt: skip
    chat = answer_html(abst, 1)
    assert 'class="abstain"' in chat and "see also" in chat
    panel = sources_html([Turn(1, "Q?", abst)])
    assert "turn abstained" in panel and "See also" in panel
    assert "The closest passage." in panel and "A Book" in panel and "V. Rogovin" in panel
    assert 'class="abstain"' not in answer_html(answer(), 1)


def test_see_also_without_passages_says_so() -> None:
    assert "No passage" in see_also_html([])


def test_panel_lists_latest_answer_first_and_open() -> None:
    panel = sources_html([Turn(1, "First?", answer()), Turn(2, "Second?", answer())])
    assert panel.index("Second?") < panel.index("First?")
    assert panel.count("<details") == 2 and panel.count(" open>") == 1
    assert sources_html([]) == EMPTY_PANEL


def test_answer_notes_are_shown() -> None:
    out = answer_html(answer(notes=["Only the last 20 messages were used."]), 1)
    assert "Only the last 20 messages were used." in out


@pytest.mark.parametrize(
    ("answerer", "expected"), [("default", "no language model"), ("llm", "llama3.1")]
)
def test_answerer_line_names_the_active_answerer(answerer: str, expected: str) -> None:
    assert expected in answerer_line(answerer, "ollama", "llama3.1")


def test_status_line_says_what_is_loaded_or_what_to_do() -> None:
    assert "assistant ingest" in status_html(0, 0, "x")
    line = re.sub(r"<[^>]+>", "", status_html(3246, 5, "answers quoted"))
    assert "Loaded: 5 documents·3,246 passages·answers quoted" in line
    assert "added" not in line and " s" not in line  # no ingest statistics


DOCS = [
    DocumentSummary("a", "A Letter", "L. Trotsky", "1927", "letter", 10),
    DocumentSummary("b", "A Book", "V. Rogovin", "2021", "book", 90),
    DocumentSummary("c", "Another Letter", "N. Sedova", "1944", "letter", 5),
]


def test_each_answer_says_what_it_searched() -> None:
    everything = answer(searched=("a", "b", "c"))
    assert "Searched all 3 documents." in answer_html(everything, 1, DOCS)
    some = answer(searched=("a", "c"))
    assert "Searched 2 of 3 documents: A Letter; Another Letter." in answer_html(some, 1, DOCS)
    assert "Searched 2 of 3" in sources_html([Turn(1, "Q?", some)], DOCS)
    assert "Searched" not in answer_html(answer(), 1, DOCS)  # the backend did not say


def test_copy_text_numbers_the_sources_after_the_answer() -> None:
    turn = Turn(2, "Why <did> he?", answer(searched=("a",)))
    text = copy_text(turn, DOCS)
    assert text.startswith("Q: Why <did> he?\n\nClaim one. [1] Claim two. [2]\n\nSources:\n[1] ")
    assert "“The quoted sentence is here.”" in text and "corpus/doc.txt, characters" in text
    assert text.endswith("Searched 1 of 3 documents: A Letter.")
    panel = sources_html([turn], DOCS)
    assert 'data-copy="copy-2"' in panel and 'id="copy-2"' in panel
    area = re.search(r'<textarea[^>]*id="copy-2"[^>]*>(.*?)</textarea>', panel, re.S)
    assert area and html.unescape(area.group(1)) == text  # escaped inside, exact once read
