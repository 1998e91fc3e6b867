"""The benchmarks run end to end on a tiny corpus and print their tables (no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.bench import add_bench_parser
from benchmarks import all_bench, ingest_bench, plain_pipeline, query_bench, scale_bench
from benchmarks.common import format_table, percentile
from tests.helpers import letters_corpus


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return letters_corpus(tmp_path)


def test_table_has_a_ratio_per_row_and_a_dash_when_plain_has_none() -> None:
    table = format_table([("full ingest (s)", 2.0, 4.0), ("new process (s)", 1.5, None)])
    lines = table.splitlines()
    assert len(lines) == 4
    assert lines[2].endswith("0.50x")
    assert lines[3].rstrip().endswith("—")


def test_percentile_interpolates_between_samples() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    assert percentile([7.0], 95) == 7.0


def test_bench_parser_sets_an_int_returning_func() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_bench_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "query", "--runs", "2", "--limit", "5"])
    assert (args.runs, args.limit) == (2, 5)
    assert callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "ingest", "--runs", "0"])
    args = parser.parse_args(["bench", "scale", "--real", "0.3", "--sim", "2"])
    assert (args.real, args.sim, args.limit) == (0.3, 2.0, 40)
    assert parser.parse_args(["bench", "all"]).runs == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "scale", "--sim", "-1"])


def test_bench_outside_a_checkout_says_where_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "query", "--runs", "1"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "not inside one" in line and "cd into the checkout" in line


def test_the_package_does_not_import_benchmarks() -> None:
    package = Path(__file__).resolve().parents[1] / "assistant"
    for source in package.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert "import benchmarks" not in text and "from benchmarks" not in text, source
        assert "sys.path.insert" not in text, source


@pytest.mark.slow
def test_plain_pipeline_writes_and_rerun_duplicates(tiny_corpus: Path, tmp_path: Path) -> None:
    from assistant.embedding import Embedder
    from assistant.settings import Settings

    embedding = Embedder(Settings())
    vs, chunks = plain_pipeline.build(tiny_corpus, tmp_path / "plain", embedding)
    assert chunks and plain_pipeline.count(vs) == len(chunks)
    assert vs.similarity_search("Krupskaya", k=1)
    vs, _ = plain_pipeline.build(tiny_corpus, tmp_path / "plain", embedding)
    assert plain_pipeline.count(vs) == 2 * len(chunks)


@pytest.mark.slow
def test_ingest_bench_gives_positive_figures_and_prints(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ingest_bench.main(tiny_corpus, runs=1, out_dir=tmp_path / "results") == 0
    out = capsys.readouterr().out
    assert "full ingest (s)" in out and "ratio (ours/plain)" in out
    record = json.loads(next((tmp_path / "results").glob("ingest-*.json")).read_text())
    for side in ("ours", "plain"):
        figures = record["median"][side]
        for key in ("ingest_s", "reingest_s", "peak_rss_mib", "passages", "limit_words_per_s"):
            assert figures[key] > 0, (side, key)
    assert (
        record["median"]["ours"]["passages_after_reingest"] == record["median"]["ours"]["passages"]
    )
    assert record["median"]["ours"]["reingest_new_process_s"] > 0


@pytest.mark.slow
def test_query_bench_gives_positive_figures_and_prints(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "questions.jsonl"
    items = [
        {"question": "Why did Trotsky write to Krupskaya?", "history": [], "answerable": True},
        {"question": "And who signed it?", "history": ["What did Trotsky write in 1923?"]},
        {"question": "What did the forty-six criticise?", "history": [], "answerable": True},
    ]
    questions.write_text("\n".join(json.dumps(it) for it in items), encoding="utf-8")
    assert query_bench.main(tiny_corpus, questions, runs=1, limit=5, out_dir=tmp_path / "r") == 0
    out = capsys.readouterr().out
    assert "ask, warm p50 (ms)" in out and "cold start" in out
    record = json.loads(next((tmp_path / "r").glob("query-*.json")).read_text())
    assert record["n_questions"] == 2  # the follow-up with a history is skipped
    assert all(v > 0 for v in record["summary"].values())


def _questions(path: Path) -> Path:
    items = [
        {"question": "Why did Trotsky write to Krupskaya?", "history": [], "answerable": True},
        {"question": "What did the forty-six criticise?", "history": [], "answerable": True},
    ]
    path.write_text("\n".join(json.dumps(it) for it in items), encoding="utf-8")
    return path


@pytest.mark.slow
def test_all_bench_prints_one_table_with_the_limit(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = _questions(tmp_path / "q.jsonl")
    assert all_bench.main(tiny_corpus, questions, runs=1, limit=5, out_dir=tmp_path / "r") == 0
    out = capsys.readouterr().out
    for row in ("full ingest corpus words/s", "peak RSS, ingest process", "ask, warm p95 (ms)",
                "cold start to first answer (s)", "embedding limit on this machine"):  # fmt: skip
        assert row in out
    record = json.loads(next((tmp_path / "r").glob("all-*.json")).read_text())
    assert record["ingest"]["median"]["ours"]["limit_words_per_s"] > 0
    assert record["query"]["summary"]["ask_p95_ms"] > 0


@pytest.mark.slow
def test_scale_bench_runs_real_and_simulated(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = _questions(tmp_path / "q.jsonl")
    assert scale_bench.main(tiny_corpus, questions, 2, 3, limit=2, out_dir=tmp_path / "r") == 0
    out = capsys.readouterr().out
    assert "ratio (2x/1x)" in out and "3x simulated" in out and "projected real ingest" in out
    record = json.loads(next((tmp_path / "r").glob("scale-*.json")).read_text())
    assert record["ingest_real"]["passages"] == 2 * record["ingest_1x"]["passages"]
    assert record["serve_sim"]["passages"] == 3 * record["serve_1x"]["passages"]
    assert record["ingest_sim"]["failed"] == []
