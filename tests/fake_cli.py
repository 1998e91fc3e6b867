"""The command line with the fake embedder, for tests that run ``assistant`` in a process.

``python -m tests.fake_cli ingest`` is ``assistant ingest`` with every setting read as usual,
only the vectors are :class:`assistant.testing.FakeEmbedder`'s: a process started this way and
an in-process ``Assistant(settings, embedder=FakeEmbedder())`` read and write the same store.
In-process, :func:`fake_main` does the same for one call of :func:`assistant.cli.main`.

``FAKE_EMBED_DELAY`` (seconds per batch of passages) slows the fake down to a model's pace, for
the tests that stop an ingest half-way: without it a small corpus is embedded before they can.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from assistant import Assistant, cli

_real_assistant = cli._assistant


def _fake_assistant(args: argparse.Namespace) -> Any:
    """The CLI's own assistant (its settings, its overrides), with the fake embedder."""
    from assistant.testing import FakeEmbedder  # numpy and the answerer: only when asked

    delay = float(os.environ.get("FAKE_EMBED_DELAY", "0"))

    class Paced(FakeEmbedder):
        def embed_passages(self, passages: Any) -> Any:
            time.sleep(delay)
            return super().embed_passages(passages)

    return Assistant(_real_assistant(args).settings, embedder=Paced() if delay else FakeEmbedder())


def fake_main(argv: list[str]) -> int:
    """``assistant.cli.main(argv)`` with the fake embedder."""
    cli._assistant = _fake_assistant
    try:
        return cli.main(argv)
    finally:
        cli._assistant = _real_assistant


if __name__ == "__main__":
    sys.exit(fake_main(sys.argv[1:]))
