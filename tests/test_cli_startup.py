"""The command's start-up: what a new process imports, the docs command, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import cli
from assistant.settings import PROJECT_ROOT, Settings
from tests.helpers import letters_corpus

QUESTION = "Why did Trotsky write to Krupskaya in May 1927?"
# What the question path must not load: the ingest's model stack, and for --help the store's.
MODEL_STACK = ("torch", "sentence_transformers", "transformers")
HEAVY = ("chromadb", "langchain_core", "numpy", "onnxruntime", *MODEL_STACK)

CHILD = """
import sys
from assistant.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("LOADED", " ".join(m for m in {modules!r} if m in sys.modules))
sys.exit(code)
"""


def run_cli(*args: str, modules: tuple[str, ...] = HEAVY) -> tuple[int, str, list[str]]:
    """``assistant <args>`` in a new process: exit code, output, and which of ``modules`` it
    had imported by the end."""
    paths = [str(PROJECT_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    got = subprocess.run(
        [sys.executable, "-c", CHILD.format(modules=modules), *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    *lines, loaded = got.stdout.rstrip("\n").splitlines()
    assert loaded.startswith("LOADED"), got.stderr
    return got.returncode, "\n".join(lines) + got.stderr, loaded.split()[1:]


@pytest.fixture(scope="module")
def letters_store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A one-file corpus ingested with the real model (the default backend)."""
    from assistant import Assistant

    root = tmp_path_factory.mktemp("letters")
    corpus = letters_corpus(root)
    settings = Settings(corpus_dir=corpus, vectorstore_dir=root / "store")
    Assistant(settings).ingest()
    return settings


@pytest.fixture
def use_store(letters_store: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The letters store as the CLI's settings (through the environment, as a user sets it)."""
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(letters_store.corpus_dir))
    monkeypatch.setenv("ASSISTANT_VECTORSTORE_DIR", str(letters_store.vectorstore_dir))
    return letters_store


def test_help_imports_no_heavy_module() -> None:
    code, out, loaded = run_cli("--help")
    assert code == 0 and "ask" in out and "bench" in out and "eval" in out
    assert loaded == []


def test_a_deferred_command_still_parses_its_own_options() -> None:
    args = cli.parse(["bench", "query", "--runs", "2", "--limit", "5"])
    assert (args.command, args.runs, args.limit) == ("bench", 2, 5)
    with pytest.raises(SystemExit):
        cli.parse(["ask", "a question", "--no-such-option"])


def test_ask_does_not_import_torch_or_sentence_transformers(use_store: Settings) -> None:
    code, out, loaded = run_cli("ask", QUESTION, modules=MODEL_STACK)
    assert code == 0, out
    assert "Krupskaya" in out and "[1]" in out
    assert loaded == []


def test_docs_lists_the_store_documents(
    use_store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["docs"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split()[0] == "letters_1923-1927"
    assert "passages" in line


def test_an_unknown_document_id_names_the_docs_command(
    use_store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ask", QUESTION, "--doc", "no-such-doc"]) == 2
    err = capsys.readouterr().err
    assert "'no-such-doc'" in err and "letters_1923-1927" in err and "assistant docs" in err


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ASSISTANT_EMBEDDING_BACKEND", "cuda", "(choices: torch, onnx, onnx-int8)"),
        ("ASSISTANT_UI_PORT", "seventy", "valid integer"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    name: str,
    value: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, value)
    assert cli.main(["ask", QUESTION]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {name}: ") and repr(value) in line and expected in line
    assert line.count("ASSISTANT_") == 1  # nothing said of the paths that depend on it


def test_settings_problem_leaves_other_errors_alone() -> None:
    assert cli.settings_problem(ValueError("not a settings error")) is None


def test_the_page_answers_once_before_it_says_ready(
    letters_store: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant import Assistant
    from assistant.testing import FakeEmbedder
    from assistant_ui.app import EXAMPLE_QUESTIONS, warm_up

    fake = FakeEmbedder()
    settings = Settings(corpus_dir=letters_store.corpus_dir, vectorstore_dir=tmp_path / "vs")
    assistant = Assistant(settings, embedder=fake)
    assistant.ingest()
    warm_up(assistant)
    assert EXAMPLE_QUESTIONS[0] in fake.queries  # the question model ran
    assert "Loading the model" in capsys.readouterr().out
