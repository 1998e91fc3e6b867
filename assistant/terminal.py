"""What the ``assistant`` command needs of a terminal: line editing, a progress bar, logging.

``ChatInput`` reads questions with readline (arrow keys, Ctrl-R, history kept between chats);
``IngestBar`` is one bar for a whole ingest (passages, with the file being embedded);
``log_to_terminal`` prints log records as ``warning: ...`` lines that leave the bar intact.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from assistant.ingest import CUTTING, IngestProgress

HISTORY_LENGTH = 1000  # questions kept in the chat history file


class ChatInput:
    """Questions typed at a prompt, with readline's editing and a history file.

    Iterating yields each non-empty question; an empty line, Ctrl-D or Ctrl-C ends it.
    Without readline (not on this platform) the prompt still works, without editing.
    """

    def __init__(self, history_path: Path, prompt: str = "> ") -> None:
        self.history_path = history_path
        self.prompt = prompt
        self.readline: Any = _readline()
        if self.readline is not None:
            self.readline.set_history_length(HISTORY_LENGTH)
            if history_path.exists():
                self.readline.read_history_file(str(history_path))

    def __iter__(self) -> Iterator[str]:
        try:
            while question := self._read():
                yield question
        finally:
            self.save()

    def _read(self) -> str:
        try:
            line = input(self.prompt).strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return ""
        if line and self.readline is not None and not sys.stdin.isatty():
            self.readline.add_history(line)  # at a terminal, input() has added it already
        return line

    def save(self) -> None:
        """Write the history file (its folder is made when missing)."""
        if self.readline is None:
            return
        try:
            self.history_path.parent.mkdir(parents=True, exist_ok=True)
            self.readline.write_history_file(str(self.history_path))
        except OSError as exc:  # a read-only home must not end the chat with a traceback
            logging.getLogger(__name__).warning("chat history not saved: %s", exc)


def _readline() -> Any:
    try:
        import readline  # line editing for input(); absent on some platforms
    except ImportError:
        return None
    return readline


class IngestBar:
    """One progress bar for a whole ingest: passages embedded out of all to embed.

    The rate is passages per second over the run; the file being embedded is shown after it.
    Used as a context manager, so the bar is closed before the summary is printed.
    """

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.cut: Any = None  # the bar of the file being cut, before the embedding starts

    def __call__(self, p: IngestProgress) -> None:
        if self.quiet:
            return
        if p.stage == CUTTING:
            self._cutting(p)
            return
        if self.cut is not None:
            self.cut.close()
            self.cut = None
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=p.total, desc="embedding", unit=" passages", file=sys.stderr,
                smoothing=0.1, dynamic_ncols=True,
            )  # fmt: skip
        self.bar.set_postfix_str(f"file {p.file_number}/{p.files}: {p.file}", refresh=False)
        if p.done == self.bar.n:
            self.bar.refresh()  # a new file, nothing embedded of it yet: show its name
        else:
            self.bar.update(p.done - self.bar.n)

    def _cutting(self, p: IngestProgress) -> None:
        """A file being cut, in characters, on a bar of its own (a large file takes a while)."""
        from tqdm import tqdm

        if self.cut is None or self.cut.desc != f"cutting {p.file}":
            if self.cut is not None:
                self.cut.close()
            self.cut = tqdm(total=p.total, desc=f"cutting {p.file}", unit=" chars",
                            unit_scale=True, file=sys.stderr, leave=False, dynamic_ncols=True)  # fmt: skip
        self.cut.update(p.done - self.cut.n)

    def __enter__(self) -> IngestBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for bar in (self.cut, self.bar):
            if bar is not None:
                bar.close()
        self.cut = self.bar = None


class _TqdmHandler(logging.Handler):
    """Writes records with ``tqdm.write`` so that a running bar is redrawn below them."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def log_to_terminal(verbose: bool) -> None:
    """Log warnings (everything, with ``verbose``) as ``warning: ...`` lines on stderr."""
    handler = _TqdmHandler()
    if verbose:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_LowerLevelFormatter("%(levelname)s: %(message)s"))
    # Without force: a host that configured logging already (pytest, an app) keeps its own.
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


class _LowerLevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace(record.levelname, record.levelname.lower(), 1)
