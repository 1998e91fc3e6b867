"""Issue 17, the store's faults: a garbled store or pointer is rebuilt; a folder it cannot
write, a read-only or a full file system each get their own message, never "rebuild"; readers
never see a half-built store; quotes are checked against the files at answer time.

The fake embedder on small corpora in temporary folders; real processes run the CLI with it
(``python -m tests.fake_cli``); a private mount namespace (``unshare -m``) for a read-only or
a full file system, and a root without its capabilities for a folder it does not own (both
skipped where the machine does not allow them).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant import Answer, Assistant, CorruptStoreError, IncompleteStoreError, Passage, Settings
from assistant.generations import POINTER_FILE, Pointers
from assistant.index_cache import PASSAGES_FILE, cache_folder
from assistant.prompts import BUILDING_NOTE, INTERRUPTED_NOTE
from assistant.reply_check import check_reply
from assistant.settings import PROJECT_ROOT
from assistant.store import PassageStore
from tests.conftest import SMALL_DOCS, fake
from tests.helpers import (
    CLI,
    KRUPSKAYA_Q,
    SEDOVA_Q,
    Progress,
    check_citations,
    chunked_ids,
    env_for,
    no_traceback,
    run_cli,
    settings_for,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]

SEDOVA, MCNEAL = SMALL_DOCS


def current_folder(s: Settings) -> Path:
    current = Pointers(s).read().current
    assert current, "no complete generation"
    return s.vectorstore_dir / current


# -- rebuild always recovers -------------------------------------------------------------------
def test_rebuild_recovers_a_store_garbled_in_the_middle(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    fake(s).ingest()
    db = current_folder(s) / "chroma.sqlite3"
    data = bytearray(db.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 65536] = random.Random(17).randbytes(65536)
    db.write_bytes(bytes(data))
    (s.vectorstore_dir / "notes.txt").write_text("not the store's", encoding="utf-8")
    broken = fake(s)
    with pytest.raises(CorruptStoreError, match=r"run `assistant ingest --rebuild`"):
        broken.ask(SEDOVA_Q)  # before: InvalidArgumentError ... Failed to pull logs
    out = run_cli(s, "ingest", "--rebuild", "--quiet")
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    no_traceback(out.stderr)
    ans = fake(s).ask(SEDOVA_Q)
    assert not ans.abstained and ans.notes == []
    check_citations(ans)
    assert (s.vectorstore_dir / "notes.txt").exists()
    assert not db.parent.exists()  # the garbled generation was deleted, not reused


def test_rebuild_recovers_from_a_damaged_pointer_and_a_half_built_generation(
    tmp_path: Path,
) -> None:
    s = settings_for(tmp_path)
    fake(s).ingest()
    (s.vectorstore_dir / "gen-000009").mkdir()  # a build's leftover, never finished
    (s.vectorstore_dir / "gen-000009" / "chroma.sqlite3").write_bytes(b"\x07" * 4096)
    (s.vectorstore_dir / POINTER_FILE).write_text('{"current": "gen-0', encoding="utf-8")
    with pytest.raises(CorruptStoreError, match=r"pointer .* is damaged.*--rebuild"):
        fake(s).ask(SEDOVA_Q)
    report = fake(s).ingest(rebuild=True)
    assert report.rebuilt and report.added == 1 and report.passages > 0
    assert sorted(p.name for p in s.vectorstore_dir.glob("gen-*")) == ["gen-000010"]
    check_citations(fake(s).ask(SEDOVA_Q))


# -- permissions, read-only and full disks: their own messages, never "rebuild" -----------------
def _unprivileged() -> list[str]:
    """A root that no longer bypasses file permissions (setpriv drops its capabilities)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop the capability to bypass permissions")
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]


