"""The passages and BM25 index kept on disk: used while current, rebuilt when not."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from assistant.index_cache import cache_folder, store_key
from assistant.store import PassageStore
from tests.conftest import CORPUS, fake

QUESTION = "Why did Trotsky write to Krupskaya in May 1927?"


def ranked(a: Assistant) -> list[tuple[str, float]]:
    return [(p.id, round(p.score, 6)) for p in a.retrieve(QUESTION, k=10)]


def ingested(settings: Settings) -> tuple[Assistant, list[tuple[str, float]]]:
    """An assistant over a fresh store, and its ranking (the first open writes the cache)."""
    a = fake(settings)
    a.ingest()
    return a, ranked(a)


def saved(settings: Settings) -> list[Path]:
    folder = cache_folder(settings)
    return (
        sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []
    )


def no_store_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: PassageStore, batch: int = 5000) -> None:
        raise AssertionError("passages were read from the store, not from the cache")

    monkeypatch.setattr(PassageStore, "all_passages", refuse)


def test_second_open_reads_the_cache_and_answers_the_same(
    small_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, expected = ingested(small_settings)
    assert [p.name for p in saved(small_settings)] == [store_key(first.store)]
    no_store_reads(monkeypatch)
    second = fake(small_settings)
    assert ranked(second) == expected
    assert second.retriever.passages == first.retriever.passages
    assert second.retriever.lexical.doc_freq == first.retriever.lexical.doc_freq
    assert second.ask(QUESTION) == first.ask(QUESTION)


def test_an_ingest_that_changes_the_store_replaces_the_cache(small_settings: Settings) -> None:
    a, _ = ingested(small_settings)
    before = saved(small_settings)
    name = "trotsky_letter_to_cc_and_ccc_1923-10-08.txt"
    shutil.copyfile(CORPUS / name, small_settings.corpus_dir / name)
    a.ingest()
    b = fake(small_settings)
    assert any(p.doc_id == "trotsky-october-1923" for p in b.retriever.passages)
    after = saved(small_settings)
    assert len(after) == 1 and after != before  # the stale copy is gone


def test_a_damaged_cache_is_rebuilt_from_the_store(
    small_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    _, expected = ingested(small_settings)
    (folder,) = saved(small_settings)
    (folder / "passages.jsonl").write_text('["half a line', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="assistant.index_cache"):
        assert ranked(fake(small_settings)) == expected
    assert "unreadable" in caplog.text
    assert ranked(fake(small_settings)) == expected  # and written again whole


def test_an_unwritable_cache_folder_only_costs_time(
    small_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    settings = small_settings.model_copy(update={"index_cache_dir": blocker})
    a = fake(settings)
    a.ingest()
    with caplog.at_level(logging.WARNING, logger="assistant.index_cache"):
        assert ranked(a)
    assert "not written" in caplog.text


def test_where_the_cache_goes(tmp_path: Path) -> None:
    local = Settings(vectorstore_dir=tmp_path / "vs", index_cache_dir=None)
    assert cache_folder(local) == tmp_path / "vs" / "index-cache" / "passages"
    server = local.model_copy(update={"chroma_host": "10.0.0.5"})
    other = local.model_copy(update={"chroma_host": "10.0.0.6"})
    assert cache_folder(server).parent == local.home / ".cache" / "index"
    assert cache_folder(server) != cache_folder(other)
    moved = server.model_copy(update={"index_cache_dir": tmp_path / "elsewhere"})
    assert cache_folder(moved).parent == tmp_path / "elsewhere"
