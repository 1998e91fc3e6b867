"""Shared fixtures: every test gets its own settings paths; nothing writes into the repo.

Tests use the fake embedder (:class:`assistant.testing.FakeEmbedder`): :func:`fake` on any
settings, ``fake_assistant`` (the two small documents) and ``fake_full`` (the whole corpus).
Only the tests marked ``real_model`` load the packaged model (``real_assistant``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel

from assistant import Assistant
from assistant.settings import PROJECT_ROOT, Settings
from assistant.testing import FakeEmbedder

CORPUS = PROJECT_ROOT / "corpus"
SMALL_DOCS = (
    "sedova_letter_to_friends_1944-11-06.txt",
    "mcneal_trotsky_letter_to_krupskaya_1927.txt",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on the real model is a ``real_model`` test, however it says so (the older
    ``slow`` mark, or the ``real_assistant`` fixture), so ``-m "not real_model"`` leaves it out."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if item.get_closest_marker("slow") or "real_assistant" in fixtures:
            item.add_marker(pytest.mark.real_model)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every settings path at the test's temporary folder."""
    monkeypatch.setenv("ASSISTANT_VECTORSTORE_DIR", str(tmp_path / "vectorstore"))
    monkeypatch.setenv("ASSISTANT_FEEDBACK_PATH", str(tmp_path / "feedback.jsonl"))
    monkeypatch.setenv("ASSISTANT_INDEX_CACHE_DIR", str(tmp_path / "index-cache"))
    monkeypatch.setenv("ASSISTANT_CHAT_HISTORY_PATH", str(tmp_path / "chat_history"))
    for name in (
        "ASSISTANT_CHROMA_HOST",
        "ASSISTANT_CHROMA_PORT",
        "ASSISTANT_CHROMA_SSL",
        "ASSISTANT_CHROMA_TOKEN",
        "ASSISTANT_ANSWERER",
        "ASSISTANT_CORPUS_DIR",
        "ASSISTANT_EMBEDDING_BACKEND",
    ):
        monkeypatch.delenv(name, raising=False)


def small_corpus(dest: Path, names: tuple[str, ...] = SMALL_DOCS) -> Path:
    """A corpus folder holding a few of the real documents and the real manifest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*names, "manifest.toml"):
        shutil.copyfile(CORPUS / name, dest / name)
    return dest


@pytest.fixture
def small_settings(tmp_path: Path) -> Settings:
    """Settings for a two-document corpus in a temporary folder."""
    return Settings(corpus_dir=small_corpus(tmp_path / "corpus"), vectorstore_dir=tmp_path / "vs")


def fake(settings: Settings, chat_model: BaseChatModel | None = None) -> Assistant:
    """An assistant on ``settings`` with the fake embedder: no model, milliseconds (and the
    chat model given, if any)."""
    return Assistant(settings, embedder=FakeEmbedder(), chat_model=chat_model)


@pytest.fixture
def fake_assistant(small_settings: Settings) -> Assistant:
    """The two small documents ingested with the fake embedder, for this test alone."""
    a = fake(small_settings)
    a.ingest()
    return a


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The two small documents ingested once per module with the fake embedder, for the tests
    that leave the store as it is."""
    tmp = tmp_path_factory.mktemp("shared")
    a = fake(Settings(corpus_dir=small_corpus(tmp / "corpus"), vectorstore_dir=tmp / "vs",
                      feedback_path=tmp / "fb.jsonl"))  # fmt: skip
    a.ingest()
    return a


@pytest.fixture(scope="session")
def fake_full(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The whole corpus ingested once with the fake embedder (tests must not change it)."""
    store = tmp_path_factory.mktemp("fake-full-store")
    a = fake(Settings(corpus_dir=CORPUS, vectorstore_dir=store,
                      index_cache_dir=store / "index-cache"))  # fmt: skip
    a.ingest()
    return a


@pytest.fixture(scope="session")
def real_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The whole real corpus ingested once with the real model into a temporary store."""
    store = tmp_path_factory.mktemp("real-store")
    a = Assistant(Settings(corpus_dir=CORPUS, vectorstore_dir=store))
    a.ingest()
    return a
