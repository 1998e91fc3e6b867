"""The parser on small fixtures cut from the real texts."""

from __future__ import annotations

from assistant.parsing import Block, clean, language_of, parse

PAGE_BREAK = """Very shortly after Lenin's death on January 21, 1924, Krupskaya wrote a personal note \
to Trotsky, telling him of Lenin's continued high esteem for him until the end of his life and \
implicitly offering a

<sup>1</sup> A fuller narrative of their relationship than that which follows may be found in my \
book *Bride of the Revolution: Krupskaya and Lenin* (Ann Arbor, Michigan and London, 1972).

personal reconciliation. Trotsky later took great pride in this letter.<sup>1</sup>

<sup>1</sup> See second paragraph of the following document.
"""

BOOK = """Contents

[1. The Birth of the One-Party System](#)

[2. The Fight Against Privileges](#)

1. The Birth of the One-Party System

In this way, as Lenin wrote, “the people actually voted for a party which no longer existed.”⁴ \
This circumstance became the basis for a decision.¹

1. For more detailed examples, see E. H. Carr, *A History of Soviet Russia*.

 2. Ibid., p. 257.
 3. See: *Вопросы истории* [Problems of History], 1989, № 9, pp. 175, 176.
 4. Ленин, ПСС, Т. 35, С. 111 [Lenin, CW, Volume 26, p. 339].

2. The Fight Against Privileges

After the October Revolution, a party came to power.¹

- [1.](#) Ленин, В. И., ПСС, Т. 33, С. 43 [Lenin, CW, Volume 25, p. 420].
"""

BRACKETS = """To Members of the CC and CCC[1]

1. One of the proposals of comrade Dzerzhinsky’s[2] commission states that it is necessary.

2. The extreme deterioration of the inner-party situation has two causes.

[1]

L.D. Trotsky’s letter was written under conditions of the sharpening economic crisis.

[2]

This refers to the commission composed of F. E. Dzerzhinsky and others.
"""

WEB = """[Classics] The Stalin School of Falsification

Letter to the Bureau of Party History

Concerning Economic Questions

48. Martinov maintains that civil war and War Communism are “Trotskyism.” [26]

49. At the caucus of the Bolshevik fraction, Lenin had the following to say.

October 21, 1927

26. Back in July, 1920, Trotsky was chosen to restore transportation.

Join us

If you want more information about joining the RCI, fill in this form. We will get back to you.
"""


def _texts(text: str, blocks: list[Block], kind: str) -> list[str]:
    return [text[b.start : b.end] for b in blocks if b.kind == kind]


def test_footnote_block_splitting_a_paragraph_is_repaired() -> None:
    blocks = parse(PAGE_BREAK, "article")
    paras = [b for b in blocks if b.kind == "paragraph"]
    assert len(paras) == 1
    joined = " ".join(PAGE_BREAK[s:e] for s, e in paras[0].segments)
    assert "implicitly offering a personal reconciliation." in joined
    assert "A fuller narrative" not in joined


def test_sup_footnotes_restart_per_page_and_link_to_the_next_with_that_label() -> None:
    blocks = parse(PAGE_BREAK, "article")
    notes = [i for i, b in enumerate(blocks) if b.kind == "note"]
    assert len(notes) == 2
    para = next(b for b in blocks if b.kind == "paragraph")
    # the marker after "great pride in this letter." is on the second page: its note is the 2nd
    assert para.note_targets == [notes[1]]
    assert PAGE_BREAK[blocks[notes[1]].start :].startswith("<sup>1</sup> See second")


def test_book_chapters_endnotes_and_superscript_markers() -> None:
    blocks = parse(BOOK, "book")
    headings = [b.section for b in blocks if b.kind == "heading"]
    assert "1. The Birth of the One-Party System" in headings
    assert "2. The Fight Against Privileges" in headings
    notes = [b for b in blocks if b.kind == "note"]
    assert [n.note_label for n in notes] == ["1", "2", "3", "4", "1"]
    body = next(
        b for b in blocks if b.kind == "paragraph" and "voted for a party" in BOOK[b.start : b.end]
    )
    labels = sorted(blocks[t].note_label for t in body.note_targets)
    assert labels == ["1", "4"]
    # the chapter-2 marker ¹ resolves to chapter 2's note 1, not chapter 1's
    ch2 = next(
        b for b in blocks if b.kind == "paragraph" and "came to power" in BOOK[b.start : b.end]
    )
    assert BOOK[blocks[ch2.note_targets[0]].start :].startswith("- [1.](#) Ленин, В. И.")
    assert all(b.section.startswith(("1.", "2.")) for b in notes)


def test_bracketed_notes_and_numbered_letter_paragraphs() -> None:
    blocks = parse(BRACKETS, "letter")
    notes = [b for b in blocks if b.kind == "note"]
    assert [n.note_label for n in notes] == ["1", "2"]
    assert all(len(n.segments) == 2 for n in notes)  # "[n]" line + its text
    paras = [b for b in blocks if b.kind == "paragraph"]
    assert [p.section for p in paras] == ["", "¶ 1", "¶ 2"]
    assert all(b.cited_by for b in notes)


def test_web_boilerplate_dropped_and_endnotes_after_the_date() -> None:
    blocks = parse(WEB, "letter")
    shown = " ".join(WEB[b.start : b.end] for b in blocks)
    assert "[Classics]" not in shown
    assert "Join us" not in shown and "fill in this form" not in shown
    notes = [b for b in blocks if b.kind == "note"]
    assert [n.note_label for n in notes] == ["26"]
    sections = {b.section for b in blocks if b.kind == "paragraph"}
    assert "Concerning Economic Questions, ¶ 48" in sections


def test_offsets_are_exact_for_every_block() -> None:
    for text, kind in (
        (PAGE_BREAK, "article"),
        (BOOK, "book"),
        (BRACKETS, "letter"),
        (WEB, "letter"),
    ):
        for b in parse(text, kind):
            for s, e in b.segments:
                assert text[s:e] == text[s:e].strip()
                assert s < e


def test_language_and_cleaning() -> None:
    assert language_of("Дорогая Н.К., пишу Вам на машинке.") == "ru"
    assert language_of("Dear N.K., I am writing you on a typewriter.") == "en"
    assert clean("letter.<sup>1</sup> *Pravda* said¹ so [26]") == "letter. Pravda said so"
