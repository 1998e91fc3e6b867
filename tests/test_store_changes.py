"""Issue 7, cases 5-8: what an ingest does to the store when the corpus changes, repeats
itself or holds odd files: only what changed is replaced, every file is read or named.
The fake embedder (see tests/conftest.py)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from assistant.corpus import read_source
from tests.conftest import fake
from tests.helpers import KRUPSKAYA_Q, SEDOVA, SEDOVA_Q, check_citations, settings_for, snapshot

pytestmark = [
    # gradio's own queue statistics use pandas options that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]


# -- 5-9: ingest and the store -----------------------------------------------------------------
def test_case_05_reingesting_an_unchanged_corpus_changes_nothing(shared: Assistant) -> None:
    # test_ingest.py checks ids and count; here the answers too, from a fresh Assistant.
    before = snapshot(shared)
    answers = [shared.ask(q).to_dict() for q in (KRUPSKAYA_Q, SEDOVA_Q)]
    report = shared.ingest()
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 2)
    assert report.embedded == 0 and report.passages == before[0]
    assert snapshot(shared) == before
    again = fake(shared.settings)
    assert [again.ask(q).to_dict() for q in (KRUPSKAYA_Q, SEDOVA_Q)] == answers


OTHER_NOTE = (
    "A Note On The Archive\n\n"
    "The archive of the Left Opposition was kept on Prinkipo until 1933. Its papers were later "
    "sold to Harvard University.\n\nThe Bulletin of the Opposition was printed in Paris.\n"
)
OLD_SENTENCE = "I never entertained the slightest doubts about it."
NEW_SENTENCE = "The samovar in the corner of the Coyoacán study had gone cold by November."


def test_case_06_an_edited_file_replaces_only_its_own_passages(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    (s.corpus_dir / "other_note.txt").write_text(OTHER_NOTE, encoding="utf-8")
    a = fake(s)
    a.ingest()
    before = {p.id: p for p in a.store.all_passages()}
    path = s.corpus_dir / SEDOVA
    text = path.read_text(encoding="utf-8")
    assert text.count(OLD_SENTENCE) == 1
    path.write_text(text.replace(OLD_SENTENCE, NEW_SENTENCE), encoding="utf-8")
    report = a.ingest()
    after = {p.id: p for p in a.store.all_passages()}
    edited = [p for p in after.values() if p.doc_id == "sedova-1944"]
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 1)
    assert report.embedded == len(edited) and report.passages == len(after)
    new_text = path.read_text(encoding="utf-8")
    assert all(new_text[p.start : p.end] == p.text for p in edited)  # nothing of the old file
    assert not any(OLD_SENTENCE in p.text for p in after.values())
    assert set(before) - set(after)  # the edited passage's old id is gone
    assert {i: p for i, p in after.items() if p.doc_id == "other_note"} == {
        i: p for i, p in before.items() if p.doc_id == "other_note"
    }
    assert NEW_SENTENCE in a.retrieve("the samovar in the Coyoacán study", k=1)[0].text


EPIGRAPH = "Workers of the world, unite! You have nothing to lose but your chains."
SECTIONS = ("Opening Words Of The Book", "The First Congress Chapter", "The Second Plenum Chapter")
EPIGRAPH_DOC = "\n\n".join(
    [f"{title}\n\n{EPIGRAPH}" for title in SECTIONS]
    + ["The Closing Chapter Here", "The plenum met in October and voted on the platform."]
)


def test_case_07_identical_passages_in_one_batch_are_stored_once_each(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("epigraphs.txt", "epigraphs copy.txt", "epigraphs!.txt"):
        (corpus / name).write_text(EPIGRAPH_DOC, encoding="utf-8")
    a = fake(Settings(corpus_dir=corpus, vectorstore_dir=tmp_path / "vs"))
    report = a.ingest()
    # "epigraphs!.txt" and "epigraphs.txt" both get the id "epigraphs": the later is refused,
    # by name, instead of overwriting the first one's identical passages.
    assert report.added == 2 and len(report.failed) == 1
    assert report.failed[0].startswith("epigraphs.txt: its document id 'epigraphs' is already")
    assert "give it its own id" in report.failed[0]
    stored = a.store.all_passages()
    ids = [p.id for p in stored]
    assert len(ids) == len(set(ids)) == a.store.count() == report.passages
    for doc in ("epigraphs", "epigraphs-copy"):
        mine = [p for p in stored if p.doc_id == doc]
        assert len(mine) <= a.settings.write_batch_size  # one document, one batch
        assert sum(p.text == EPIGRAPH for p in mine) == 3
    again = a.ingest()
    assert (again.unchanged, again.embedded, len(again.failed)) == (2, 0, 1)


ENCODED = {
    "bom.txt": "\ufeffThe Bulletin of the Opposition reached Moscow in sealed envelopes from "
    "Berlin.\n\nIts editors were Leon Sedov and his comrades in exile.\n".encode(),
    "cp1252.txt": "The émigrés met at the Café “Rotonde” in Paris every Thursday evening.\n\n"
    "They argued about Trotsky’s theses — loudly, and at great length.\n".encode("cp1252"),
    "nfd.txt": unicodedata.normalize(
        "NFD", "Zinóviev and Kámenev met at the Élysée café to discuss the platform of 1927.\n"
    ).encode(),
    "control.txt": b"The plenum\x07 opened on the ninth of October\x1b[0m with a long report.\x0b"
    b"\n\nThe delegates\x0c voted late at night after the speeches were over.\n",
    "bad.txt": b"Moskva \x81\x8d\x8f\x90\x9d letter",  # neither UTF-8 nor cp1252
    "binary.txt": b"PK\x03\x04\x00\x00\x08\x00",
}


def test_case_08_encodings_are_read_and_undecodable_files_named(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in ENCODED.items():
        (corpus / name).write_bytes(data)
    a = fake(Settings(corpus_dir=corpus, vectorstore_dir=tmp_path / "vs"))
    report = a.ingest()
    assert report.added == 4
    assert [f.split(":")[0] for f in report.failed] == ["bad.txt"]
    assert all("save it as UTF-8" in f for f in report.failed)
    # a binary-looking file is no document: skipped by name, not a failure
    assert report.skipped == 1 and any("binary.txt" in w for w in report.warnings)
    stored = a.store.all_passages()
    assert {p.doc_id for p in stored} == {"bom", "cp1252", "nfd", "control"}
    for p in stored:
        assert read_source(Path(p.source))[p.start : p.end] == p.text
        assert "\ufeff" not in p.text + p.embed_text
        assert not any(unicodedata.category(c) == "Cc" for c in p.embed_text)
    nfd = next(p for p in stored if p.doc_id == "nfd")
    assert unicodedata.is_normalized("NFD", nfd.text) and not unicodedata.is_normalized(
        "NFC", nfd.text
    )
    assert "Élysée" in nfd.embed_text  # what is searched is NFC, so NFC questions find it
    assert a.retrieve("Zinóviev Kámenev Élysée", k=1)[0].doc_id == "nfd"
    assert any("Café “Rotonde”" in p.text for p in stored if p.doc_id == "cp1252")
    ans = a.ask("Where did the émigrés meet every Thursday evening?")
    assert not ans.abstained and ans.citations[0].doc_id == "cp1252"
    check_citations(ans)  # verbatim in the cp1252 file as read from disk
