"""Thumbs up or down on an answer, appended as one JSON line to ``settings.feedback_path``.

Appending never rewrites the file, so earlier lines cannot be lost; a file lock (across
processes) serialises writers, so two lines never interleave.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock

from assistant import Answer

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class JsonLines:
    """The records of a JSON-lines file, and how many lines could not be read."""

    records: list[dict[str, Any]]
    skipped: int  # torn (a writer killed mid-line), not JSON, or not an object


def load_jsonl(path: Path) -> JsonLines:
    """Every readable record of a feedback file, counting the lines that are not."""
    if not path.exists():
        return JsonLines([], 0)
    records: list[dict[str, Any]] = []
    skipped = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                skipped += 1
    return JsonLines(records, skipped)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every readable record of a feedback file (empty when the file does not exist); lines
    that cannot be read are skipped, and their count logged."""
    got = load_jsonl(path)
    if got.skipped:
        log.warning("%s: %d unreadable line(s) skipped (torn or not JSON)", path, got.skipped)
    return got.records


def _ends_with_newline(path: Path) -> bool:
    """Whether the file is empty or its last byte is a newline."""
    with path.open("rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