def _namespace() -> list[str]:
    """A private mount namespace, where a test may mount a tmpfs or a read-only bind."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True)  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not allowed here: {probe.stderr.decode()[:200]}")
    return ["unshare", "-m", "--propagation", "private"]


def test_a_folder_this_user_cannot_write_says_which_and_how(tmp_path: Path) -> None:
    prefix = _unprivileged()
    s = settings_for(tmp_path)
    fake(s).ingest()
    os.chown(s.vectorstore_dir, 65534, 65534)  # nobody's now: root without capabilities is
    for path in s.vectorstore_dir.rglob("*"):  # a stranger to it, may read but not write
        os.chown(path, 65534, 65534, follow_symlinks=False)
    s.vectorstore_dir.chmod(0o755)
    env = env_for(s, ASSISTANT_INDEX_CACHE_DIR=str(tmp_path / "ic"))
    for args in (["ask", SEDOVA_Q], ["ingest", "--quiet"], ["ingest", "--rebuild", "--quiet"]):
        out = subprocess.run([*prefix, *CLI, *args], env=env, cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=600)  # fmt: skip
        assert out.returncode == 2, (args, out.stderr[-2000:])
        no_traceback(out.stderr)
        assert f"the store folder {s.vectorstore_dir} cannot be written" in out.stderr, args
        assert "chown -R" in out.stderr and "chmod -R u+w" in out.stderr
        assert "--rebuild" not in out.stderr  # before: "run `assistant ingest --rebuild`"


def _in_namespace(script: str, tmp_path: Path, s: Settings) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) in a private mount namespace, with $PY, $VS and $CORPUS set."""
    env = env_for(s, PY=sys.executable, VS=str(s.vectorstore_dir), CORPUS=str(s.corpus_dir),
                  ASSISTANT_INDEX_CACHE_DIR=str(tmp_path / "ic"))  # fmt: skip
    return subprocess.run([*_namespace(), "sh", "-c", script], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


def test_a_read_only_file_system_says_remount_not_rebuild(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    fake(s).ingest()
    script = """
    mount --bind "$VS" "$VS" && mount -o remount,bind,ro "$VS" || exit 99
    for args in "ask" "ingest" "ingest --rebuild"; do
        if [ "$args" = ask ]; then "$PY" -m tests.fake_cli ask "Who wrote to friends in 1944?"
        else "$PY" -m tests.fake_cli $args --quiet; fi
        echo "exit=$?" >&2
    done
    """
    out = _in_namespace(script, tmp_path, s)
    assert out.returncode != 99, out.stderr
    no_traceback(out.stderr, out.stdout)
    assert out.stderr.count("exit=2") == 3, out.stderr[-3000:]
    said = f"the store folder {s.vectorstore_dir} is on a read-only file system"
    assert out.stderr.count(said) == 3 and "--rebuild" not in out.stderr


@pytest.mark.parametrize("cli_module", [
    pytest.param("assistant.cli", marks=pytest.mark.real_model, id="real-model"),
    # with the fake embedder's smaller vectors the disk fills inside Chroma's compaction
    # ("InternalError: Error in compaction: Failed to apply logs"), which names no errno
    pytest.param("tests.fake_cli", id="fake-embedder"),
])  # fmt: skip
def test_a_full_disk_says_how_much_to_free_and_answers_from_the_last_store(
    tmp_path: Path, cli_module: str
) -> None:
    s = settings_for(tmp_path, (SEDOVA,))
    shutil.copyfile(PROJECT_ROOT / "corpus" / MCNEAL, tmp_path / MCNEAL)
    # The first store fits in 1.5 MB; the second build copies it and adds a document 3x larger.
    script = f"""
    mkdir -p "$VS" && mount -t tmpfs -o size=1500k tmpfs "$VS" || exit 99
    "$PY" -m {cli_module} ingest --quiet || exit 98
    cp "{tmp_path / MCNEAL}" "$CORPUS/"
    "$PY" -m {cli_module} ingest --quiet; echo "ingest-exit=$?" >&2
    "$PY" -m {cli_module} ask "{SEDOVA_Q}"; echo "ask-exit=$?" >&2
    """
    out = _in_namespace(script, tmp_path, s)
    assert out.returncode not in (98, 99), out.stderr[-3000:]
    no_traceback(out.stderr, out.stdout)
    assert "ingest-exit=2" in out.stderr and "ask-exit=0" in out.stderr, out.stderr[-3000:]
    assert f"the disk holding the store folder {s.vectorstore_dir} is full" in out.stderr
    assert re.search(r"Free at least [\d,]+ [KM]B on that disk", out.stderr)
    # before: answered from the partial store without a word
    assert "Note: The store is incomplete: an ingest stopped after 0 of 2 documents" in out.stdout
    assert "Sedova" in out.stdout or "USSR" in out.stdout


# -- readers never see a half-built store ------------------------------------------------------
def test_questions_during_a_rebuild_come_from_the_last_complete_store(tmp_path: Path) -> None:
    s = settings_for(tmp_path, SMALL_DOCS)
    fake(s).ingest()
    before = current_folder(s)
    env = env_for(
        s, ASSISTANT_WRITE_BATCH_SIZE="4", ASSISTANT_EMBED_BATCH_SIZE="4", FAKE_EMBED_DELAY="0.05"
    )  # 103 passages: about 1.3 s
    proc = subprocess.Popen([*CLI, "ingest", "--rebuild"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    progress = Progress(proc)
    reader = fake(s)
    answers: list[Answer] = []
    errors: list[BaseException] = []
    while proc.poll() is None:
        try:
            answers.append(reader.ask(SEDOVA_Q if len(answers) % 2 else KRUPSKAYA_Q))
        except BaseException as exc:  # before: chromadb InternalError ... Nothing found on disk
            errors.append(exc)
    assert proc.wait() == 0, progress.seen[-2000:]
    assert errors == []
    during = [a for a in answers if a.notes and a.notes[0].startswith(BUILDING_NOTE[:30])]
    assert len(during) >= 2, [a.notes for a in answers]
    for a in answers:
        assert not a.abstained
        check_citations(a)
    after = reader.ask(SEDOVA_Q)
    assert after.notes == [] and current_folder(s) != before and not before.exists()


def _kill_mid_ingest(s: Settings, names: int, after: int = 8) -> str:
    """Start an ingest, SIGKILL it once ``after`` passages of a document are written (more to
    come), return what it printed."""
    env = env_for(
        s, ASSISTANT_WRITE_BATCH_SIZE="4", ASSISTANT_EMBED_BATCH_SIZE="4", FAKE_EMBED_DELAY="0.05"
    )  # 103 passages: about 1.3 s
    proc = subprocess.Popen([*CLI, "ingest"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    progress = Progress(proc)
    deadline = time.monotonic() + 600
    start = None  # passages done, all files together, when document ``names`` began
    while proc.poll() is None and time.monotonic() < deadline:
        done = progress.latest()
        if start is None and done and f"file {names}/" in progress.seen:
            start = done[0]
        if start is not None and done and after <= done[0] - start and done[0] < done[1]:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, progress.seen[-2000:]
    return progress.seen


def test_a_killed_first_build_is_reported_until_an_ingest_resumes_it(tmp_path: Path) -> None:
    s = settings_for(tmp_path, SMALL_DOCS)
    _kill_mid_ingest(s, names=2)
    with pytest.raises(IncompleteStoreError, match=r"stopped after 1 of 2 documents.*ingest"):
        fake(s).ask(SEDOVA_Q)  # before: answered silently from the half-built store
    out = run_cli(s, "ask", SEDOVA_Q)
    assert out.returncode == 2 and b"the store is incomplete" in out.stderr
    no_traceback(out.stderr)
    build = Pointers(s).read().building
    assert build is not None
    partial = PassageStore(s, fake(s).embedder, build.name).state().partial
    assert partial and partial.done >= 8  # batches of the second document were recorded
    report = fake(s).ingest()
    expected = chunked_ids(s)
    stored = sorted(p.id for p in fake(s).store.all_passages())
    assert stored == expected  # nothing missing, nothing twice
    sedova = sum(1 for i in expected if i.startswith("sedova-1944:"))
    assert report.embedded == sedova - partial.done  # resumed from its last recorded batch
    assert Pointers(s).read().building is None
    ans = fake(s).ask(KRUPSKAYA_Q)
    assert ans.notes == [] and not ans.abstained


def test_a_killed_update_answers_from_the_last_complete_store_with_a_note(
    tmp_path: Path,
) -> None:
    s = settings_for(tmp_path, (SEDOVA,))
    fake(s).ingest()
    shutil.copyfile(PROJECT_ROOT / "corpus" / MCNEAL, s.corpus_dir / MCNEAL)
    _kill_mid_ingest(s, names=1)  # McNeal's comes first, by name
    ans = fake(s).ask(SEDOVA_Q)
    assert ans.notes[0] == INTERRUPTED_NOTE.format(progress="0 of 2 documents")
    assert {c.doc_id for c in ans.citations} == {"sedova-1944"}  # nothing of the half-written
    check_citations(ans)
    fake(s).ingest()
    assert fake(s).ask(SEDOVA_Q).notes == []


# -- quotes checked at answer time -------------------------------------------------------------
def test_a_corpus_file_edited_after_ingest_loses_its_citations(tmp_path: Path) -> None:
    s = settings_for(tmp_path, SMALL_DOCS)
    a = fake(s)
    a.ingest()
    first = a.ask(KRUPSKAYA_Q)
    assert any(c.doc_id == "mcneal-krupskaya" for c in first.citations)
    path = s.corpus_dir / MCNEAL
    path.write_text("An editor's preface, added later.\n\n" + path.read_text(encoding="utf-8"),
                    encoding="utf-8")  # fmt: skip
    again = a.ask(KRUPSKAYA_Q)  # the same Assistant: its index still holds the old offsets
    assert not any(c.doc_id == "mcneal-krupskaya" for c in again.citations)
    said = " ".join([again.text, *again.notes])
    assert "The store is stale" in said and MCNEAL in said and "assistant ingest" in said
    check_citations(again)  # what is left is verbatim in the files as they are now


def test_an_edited_index_cache_is_never_quoted_and_is_written_again(shared: Assistant) -> None:
    s = shared.settings
    shared.ask(SEDOVA_Q)  # the cache exists
    (saved,) = [p for p in cache_folder(s).iterdir() if not p.name.startswith(".")]
    lines = (saved / PASSAGES_FILE).read_text(encoding="utf-8").splitlines()
    pid, meta, text = json.loads(lines[0])
    forged = meta["text"][:20] + " and Sedova praised Stalin" + meta["text"][20:]
    lines[0] = json.dumps([pid, {**meta, "text": forged}, text], ensure_ascii=False)
    (saved / PASSAGES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    fresh = fake(s)
    assert all("Sedova praised Stalin" not in p.text for p in fresh.retriever.passages)
    assert "Sedova praised Stalin" not in (saved / PASSAGES_FILE).read_text(encoding="utf-8")
    assert fake(s).retriever.passages == fresh.retriever.passages  # read back, whole


def _excerpt(n: int, text: str) -> Passage:
    return Passage(id=f"d:{n}", doc_id="d", title="A Letter", section="", kind="body",
                   language="en", text=text, source="corpus/d.txt", start=0, end=len(text))  # fmt: skip


def test_an_llm_sentence_sharing_no_word_with_its_excerpt_loses_its_citation() -> None:
    excerpts = {1: _excerpt(1, "Sedova rejected the slogan of the defense of the USSR in 1944."),
                2: _excerpt(2, "Krupskaya received the letter and answered in Pravda.")}  # fmt: skip
    reply = ("Sedova rejected the defense slogan [1]. The moon is made of green cheese [2]. "
             "Krupskaya answered in Pravda [2][1].")  # fmt: skip
    text, citations, notes = check_reply(reply, excerpts, [])
    assert "green cheese" not in text  # before: a made-up claim with a valid [2] passed
    assert text == "Sedova rejected the defense slogan [1]. Krupskaya answered in Pravda [2]."
    assert [c.passage_id for c in citations] == ["d:1", "d:2"]
    assert any(n.startswith("1 sentence(s)") and "shared no word" in n for n in notes)


def test_a_made_up_llm_answer_through_ask_keeps_no_citation(shared: Assistant) -> None:
    llm = fake(
        shared.settings, FakeListChatModel(responses=["Feed the starter rye flour daily [1]."])
    )
    ans = llm.ask("How do I make a sourdough starter?")
    assert "rye flour" not in ans.text and ans.answerer == "default (LLM answer uncited)"
    assert ans.abstained and ans.citations == []
