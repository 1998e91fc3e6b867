"""``assistant bench all``: the ingest and the query benchmark in one session, one table.

Runs :mod:`benchmarks.ingest_bench` and then :mod:`benchmarks.query_bench` on the same corpus,
picks the rows the issue asks for from each, and adds the embedding limit measured here (words
per second of the bare model on this CPU). Both records are written together as one JSON file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmarks import ingest_bench, plain_pipeline, query_bench
from benchmarks.common import Row, bench_args, format_table, machine, write_results

# The ingest benchmark's rows shown here, under the name they get in the combined table.
INGEST_ROWS = {
    "full ingest (s)": "full ingest (s)",
    "passages (chunks)": "passages (chunks)",
    "passages/s": "full ingest passages/s",
    "corpus words/s": "full ingest corpus words/s",
    "unchanged re-ingest, same process (s)": "unchanged re-ingest, same process (s)",
    "unchanged re-ingest, new process (s)": "unchanged re-ingest, new process (s)",
    "peak RSS (MiB)": "peak RSS, ingest process (MiB)",
}


def rows(ingest: dict[str, Any], query: dict[str, Any]) -> list[Row]:
    """The combined table: ingest figures (medians of the runs), then the query figures."""
    by_name = {r[0]: r for r in ingest_bench.rows(ingest["median"], ingest["corpus_words"])}
    picked = [(INGEST_ROWS[name], *by_name[name][1:]) for name in INGEST_ROWS]
    return picked + query_bench.rows(query["summary"])


def embedding_limit_line(ingest: dict[str, Any]) -> str:
    """The bare model's words per second here, and how close our full ingest comes to it."""
    o, p = ingest["median"]["ours"], ingest["median"]["plain"]
    here = machine()
    share = (o["embedded_words"] / o["ingest_s"]) / o["limit_words_per_s"]
    return (
        f"embedding limit on this machine ({here['cpus']} cores, "
        f"{here.get('torch_threads', '?')} torch threads): the bare model embeds "
        f"{o['limit_words_per_s']:,.0f} words/s of our passages ({here['embedding_backend']}) "
        f"and {p['limit_words_per_s']:,.0f} of the plain chunks ({plain_pipeline.PLAIN_BACKEND}); "
        f"our full ingest embeds {share:.0%} of its rate"
    )


def main(corpus: Path, questions: Path, runs: int, limit: int, out_dir: Path | None = None) -> int:
    """Both benchmarks, one table, the targets and the limit line; returns the exit code."""

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    ingest = ingest_bench.run(corpus, runs, log=log)
    query = query_bench.run(corpus, questions, runs, limit, log=log)
    print(f"ingest and query benchmarks: {corpus} ({ingest['corpus_words']:,} words); medians "
          f"of {runs} run(s); {query['n_questions']} questions from {questions}, warm")  # fmt: skip
    print(format_table(rows(ingest, query), "ours", "plain LangChain"))
    print()
    print(embedding_limit_line(ingest))
    for line in [*ingest_bench.verdicts(ingest["median"]), query_bench.verdict(query["summary"])]:
        print(line)
    kwargs = {"out_dir": out_dir} if out_dir else {}
    print(f"results: {write_results('all', {'ingest': ingest, 'query': query}, **kwargs)}")
    return 0


if __name__ == "__main__":
    a = bench_args(sys.argv[1:], __doc__)
    sys.exit(main(a.corpus, a.questions, a.runs, a.limit, a.out))
