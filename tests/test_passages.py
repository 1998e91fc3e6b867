"""Passages of the real corpus: verbatim offsets, the embedder's bound, deterministic ids, notes."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest

from assistant.corpus import corpus_files, load_manifest, load_source
from assistant.embedding import MODEL_MAX_TOKENS, PACKAGED, token_counts
from assistant.passages import Chunker
from assistant.sentences import sentence_spans
from assistant.types import Passage
from tests.conftest import CORPUS


@cache
def corpus_passages() -> dict[str, tuple[str, list[Passage]]]:
    manifest = load_manifest(CORPUS / "manifest.toml")
    chunker = Chunker(lambda texts: token_counts(PACKAGED, texts), 200)
    out = {}
    for path in corpus_files(CORPUS):
        src = load_source(path, manifest.get(path.name))
        out[path.name] = (src.text, chunker.passages(src))
    return out


def all_passages() -> list[Passage]:
    return [p for _, ps in corpus_passages().values() for p in ps]


def test_every_passage_is_verbatim_source_text() -> None:
    for _name, (text, passages) in corpus_passages().items():
        assert passages
        for p in passages:
            assert p.text == text[p.start : p.end]
            assert (CORPUS.parent / p.source).read_text(encoding="utf-8")[p.start : p.end] == p.text


def test_no_embedded_text_exceeds_the_models_word_pieces() -> None:
    texts = [p.embed_text for p in all_passages()]
    counts = token_counts(PACKAGED, texts)
    # +2 for [CLS] and [SEP], which the model adds
    assert max(counts) + 2 <= MODEL_MAX_TOKENS


def test_ids_are_unique_and_deterministic() -> None:
    ids = [p.id for p in all_passages()]
    assert len(ids) == len(set(ids))
    corpus_passages.cache_clear()
    assert [p.id for p in all_passages()] == ids


def test_notes_are_linked_both_ways() -> None:
    by_id = {p.id: p for p in all_passages()}
    notes = [p for p in by_id.values() if p.kind == "note"]
    assert len(notes) > 800
    linked = [n for n in notes if n.refs]
    assert len(linked) / len(notes) > 0.9
    for n in linked:
        for ref in n.refs:
            assert any(note_id in by_id and by_id[note_id].note_label == n.note_label
                       for note_id in by_id[ref].notes)  # fmt: skip


def test_book_structure_has_all_chapters_and_back_matter() -> None:
    _, passages = corpus_passages()["rogovin_was_there_an_alternative_1923-1927.txt"]
    sections = {p.section.split(", note")[0] for p in passages}
    chapters = {s.split(".")[0] for s in sections if s[:1].isdigit()}
    assert chapters == {str(i) for i in range(1, 50)}
    assert "7. The “Testament”" in sections
    for named in ("Foreword", "Introduction", "Conclusion", "Glossary of Abbreviations and Terms",
                  "Selected Biographical Notes"):  # fmt: skip
        assert named in sections


def test_russian_original_kept_and_tagged() -> None:
    _, passages = corpus_passages()["mcneal_trotsky_letter_to_krupskaya_1927.txt"]
    russian = [p for p in passages if p.language == "ru"]
    assert any("Пишу Вам на машинке" in p.text for p in russian)
    assert any(
        "I am writing you on a typewriter" in p.text and p.language == "en" for p in passages
    )
    assert Counter(p.language for p in passages)["en"] > 0


def test_page_break_repaired_in_one_passage() -> None:
    _text, passages = corpus_passages()["mcneal_trotsky_letter_to_krupskaya_1927.txt"]
    p = next(p for p in passages if "implicitly offering a" in p.text)
    assert "personal reconciliation" in p.text
    assert "implicitly offering a personal reconciliation" in p.embed_text
    assert "A fuller narrative" not in p.embed_text


def test_boilerplate_is_not_in_any_passage() -> None:
    for p in all_passages():
        assert "[Classics]" not in p.text
        assert "fill in this form" not in p.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("V. I. Lenin wrote it. Then he left.", ["V. I. Lenin wrote it.", "Then he left."]),
        ("See pp. 5-6 of Vol. 2. Next one.", ["See pp. 5-6 of Vol. 2.", "Next one."]),
        ("He said “no.”¹ They went.", ["He said “no.”¹", "They went."]),
    ],
)
def test_sentence_spans(text: str, expected: list[str]) -> None:
    assert [text[u.start : u.end] for u in sentence_spans(text, 0, len(text))] == expected
