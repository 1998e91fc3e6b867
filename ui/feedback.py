"""Thumbs up or down on an answer, appended as one JSON line to ``settings.feedback_path``.

Appending never rewrites the file, so earlier lines cannot be lost; a file lock (across
processes) serialises writers, so two lines never interleave.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock

from assistant import Answer

Verdict = Literal["up", "down"]
VERDICTS: tuple[Verdict, ...] = ("up", "down")
# The whole passages are left out: the offsets find them again in the corpus file.
_CITATION_FIELDS = ("n", "title", "author", "date", "section", "kind", "source", "start", "end",
                    "quote")  # fmt: skip


def feedback_record(
    verdict: Verdict,
    question: str,
    history: list[dict[str, str]],
    answer: Answer,
    comment: str = "",
) -> dict[str, Any]:
    """The JSON object stored for one verdict on one answer."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "verdict": verdict,
        "comment": comment.strip(),
        "question": question,
        "history": history,
        "answer": answer.text,
        "abstained": answer.abstained,
        "answerer": answer.answerer,
        "citations": [{k: getattr(c, k) for k in _CITATION_FIELDS} for c in answer.citations],
    }


def append_jsonl(path: Path, record: dict[str, Any], timeout: float = 30.0) -> None:
    """Append one JSON line to ``path`` (created with its folder), holding ``path.lock``.

    Raises:
        filelock.Timeout: another writer held the lock for ``timeout`` seconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with FileLock(str(path) + ".lock", timeout=timeout), path.open("a", encoding="utf-8") as f:
        if not _ends_with_newline(path):
            line = "\n" + line  # a torn last line stays a line of its own
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a feedback file (empty when the file does not exist)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _ends_with_newline(path: Path) -> bool:
    """Whether the file is empty or its last byte is a newline."""
    with path.open("rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
