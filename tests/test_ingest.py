"""Ingestion into temporary stores (the fake embedder): incremental, idempotent, safe."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from assistant.errors import EmptyStoreError, IngestError, ModelError, StoreLockedError
from assistant.ingest import writer_lock
from assistant.store import PassageStore
from tests.conftest import CORPUS, fake


def ids_of(a: Assistant) -> set[str]:
    return {p.id for p in a.store.all_passages()}


def test_ingest_then_reingest_embeds_nothing(small_settings: Settings) -> None:
    a = fake(small_settings)
    first = a.ingest()
    assert (first.added, first.updated, first.removed, first.unchanged) == (2, 0, 0, 0)
    assert first.passages == first.embedded > 50
    ids = ids_of(a)
    again = a.ingest()
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 2)
    assert again.embedded == 0
    assert again.passages == first.passages
    assert ids_of(a) == ids


def test_edited_added_and_deleted_files(small_settings: Settings) -> None:
    a = fake(small_settings)
    a.ingest()
    corpus = small_settings.corpus_dir
    before = {p.id: p.source for p in a.store.all_passages()}
    sedova = corpus / "sedova_letter_to_friends_1944-11-06.txt"
    sedova.write_text(sedova.read_text(encoding="utf-8") + "\n\nA postscript about the Fourth International.\n",
                      encoding="utf-8")  # fmt: skip
    (corpus / "new_note.md").write_text(
        "A short note on the Opposition in 1927.\n", encoding="utf-8"
    )
    (corpus / "mcneal_trotsky_letter_to_krupskaya_1927.txt").unlink()
    report = a.ingest()
    assert (report.added, report.updated, report.removed) == (1, 1, 1)
    assert any("new_note.md" in w for w in report.warnings)
    after = a.store.all_passages()
    assert not any("mcneal" in p.source for p in after)
    assert any("postscript" in p.text for p in after)
    assert any(p.doc_id == "new_note" for p in after)
    old_sedova = {i for i, s in before.items() if "sedova" in s}
    assert old_sedova - {p.id for p in after}  # the last passage changed


def test_interrupted_ingest_is_completed_without_duplicates(
    small_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = fake(
        small_settings.model_copy(
            update={"vectorstore_dir": small_settings.vectorstore_dir.parent / "clean"}
        )
    )
    clean.ingest()
    expected = ids_of(clean)

    calls = {"n": 0}
    real_add = PassageStore.add

    def failing_add(self: PassageStore, passages, vectors):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        real_add(self, passages, vectors)

    monkeypatch.setattr(PassageStore, "add", failing_add)
    a = fake(small_settings.model_copy(update={"write_batch_size": 16}))
    with pytest.raises(RuntimeError, match="power cut"):
        a.ingest()
    monkeypatch.setattr(PassageStore, "add", real_add)
    report = fake(small_settings).ingest()
    assert report.passages == len(expected)
    assert ids_of(fake(small_settings)) == expected


def test_second_writer_fails_fast(small_settings: Settings) -> None:
    with writer_lock(small_settings), pytest.raises(StoreLockedError, match="another ingest"):
        fake(small_settings).ingest()


def test_bad_input_gets_clear_errors(tmp_path: Path, small_settings: Settings) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match=r"no \.txt or \.md files"):
        fake(small_settings.model_copy(update={"corpus_dir": empty})).ingest()
    corpus = small_settings.corpus_dir
    (corpus / "broken.txt").write_bytes(b"\x00\xff binary")
    report = fake(small_settings).ingest()
    assert report.added == 2 and report.skipped == 1  # binary: skipped by name, not ingested
    assert any(w.startswith("broken.txt: looks binary") for w in report.warnings)
    with pytest.raises(ModelError, match="lacks"):
        # the real embedder checks its model folder before it loads anything
        Assistant(small_settings.model_copy(update={"embedding_model": str(tmp_path)})).ingest()


def test_asking_an_empty_store_says_to_ingest(small_settings: Settings) -> None:
    with pytest.raises(EmptyStoreError, match="assistant ingest"):
        fake(small_settings).retrieve("Who was Kosior?")


def test_model_or_chunker_change_rebuilds(small_settings: Settings) -> None:
    a = fake(small_settings)
    a.ingest()
    a.store.set_state(replace(a.store.state(), model="another-model@torch"))
    report = fake(small_settings).ingest()
    assert report.rebuilt
    assert report.embedded == report.passages > 0


def test_real_corpus_store_and_retrieval(fake_full: Assistant) -> None:
    assert fake_full.store.count() > 3000
    hits = fake_full.retrieve("Who was Kosior?", k=5)
    assert len(hits) == 5
    assert any("Kosior" in h.text for h in hits)
    for h in hits:
        assert (CORPUS.parent / h.source).read_text(encoding="utf-8")[h.start : h.end] == h.text
    only = fake_full.retrieve("Kosior fuss", k=5, doc_ids=["mcneal-krupskaya"])
    assert {h.doc_id for h in only} == {"mcneal-krupskaya"}
