"""The ``assistant`` command: ingest, retrieve, ask, docs, chat, eval, bench, ui.

What it prints from documents, models or the user is escaped (:mod:`assistant.safe_text`):
control characters and escape sequences show as ``\x1b``, never reach the terminal raw.

Start-up: this module imports only light modules; each command imports what it needs, and the
commands whose options live in heavy modules (eval, train, bench) are parsed in a second step,
so that ``assistant --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
from typing import Any, get_args

from assistant.errors import AssistantError
from assistant.render import format_answer
from assistant.safe_text import UNSAFE_RE, escaped

EXAMPLE_QUESTION = "Why did Trotsky write to Krupskaya in May 1927?"
CHAT_INTRO = (
    "Ask about the documents; follow-up questions keep the conversation. The arrow keys "
    "recall earlier questions; an empty line or Ctrl-D ends the chat."
)


# Commands whose parser lives in a heavy module: (module, function adding the parser, help).
DEFERRED = {
    "eval": ("assistant.evaluation.cli", "add_eval_parser",
             "evaluate retrieval, answers and citations on a question set"),
    "train": ("assistant.training.cli", "add_train_parser",
              "fine-tune the embedding model on the annotated questions (CPU, ~30 min)"),
    "bench": ("assistant.bench", "add_bench_parser",
              "benchmark ingest or query speed against the plain LangChain pipeline"),
}  # fmt: skip


def _assistant(args: argparse.Namespace) -> Any:
    from assistant.api import Assistant
    from assistant.settings import Settings

    overrides = {}
    if getattr(args, "answerer", None):
        overrides["answerer"] = args.answerer
    return Assistant(Settings(**overrides))


def settings_problem(exc: Exception) -> str | None:
    """One line naming the setting (as its environment variable), the value and the choices,
    if ``exc`` is pydantic's rejection of a setting; None for any other exception."""
    from pydantic import ValidationError

    from assistant.settings import Settings

    if not isinstance(exc, ValidationError) or exc.title != Settings.__name__:
        return None
    parts = []
    for err in exc.errors():
        if err["type"] == "default_factory_not_called":  # a path under a bad one: said there
            continue
        name = str(err["loc"][0]) if err["loc"] else ""
        field = Settings.model_fields.get(name)
        choices = get_args(field.annotation) if field is not None else ()
        got = f"{escaped(repr(err.get('input')))}"
        if choices and all(isinstance(c, str) for c in choices):
            part = f"{got} is not one of the choices (choices: {', '.join(choices)})"
        else:
            part = f"{err['msg']}, not {got}"
        parts.append(f"ASSISTANT_{name.upper()}: {part}")
    return "; ".join(parts)


def _doc_ids(a: Any, wanted: list[str] | None) -> list[str] | None:
    """``--doc`` ids, checked against the store's documents before anything else is done (an
    unknown one names them all; a chat says so once, at its start)."""
    from assistant.conversation import validate_doc_ids

    return validate_doc_ids(wanted, a.snapshot().doc_ids) if wanted else None


def cmd_ingest(args: argparse.Namespace) -> int:
    report = _ingest(_assistant(args), args.rebuild, args.quiet)
    return 1 if report.failed else 0


def _ingest(a: Any, rebuild: bool = False, quiet: bool = False) -> Any:
    """Ingest with one progress bar, then each warning once and the summary."""
    from assistant.terminal import IngestBar

    with IngestBar(quiet) as bar:
        report = a.ingest(rebuild=rebuild, progress=bar)
    for w in report.warnings:
        print(f"warning: {escaped(w)}", file=sys.stderr)
    print(escaped(report.summary()))
    return report


def json_text(value: Any) -> str:
    """JSON for the terminal: C1 controls, bidi overrides and lone surrogates escaped as
    ``\\uXXXX`` too (``json`` escapes only C0 controls when it keeps non-ASCII text)."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def cmd_retrieve(args: argparse.Namespace) -> int:
    a = _assistant(args)
    hits = a.retrieve(args.question, k=args.k, doc_ids=_doc_ids(a, args.doc), mode=args.mode)
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
    a = _assistant(args)
    ans = a.ask(args.question, doc_ids=_doc_ids(a, args.doc))
    if args.json:
        print(json_text(ans.to_dict()))
    else:
        print(format_answer(ans, width=_width()))
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """The documents in the store: the ids ``--doc`` takes, their titles and passages."""
    docs = _assistant(args).documents()
    if args.json:
        from dataclasses import asdict

        print(json_text([asdict(d) for d in docs]))
        return 0
    width = max((len(d.id) for d in docs), default=2)
    for d in docs:
        print(f"{escaped(d.id).ljust(width)}  {d.passages:5} passages  {escaped(d.title)}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """A chat in the terminal; a line that cannot be answered (bad bytes, a store error) is
    an error message, and the conversation goes on with its history."""
    from assistant.terminal import ChatInput

    a = _assistant(args)
    doc_ids = _doc_ids(a, args.doc)
    history: list[dict[str, str]] = []
    if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 arrive as surrogates
        sys.stdin.reconfigure(errors="surrogateescape")
    print(CHAT_INTRO)
    for q in ChatInput(a.settings.chat_history_path):
        try:
            ans = a.ask(q, history=history, doc_ids=doc_ids)
        except AssistantError as exc:
            print(f"error: {escaped(str(exc))}")
            continue
        print(format_answer(ans, width=_width()) + "\n")
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": ans.text}]
    return 0


def _width() -> int:
    """The terminal's width for wrapped text (100 when it cannot be told), at most 100."""
    return max(40, min(100, shutil.get_terminal_size((100, 24)).columns - 1))


