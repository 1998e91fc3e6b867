"""Chroma clients: a folder that failed to open, or was deleted, can be opened afresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.errors import CorruptStoreError
from assistant.settings import Settings
from assistant.store_client import (
    close_client,
    drop_generation,
    generation_path,
    make_client,
    wipe_chroma_files,
)


def _write_one(client: object, name: str = "passages") -> int:
    col = client.get_or_create_collection(name, embedding_function=None)  # type: ignore[attr-defined]
    col.upsert(ids=["a"], embeddings=[[0.1, 0.2, 0.3]])
    return int(col.count())


def _write_and_close(settings: Settings) -> None:
    client = make_client(settings)
    _write_one(client)
    close_client(client)


def _not_a_database(folder: Path) -> None:
    db = folder / "chroma.sqlite3"
    db.write_bytes(b"\x00garbage" * 64 + db.read_bytes()[512:])


def test_a_file_that_is_not_a_database_can_be_wiped_and_opened_afresh(tmp_path: Path) -> None:
    s = Settings(vectorstore_dir=tmp_path / "vs")
    _write_and_close(s)
    _not_a_database(s.vectorstore_dir)
    with pytest.raises(CorruptStoreError, match="ingest --rebuild"):
        make_client(s)
    wipe_chroma_files(s.vectorstore_dir)
    client = make_client(s)  # chromadb would hand back the system that failed to start
    assert _write_one(client) == 1
    close_client(client)


def test_clients_open_before_a_failure_go_on_and_do_not_stop_later_ones(tmp_path: Path) -> None:
    good = Settings(vectorstore_dir=tmp_path / "good")
    bad = Settings(vectorstore_dir=tmp_path / "bad")
    before = make_client(good)
    _write_one(before)
    _write_and_close(bad)
    _not_a_database(bad.vectorstore_dir)
    with pytest.raises(CorruptStoreError):
        make_client(bad)
    assert before.get_collection("passages").count() == 1
    after = make_client(good)
    close_client(before)  # must not count down the system `after` runs on
    assert after.get_collection("passages").count() == 1
    close_client(after)


def test_a_dropped_generation_can_come_back_under_its_name(tmp_path: Path) -> None:
    s = Settings(vectorstore_dir=tmp_path / "vs")
    client = make_client(s, "gen-000002")
    _write_one(client)
    drop_generation(s, "gen-000002")  # with its client still referenced
    assert not generation_path(s, "gen-000002").exists()
    again = make_client(s, "gen-000002")
    assert _write_one(again) == 1
    close_client(again)
    shutil.rmtree(tmp_path / "vs")
