"""The ``assistant`` command: ingest, retrieve, ask, chat, eval, bench, ui.

What it prints from documents, models or the user is escaped (:mod:`assistant.safe_text`):
control characters and escape sequences show as ``\x1b``, never reach the terminal raw.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from assistant.errors import AssistantError
from assistant.safe_text import UNSAFE_RE, escaped

EXAMPLE_QUESTION = "Why did Trotsky write to Krupskaya in May 1927?"


def _assistant(args: argparse.Namespace) -> Any:
    from assistant.api import Assistant
    from assistant.settings import Settings

    overrides = {}
    if getattr(args, "answerer", None):
        overrides["answerer"] = args.answerer
    return Assistant(Settings(**overrides))


def _progress_bar() -> Callable[[int, int, str], None]:
    """One bar per file and stage: characters while it is cut, passages while it is embedded."""
    from tqdm import tqdm

    from assistant.ingest import CUTTING

    bars: dict[str, Any] = {}

    def update(done: int, total: int, what: str) -> None:
        bar = bars.get(what)
        if bar is None:
            for old in bars.values():
                old.close()
            unit = "char" if what.startswith(CUTTING) else "passage"
            bar = bars[what] = tqdm(total=total, desc=escaped(what), unit=unit, file=sys.stderr,
                                    unit_scale=unit == "char")  # fmt: skip
        bar.update(done - bar.n)

    return update


def cmd_ingest(args: argparse.Namespace) -> int:
    a = _assistant(args)
    report = a.ingest(rebuild=args.rebuild, progress=None if args.quiet else _progress_bar())
    for w in report.warnings:
        print(f"warning: {escaped(w)}", file=sys.stderr)
    print(escaped(report.summary()))
    return 1 if report.failed else 0


def json_text(value: Any) -> str:
    """JSON for the terminal: C1 controls, bidi overrides and lone surrogates escaped as
    ``\\uXXXX`` too (``json`` escapes only C0 controls when it keeps non-ASCII text)."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def cmd_retrieve(args: argparse.Namespace) -> int:
    a = _assistant(args)
    hits = a.retrieve(args.question, k=args.k, doc_ids=args.doc or None, mode=args.mode)
    if args.json:
        print(
            json_text([{k: v for k, v in h.to_dict().items() if k != "embed_text"} for h in hits])
        )
        return 0
    for i, h in enumerate(hits, 1):
        where = escaped(f"{h.title} — {h.section or '(no section)'}")
        print(f"{i:2}. [{h.score:.3f}] {where} ({h.kind})")
        print(f"    {escaped(h.source)}:{h.start}-{h.end}")
        print("    " + escaped(" ".join(h.text.split())[:300]))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.render import format_answer

    a = _assistant(args)
    ans = a.ask(args.question, doc_ids=args.doc or None)
    print(json_text(ans.to_dict()) if args.json else format_answer(ans))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """A chat in the terminal; a line that cannot be answered (bad bytes, a store error) is
    an error message, and the conversation goes on with its history."""
    from assistant.render import format_answer

    a = _assistant(args)
    history: list[dict[str, str]] = []
    if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 arrive as surrogates
        sys.stdin.reconfigure(errors="surrogateescape")
    print("Ask about the documents; an empty line or Ctrl-D ends the chat.")
    while True:
        try:
            q = input("> ").strip()
        except EOFError:
            return 0
        if not q:
            return 0
        try:
            ans = a.ask(q, history=history, doc_ids=args.doc or None)
        except AssistantError as exc:
            print(f"error: {escaped(str(exc))}")
            continue
        print(format_answer(ans))
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": ans.text}]


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import launch

    launch(host=args.host, port=args.port, insecure_public=args.insecure_public)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """What `make run` does before the page exists: ingest, then answer one question."""
    a = _assistant(args)
    print(escaped(a.ingest(progress=_progress_bar()).summary()))
    from assistant.render import format_answer

    print(f"\nQ: {EXAMPLE_QUESTION}\n")
    print(format_answer(a.ask(EXAMPLE_QUESTION)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="assistant",
        description="Answers questions about the corpus (Trotsky, the Left Opposition, 1923-1927) "
        "from the documents only, citing a verbatim excerpt for every claim.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("ingest", help="build or update the vector store from corpus/",
                       description="Parse corpus/ into passages, embed them and store them. "
                       "Unchanged files are skipped; changed ones replaced; deleted ones removed.")  # fmt: skip
    s.add_argument("--rebuild", action="store_true", help="drop the store and build it anew")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("retrieve", help="show the passages found for a question",
                       description="Hybrid (dense + BM25) search; prints passages best first.")  # fmt: skip
    s.add_argument("question")
    s.add_argument("-k", type=int, default=10, help="how many passages (default 10)")
    s.add_argument("--doc", action="append", help="search only this document id (repeatable)")
    s.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_retrieve)

    s = sub.add_parser("ask", help="answer a question with cited excerpts",
                       description="Prints the answer and its numbered sources.")  # fmt: skip
    s.add_argument("question")
    s.add_argument("--doc", action="append", help="answer only from this document id")
    s.add_argument("--json", action="store_true", help="print the Answer as JSON")
    s.add_argument("--answerer", choices=["default", "llm"], help="override the setting")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", help="interactive chat that keeps the conversation's context")
    s.add_argument("--doc", action="append", help="answer only from this document id")
    s.add_argument("--answerer", choices=["default", "llm"], help="override the setting")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("ui", help="serve the chat page (127.0.0.1:7860 by default)")
    s.add_argument("--host", default=None, help="address to bind (setting ui_host)")
    s.add_argument("--port", type=int, default=None, help="port (setting ui_port)")
    s.add_argument("--insecure-public", action="store_true",
                   help="serve beyond loopback without ASSISTANT_UI_AUTH (anyone who reaches "
                   "the port can use the page)")  # fmt: skip
    s.set_defaults(func=cmd_ui)

    s = sub.add_parser("run", help="ingest, then answer a sample question")
    s.set_defaults(func=cmd_run)

    _optional_commands(sub)
    return p


def _optional_commands(sub: Any) -> None:
    try:
        from assistant.evaluation.cli import add_eval_parser
    except ImportError:
        pass
    else:
        add_eval_parser(sub)
    from assistant.training.cli import add_train_parser

    add_train_parser(sub)
    try:
        from assistant.bench import add_bench_parser
    except ImportError:
        pass
    else:
        add_bench_parser(sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except AssistantError as exc:
        print(f"error: {escaped(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
