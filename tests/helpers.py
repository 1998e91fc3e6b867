"""Helpers shared by the test files of issues 7 and 17 (questions, store, processes, page):
the small documents' questions, settings on a temporary corpus, and readers of a store and of
an ingest's progress."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from assistant import Answer, Assistant, Settings
from assistant.citations import is_verbatim
from assistant.corpus import load_manifest, load_source
from assistant.embedding import token_counts
from assistant.passages import Chunker
from assistant.settings import PROJECT_ROOT
from assistant_ui.page import ChatPage
from tests.conftest import SMALL_DOCS, small_corpus

SEDOVA = SMALL_DOCS[0]
KRUPSKAYA_Q = "Why did Trotsky write to Krupskaya in May 1927?"
SEDOVA_Q = "Why did Natalia Sedova reject the slogan of the defense of the USSR?"
OFF_CORPUS = ("How do I make a sourdough starter?", "What is the boiling point of mercury?")
LETTERS = (
    "In October 1923 Trotsky wrote to the Central Committee about the regime inside the party "
    "and the crisis of the economy, asking for a change of course.\n\n"
    "The letter was followed by the statement of the forty-six, signed by prominent Bolsheviks "
    "who shared his criticism of the secretarial apparatus.\n\n"
    "In May 1927 Trotsky wrote to Krupskaya about the struggle against the opposition, which "
    "Stalin had decided to turn from attrition into annihilation.\n"
)


def letters_corpus(folder: Path) -> Path:
    """``folder``/corpus holding one small made-up document of three paragraphs."""
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "letters_1923-1927.txt").write_text(LETTERS, encoding="utf-8")
    return corpus


def settings_for(tmp_path: Path, names: tuple[str, ...] = (SEDOVA,), **kw: Any) -> Settings:
    return Settings(
        corpus_dir=small_corpus(tmp_path / "corpus", names), vectorstore_dir=tmp_path / "vs", **kw
    )


def snapshot(a: Assistant) -> tuple[int, dict[str, Any]]:
    """The store's count and every passage with its metadata, by id."""
    return a.store.count(), {p.id: p.to_dict() for p in a.store.all_passages()}


def env_for(s: Settings, **extra: str) -> dict[str, str]:
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(s.corpus_dir),
           "ASSISTANT_VECTORSTORE_DIR": str(s.vectorstore_dir), **extra}  # fmt: skip
    env.pop("ASSISTANT_ANSWERER", None)
    return env


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def last_outputs(page: ChatPage, question: str) -> tuple[Any, ...]:
    """What the page shows once it has finished handling ``question`` in a new session."""
    *_, last = page.respond(question, [], None)
    return last


def chunked_ids(s: Settings) -> list[str]:
    """The passage ids a clean build of the corpus holds (parsed and cut, not embedded)."""
    chunker = Chunker(lambda t: token_counts(s.embedding_model, t), s.max_passage_tokens)
    manifest = load_manifest(s.manifest_path)
    return sorted(
        p.id
        for f in sorted(s.corpus_dir.glob("*.txt"))
        for p in chunker.passages(load_source(f, manifest.get(f.name)))
    )


class Progress:
    """Reads an ingest's progress bar from its stderr: the latest ``done/total``."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.seen = ""
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        while chunk := proc.stderr.read1(4096):
            self.seen += chunk.decode("utf-8", "replace")

    def latest(self) -> tuple[int, int] | None:
        found = re.findall(r"(\d+)/(\d+) \[", self.seen)
        return (int(found[-1][0]), int(found[-1][1])) if found else None


def check_citations(ans: Answer) -> None:
    """Markers numbered from 1 in order of first use, each quote verbatim in its file."""
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", ans.text)]
    first_use = list(dict.fromkeys(markers))
    assert first_use == list(range(1, len(first_use) + 1))
    assert [c.n for c in ans.citations] == first_use
    for c in ans.citations:
        assert is_verbatim(c.source, c.start, c.end, c.quote)
        assert c.quote in c.passage_text


CLI = [sys.executable, "-m", "tests.fake_cli"]  # the command line with the fake embedder


def run_cli(s: Settings, *args: str | bytes, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """``assistant <args>`` (the fake embedder) in a new process on ``s``'s folders (bytes
    kept as bytes)."""
    return subprocess.run([*CLI, *args], env=env_for(s), cwd=PROJECT_ROOT, capture_output=True,
                          timeout=600, **kw)  # fmt: skip


def no_traceback(*outputs: bytes | str) -> None:
    for out in outputs:
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else out
        assert "Traceback" not in text, text[-3000:]
