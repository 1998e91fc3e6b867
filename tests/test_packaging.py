"""What gets installed: the wheel's packages, declared dependencies, and one-way imports.

The whole non-editable install (a fresh venv, `pip install .`, ingest and ask from an empty
folder) is `.ci/install_check`, run by `make test`.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
FIRST_PARTY = {"assistant", "assistant_ui", "tests", "benchmarks"}
# installed by `make` before everything else (the CPU wheel); see pyproject.toml
UNDECLARED_ON_PURPOSE = {"torch"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(*groups: str) -> set[str]:
    """The distributions named by the core dependencies and the given extras."""
    project = PYPROJECT["project"]
    reqs = list(project["dependencies"])
    for group in groups:
        reqs += project["optional-dependencies"][group]
    return {_normal(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in reqs}


def _imported(folder: Path) -> set[str]:
    """The top-level modules imported anywhere in a folder's code (inside functions too)."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - FIRST_PARTY


@pytest.mark.parametrize(("folder", "groups"), [("assistant", ("llm", "train")), ("ui", ("web",))])
def test_every_direct_import_is_a_declared_dependency(folder: str, groups: tuple[str, ...]) -> None:
    declared = _declared(*groups)
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        module: providers.get(module, ["(not installed)"])
        for module in _imported(PROJECT_ROOT / folder) - UNDECLARED_ON_PURPOSE
        if not {_normal(d) for d in providers.get(module, [])} & declared
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_core_needs_no_web_page_llm_client_or_benchmark_library() -> None:
    core = _declared()
    for name in ("gradio", "langchain-openai", "langchain-ollama", "openai",
                 "langchain-text-splitters", "langchain-chroma", "selenium"):  # fmt: skip
        assert name not in core, name


def test_the_package_imports_no_page_and_no_benchmark() -> None:
    code = (
        "import sys, assistant, assistant.cli\n"
        "assistant.cli.build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'ui', 'assistant_ui', 'gradio', 'benchmarks'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_the_ui_command_without_the_web_extra_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['gradio'] = None  # as if installed without the web extra\n"
        "from assistant import cli\n"
        "sys.exit(cli.main(['ui']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'trotsky-assistant[web]'" in lines[0], out.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from a copy of the source (a build writes build/ beside pyproject)."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, src / name)
    for name in ("assistant", "ui", "models"):
        shutil.copytree(PROJECT_ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(out), str(src)],
                   check=True, timeout=600)  # fmt: skip
    return zipfile.ZipFile(next(out.glob("*.whl")))


def test_the_wheel_ships_the_page_under_the_projects_name(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"assistant", "assistant_ui"}
    assert "assistant_ui/app.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(entry_points).decode()
    assert "[assistant.pages]\nweb = assistant_ui.app:launch" in text
    assert "assistant = assistant.cli:main" in text


def test_the_wheel_ships_the_fine_tuned_model(wheel: zipfile.ZipFile) -> None:
    shipped = {n.removeprefix("assistant/models/") for n in wheel.namelist()
               if n.startswith("assistant/models/")}  # fmt: skip
    in_checkout = {p.relative_to(PROJECT_ROOT / "models").as_posix()
                   for p in (PROJECT_ROOT / "models").rglob("*") if p.is_file()}  # fmt: skip
    assert "minilm-trotsky/model.safetensors" in shipped
    assert shipped == in_checkout