PAGES_GROUP = "assistant.pages"  # entry points: the web page registers itself here
NO_WEB_PAGE = (
    "the web page is not installed ({why}); install it with "
    "`pip install 'trotsky-assistant[web]'` (in a checkout: `make install`)."
)


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve the page that registered itself (the package ``assistant`` does not import it)."""
    from importlib.metadata import entry_points

    from assistant.offline import quiet

    quiet()  # before gradio and Hugging Face's libraries are imported
    page = next(iter(entry_points(group=PAGES_GROUP, name="web")), None)
    if page is None:
        raise AssistantError(NO_WEB_PAGE.format(why=f"no '{PAGES_GROUP}' entry point"))
    try:
        launch = page.load()
    except ModuleNotFoundError as exc:  # the package was installed without its extra
        raise AssistantError(NO_WEB_PAGE.format(why=f"no module {exc.name!r}")) from None
    launch(host=args.host, port=args.port, insecure_public=args.insecure_public)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """What `make run` does before the page exists: ingest, then answer one question."""
    a = _assistant(args)
    _ingest(a)
    print(f"\nQ: {EXAMPLE_QUESTION}\n")
    print(format_answer(a.ask(EXAMPLE_QUESTION), width=_width()))
    return 0


def build_parser(deferred: str | None = "all") -> argparse.ArgumentParser:
    """The ``assistant`` parser. ``deferred`` names the heavy command whose real parser is
    built ("all": every one); the others get a placeholder that only lists them."""
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
                       description="Prints the answer and its numbered sources: each quote "
                       "verbatim from its file, with its place (characters start-end).")  # fmt: skip
    s.add_argument("question")
    s.add_argument("--doc", action="append", help="answer only from this document id")
    s.add_argument("--json", action="store_true", help="print the Answer as JSON")
    s.add_argument("--answerer", choices=["default", "llm"], help="override the setting")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("docs", help="list the documents in the store (the ids --doc takes)",
                       description="One line per document of the store: its id (what --doc "
                       "takes), its passages and its title.")  # fmt: skip
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_docs)

    _session_commands(sub)
    _deferred_commands(sub, deferred)
    return p


def _session_commands(sub: Any) -> None:
    """chat, ui and run: the commands that keep going (a conversation, a server, a first run)."""
    s = sub.add_parser("chat", help="interactive chat that keeps the conversation's context",
                       description="Ask one question after another; a follow-up ('Did she "
                       "answer him?') is read with the questions before it. Line editing and "
                       "history as in a shell (arrow keys, Ctrl-R); the history is kept in "
                       "the setting chat_history_path. An empty line or Ctrl-D ends it.")  # fmt: skip
    s.add_argument("--doc", action="append", help="answer only from this document id")
    s.add_argument("--answerer", choices=["default", "llm"], help="override the setting")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("ui", help="serve the chat page (127.0.0.1:7860 by default)",
                       description="Bring the store in line with corpus/ (embedding what is "
                       "new), then serve the web page: the chat beside its Sources, a document "
                       "filter, feedback per answer, and the JSON endpoint /answer.")  # fmt: skip
    s.add_argument("--host", default=None, help="address to bind (setting ui_host)")
    s.add_argument("--port", type=int, default=None, help="port (setting ui_port)")
    s.add_argument("--insecure-public", action="store_true",
                   help="serve beyond loopback without ASSISTANT_UI_AUTH (anyone who reaches "
                   "the port can use the page)")  # fmt: skip
    s.set_defaults(func=cmd_ui)

    s = sub.add_parser("run", help="ingest, then answer a sample question",
                       description="What a first run needs: build or update the store from "
                       f"corpus/, then answer “{EXAMPLE_QUESTION}” to show it works.")  # fmt: skip
    s.set_defaults(func=cmd_run)


def _deferred_commands(sub: Any, which: str | None) -> None:
    """eval, train and bench: ``which`` (or "all") with its real parser, the rest as
    placeholders (a command whose module cannot be imported is left out)."""
    for name, (module, adder, help_text) in DEFERRED.items():
        if which in (name, "all"):
            try:
                add = getattr(importlib.import_module(module), adder)
            except ImportError:
                continue
            add(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, parsed with the heavy modules imported only for their own command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(deferred=None)
    args, rest = parser.parse_known_args(argv)
    if args.command in DEFERRED:
        return build_parser(deferred=args.command).parse_args(argv)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # before any heavy import: --help stays fast
    try:
        from assistant.terminal import log_to_terminal

        log_to_terminal(args.verbose)
        return int(args.func(args) or 0)
    except AssistantError as exc:
        print(f"error: {escaped(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:
        if (problem := settings_problem(exc)) is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
