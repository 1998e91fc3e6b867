"""Issue 7, cases 9-12: a store survives its processes: reopened elsewhere, an ingest killed
mid-batch, a damaged store, a second writer. Real processes run the CLI with the fake
embedder (``python -m tests.fake_cli``)."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant, CorruptStoreError, StoreLockedError
from assistant.ingest import writer_lock
from assistant.settings import PROJECT_ROOT
from assistant_ui.app import sync_store
from assistant_ui.page import ChatPage
from tests.conftest import SMALL_DOCS, fake
from tests.fake_cli import fake_main
from tests.helpers import (
    KRUPSKAYA_Q,
    SEDOVA_Q,
    Progress,
    check_citations,
    chunked_ids,
    digest,
    env_for,
    last_outputs,
    settings_for,
    snapshot,
)

pytestmark = [
    # gradio's own queue statistics use pandas options that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]


REOPEN = """
import json, sys
from assistant import Assistant
from assistant.testing import FakeEmbedder
a = Assistant(embedder=FakeEmbedder())
ans = a.ask(sys.argv[1])
print(json.dumps({"count": a.store.count(),
                  "passages": {p.id: p.to_dict() for p in a.store.all_passages()},
                  "answer": ans.to_dict()}))
"""


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without its float scores (a float may differ in its last bit elsewhere)."""
    cites = [{k: v for k, v in c.items() if k != "score"} for c in answer["citations"]]
    see_also = [p["id"] for p in answer["see_also"]]
    return {**answer, "citations": cites, "see_also": see_also}


def test_case_09_a_store_reopened_in_a_new_process_is_the_same(shared: Assistant) -> None:
    out = subprocess.run(
        [sys.executable, "-c", REOPEN, KRUPSKAYA_Q], env=env_for(shared.settings),
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    there = json.loads(out.stdout.strip().splitlines()[-1])
    count, passages = snapshot(shared)
    assert there["count"] == count
    assert there["passages"] == json.loads(json.dumps(passages))  # ids and metadata
    here = json.loads(json.dumps(shared.ask(KRUPSKAYA_Q).to_dict()))
    assert comparable(there["answer"]) == comparable(here)


def test_case_10_an_ingest_killed_mid_batch_is_finished_by_the_next_run(tmp_path: Path) -> None:
    s = settings_for(tmp_path, SMALL_DOCS)
    env = env_for(
        s, ASSISTANT_WRITE_BATCH_SIZE="8", ASSISTANT_EMBED_BATCH_SIZE="4", FAKE_EMBED_DELAY="0.05"
    )  # 103 passages: about 1.3 s
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_cli", "ingest"], env=env,
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    progress = Progress(proc)
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        done = progress.latest()
        if done and 16 <= done[0] < done[1]:  # two batches of a document written, more to come
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, progress.seen[-2000:]
    assert (s.vectorstore_dir / ".ingest.lock").exists()
    with writer_lock(s):  # the dead writer's flock went with it
        pass
    a = fake(s)  # the stopped build is a generation of its own, never read (test_store_faults.py)
    report = a.ingest()
    expected = chunked_ids(s)
    assert sorted(p.id for p in a.store.all_passages()) == expected  # no duplicate, no orphan
    assert report.passages == a.store.count() == len(expected)
    assert a.ingest().unchanged == 2


GARBAGE_SEGMENT = "0f1e2d3c-4b5a-4968-8776-8594a3b2c1d0"


def test_case_11_a_damaged_store_says_rebuild_and_rebuild_works(
    tmp_path: Path, shared: Assistant, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    s = settings_for(tmp_path)
    corpus_before = digest(s.corpus_dir)
    (s.vectorstore_dir / GARBAGE_SEGMENT).mkdir(parents=True)
    (s.vectorstore_dir / "chroma.sqlite3").write_bytes(hashlib.sha512(b"x").digest() * 200)
    (s.vectorstore_dir / GARBAGE_SEGMENT / "header.bin").write_bytes(b"\x07" * 64)
    (s.vectorstore_dir / "notes.txt").write_text("not the store's", encoding="utf-8")
    truncated = tmp_path / "truncated"
    shutil.copytree(shared.settings.vectorstore_dir, truncated)
    for db in truncated.rglob("chroma.sqlite3"):  # in the current generation's folder
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    for vs in (s.vectorstore_dir, truncated):
        a = fake(s.model_copy(update={"vectorstore_dir": vs}))
        for call in (partial(a.ask, SEDOVA_Q), partial(a.retrieve, SEDOVA_Q), a.ingest):
            with pytest.raises(CorruptStoreError, match=r"run `assistant ingest --rebuild`"):
                call()
        chat, _, notice, _, _ = last_outputs(ChatPage(a), SEDOVA_Q)
        assert chat == [] and "assistant ingest --rebuild" in notice  # no partial answer
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(s.corpus_dir))
    monkeypatch.setenv("ASSISTANT_VECTORSTORE_DIR", str(s.vectorstore_dir))
    assert fake_main(["ingest", "--quiet"]) == 2
    assert "--rebuild" in capsys.readouterr().err
    assert fake_main(["ingest", "--rebuild", "--quiet"]) == 0
    assert (s.vectorstore_dir / "notes.txt").exists()  # only Chroma's own files were deleted
    ans = fake(s).ask(SEDOVA_Q)
    assert not ans.abstained
    check_citations(ans)
    assert digest(s.corpus_dir) == corpus_before


HOLD_LOCK = """
import sys
from assistant.ingest import writer_lock
from assistant.settings import Settings
with writer_lock(Settings()):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_case_12_a_second_writer_fails_fast_and_changes_nothing(
    shared: Assistant, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s = shared.settings
    before = snapshot(shared)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], env=env_for(s), cwd=PROJECT_ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        outcome: list[BaseException] = []

        def second_writer() -> None:
            try:
                fake(s).ingest(rebuild=True)  # would empty the store, were it allowed to
            except BaseException as exc:
                outcome.append(exc)

        t = threading.Thread(target=second_writer)
        t.start()
        t.join(timeout=120)
        assert not t.is_alive()  # no hang
        assert len(outcome) == 1 and isinstance(outcome[0], StoreLockedError)
        assert "another ingest is writing" in str(outcome[0])
        monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(s.corpus_dir))
        monkeypatch.setenv("ASSISTANT_VECTORSTORE_DIR", str(s.vectorstore_dir))
        assert fake_main(["ingest", "--quiet"]) == 2
        assert "another ingest is writing" in capsys.readouterr().err
        assert "Another ingest is writing" in sync_store(fake(s))  # the page serves on
    finally:
        if holder.stdin:
            holder.stdin.close()
        holder.wait(timeout=60)
    assert snapshot(shared) == before
    assert shared.ingest().unchanged == 2  # the lock is free again
