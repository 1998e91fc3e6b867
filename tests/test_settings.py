"""Settings: misspelt fields are errors, paths follow the data folder, importing changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.embedding import model_path
from assistant.offline import QUIET_ENV, quiet
from assistant.settings import PROJECT_ROOT, Settings

PATH_FIELDS = ("corpus_dir", "vectorstore_dir", "onnx_cache_dir", "feedback_path",
               "chat_history_path")  # fmt: skip


def _without_path_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest points some paths at tmp_path; these tests need the defaults."""
    for name in (*PATH_FIELDS, "home"):
        monkeypatch.delenv(f"ASSISTANT_{name.upper()}", raising=False)


def test_a_misspelt_field_is_an_error_naming_it() -> None:
    with pytest.raises(ValidationError, match="top_kk"):
        Settings(top_kk=3)  # type: ignore[call-arg]


def test_assistant_variables_that_are_not_fields_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_KK", "3")
    monkeypatch.setenv("ASSISTANT_ONNX_CACHE", "/nowhere")
    monkeypatch.setenv("ASSISTANT_TOP_K", "4")
    assert Settings().top_k == 4


def test_paths_default_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_path_overrides(monkeypatch)
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.home == tmp_path
    assert s.corpus_dir == tmp_path / "corpus"
    assert s.vectorstore_dir == tmp_path / "vectorstore"
    assert s.onnx_cache_dir == tmp_path / ".cache" / "onnx"
    assert s.feedback_path == tmp_path / "feedback" / "feedback.jsonl"
    assert s.chat_history_path == tmp_path / ".cache" / "chat_history"


def test_the_data_folder_moves_every_path_but_the_ones_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_path_overrides(monkeypatch)
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "texts"))
    s = Settings()
    assert s.corpus_dir == tmp_path / "texts"
    for name in PATH_FIELDS[1:]:
        assert tmp_path / "data" in getattr(s, name).parents, name
    assert Settings(home=tmp_path).vectorstore_dir == tmp_path / "vectorstore"


def test_the_shipped_model_is_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSISTANT_EMBEDDING_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    folder = model_path(Settings().embedding_model)
    assert folder.name == "minilm-trotsky"
    assert tmp_path not in folder.parents


def test_the_checkout_run_from_its_root_keeps_its_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_path_overrides(monkeypatch)
    monkeypatch.chdir(PROJECT_ROOT)
    assert Settings().corpus_dir == PROJECT_ROOT / "corpus"
    assert Settings().vectorstore_dir == PROJECT_ROOT / "vectorstore"


def _environ_after(code: str, tmp_path: Path) -> dict[str, str]:
    """The variables of QUIET_ENV a fresh interpreter has after running ``code``."""
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENV}
    env["ASSISTANT_VECTORSTORE_DIR"] = str(tmp_path / "vs")
    script = f"import json, os\n{code}\nprint(json.dumps({{k: os.environ.get(k) for k in {list(QUIET_ENV)!r}}}))"
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    return {k: v for k, v in json.loads(out.stdout.splitlines()[-1]).items() if v is not None}


def test_importing_the_package_changes_no_environment_variable(tmp_path: Path) -> None:
    code = "import assistant, assistant.cli, assistant.store, assistant.settings"
    assert _environ_after(code, tmp_path) == {}


def test_making_a_store_client_turns_telemetry_off(tmp_path: Path) -> None:
    code = (
        "from assistant.settings import Settings\n"
        "from assistant.store_client import make_client\n"
        "make_client(Settings()).close()"
    )
    assert _environ_after(code, tmp_path) == QUIET_ENV


def test_quiet_keeps_what_the_user_set() -> None:
    env = {"HF_HUB_OFFLINE": "0"}
    quiet(env)
    assert env == {**QUIET_ENV, "HF_HUB_OFFLINE": "0"}
