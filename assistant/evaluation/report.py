"""Write a finished evaluation run as ``report.json``, ``report.md``, ``report.html`` and a chart.

The HTML page is self-contained (the chart is embedded) and every text in it goes through
``html.escape``: questions, answers and quotes come from documents, not from us.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

from assistant.evaluation.runner import EvalRun, QuestionResult

Getter = Callable[[dict[str, Any], str], Any]
MODE_LABELS = {"dense": "dense", "lexical": "BM25", "hybrid": "hybrid"}
RANKING = ("hit@1", "hit@4", "hit@10", "mrr@10", "ndcg@10")
RANKING_LABELS = {"mrr@10": "MRR@10", "ndcg@10": "nDCG@10"}
PASS_MARKS = {True: "pass", False: "FAIL", None: "–"}


def _retrieval(name: str) -> Getter:
    return lambda block, mode: block["retrieval"].get(mode, {}).get(name)


def _field(name: str) -> Getter:
    return lambda block, _mode: block[name]


# (label, value of a summary block given the primary retrieval mode, format)
ROWS: tuple[tuple[str, Getter, str], ...] = (
    ("questions", _field("questions"), "int"),
    *((f"retrieval {RANKING_LABELS.get(n, n)}", _retrieval(n), "score") for n in RANKING),
    ("key-fact recall", _field("key_fact_recall"), "score"),
    ("answer length (words)", _field("answer_words"), "float"),
    ("citation validity", _field("citation_validity"), "score"),
    ("citation support", _field("support"), "score"),
    ("abstention on unanswerable", _field("abstention_rate"), "score"),
    ("false abstention on answerable", _field("false_abstention_rate"), "score"),
    ("latency p50 (s)", _field("latency_p50"), "float"),
    ("latency p95 (s)", _field("latency_p95"), "float"),
    ("errors", _field("errors"), "int"),
)
CHART = (
    ("hit@10", _retrieval("hit@10")),
    ("MRR@10", _retrieval("mrr@10")),
    ("nDCG@10", _retrieval("ndcg@10")),
    ("key-fact recall", _field("key_fact_recall")),
    ("citation validity", _field("citation_validity")),
    ("support", _field("support")),
)


def write_report(run: EvalRun, out: Path) -> list[Path]:
    """Write the report files into ``out`` (created if needed) and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    summary = run.summary()
    paths = [out / "report.json", out / "report.md", out / "report.html", out / "scores.png"]
    data = json.dumps(report_data(run, summary), indent=2, ensure_ascii=False)
    paths[0].write_text(data + "\n", encoding="utf-8")
    paths[1].write_text(markdown(run, summary), encoding="utf-8")
    write_chart(summary, run.primary_mode, paths[3])
    paths[2].write_text(html_page(run, summary, paths[3].read_bytes()), encoding="utf-8")
    return paths


def fmt(value: Any, kind: str = "score") -> str:
    """A metric for a table: an integer, a number, or a dash when it does not apply."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "int":
        return str(int(value))
    if kind == "float" and value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def report_data(run: EvalRun, summary: dict[str, Any]) -> dict[str, Any]:
    """The JSON report: run info, summary (overall, per type, per mode) and every question."""
    return {
        "questions_path": run.questions_path,
        "answerer": run.answerer,
        "modes": list(run.modes),
        "seconds": round(run.seconds, 2),
        "line_errors": list(run.errors),
        "summary": summary,
        "questions": [question_data(r, run.primary_mode) for r in run.results],
    }


def question_data(r: QuestionResult, mode: str) -> dict[str, Any]:
    """One question's record in the JSON report."""
    q = r.question
    return {
        "id": q.id,
        "where": q.where,
        "type": q.type,
        "answerable": q.answerable,
        "question": q.question,
        "history": list(q.history),
        "reference": q.reference,
        "answer": r.answer_text,
        "abstained": r.abstained,
        "citations": [
            {k: getattr(c, k) for k in ("n", "source", "start", "end", "quote")}
            for c in r.citations
        ],
        "latency": r.latency,
        "retrieval": {m: asdict(s) for m, s in r.retrieval.items()},
        "key_fact_recall": r.recall,
        "answer_words": r.words,
        "citation_problems": list(r.citation_problems),
        "supported": r.supported,
        "passes": r.passes(mode),
        "error": r.error,
    }


def summary_rows(summary: dict[str, Any], mode: str) -> tuple[list[str], list[list[str]]]:
    """The summary as a table: a header (overall, then each type) and one row per metric."""
    blocks = {"overall": summary["overall"], **summary["by_type"]}
    header = ["metric", *blocks]
    rows = [
        [label, *(fmt(get(block, mode), kind) for block in blocks.values())]
        for label, get, kind in ROWS
    ]
    return header, rows


def compare_rows(
    summary: dict[str, Any], modes: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """Retrieval modes side by side, overall and per type."""
    blocks = {"overall": summary["overall"], **summary["by_type"]}
    header = ["questions", "retrieval", *(RANKING_LABELS.get(n, n) for n in RANKING)]
    rows = [
        [group, MODE_LABELS.get(mode, mode), *(fmt(block["retrieval"][mode][m]) for m in RANKING)]
        for group, block in blocks.items()
        for mode in modes
        if block["retrieval"][mode]["n"]  # a group without evidence has nothing to rank
    ]
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(run: EvalRun, summary: dict[str, Any]) -> str:
    """The Markdown report: run info, summary table, mode comparison, failures."""
    parts = [
        "# Evaluation report",
        f"Questions: `{run.questions_path}`; answerer: {run.answerer}; retrieval scored in "
        f"{', '.join(MODE_LABELS.get(m, m) for m in run.modes)}; {run.seconds:.1f} s.",
        f"## Scores ({MODE_LABELS.get(run.primary_mode, run.primary_mode)} retrieval)",
        _md_table(*summary_rows(summary, run.primary_mode)),
    ]
    if len(run.modes) > 1:
        parts += ["## Retrieval modes compared", _md_table(*compare_rows(summary, run.modes))]
    failing = [r for r in run.results if False in r.passes(run.primary_mode).values()]
    if failing:
        parts += ["## Questions failing a metric", _md_table(*_failing_rows(failing, run))]
    if run.errors:
        parts += ["## Malformed lines", "\n".join(f"- {e}" for e in run.errors)]
    return "\n\n".join(parts) + "\n"


def _failing_rows(results: list[QuestionResult], run: EvalRun) -> tuple[list[str], list[list[str]]]:
    rows = []
    for r in results:
        failed = [name for name, ok in r.passes(run.primary_mode).items() if ok is False]
        rows.append([r.question.id, r.question.type, ", ".join(failed), r.error or ""])
    return ["id", "type", "failed", "error"], rows


def write_chart(summary: dict[str, Any], mode: str, path: Path) -> None:
    """A grouped bar chart of the main scores, overall and per question type, as a PNG."""
    blocks = {"overall": summary["overall"], **summary["by_type"]}
    # matplotlib is imported here, not at module level: every `assistant` command loads
    # this module to register `eval`, and only a report needs the chart.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(7.0, 1.6 * len(blocks) + 3.5), 4.0))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    width = 0.8 / len(CHART)
    for i, (label, get) in enumerate(CHART):
        values = [_number(get(block, mode)) for block in blocks.values()]
        xs = [x + (i - (len(CHART) - 1) / 2) * width for x in range(len(blocks))]
        ax.bar(xs, values, width, label=label)
    ax.set_xticks(
        range(len(blocks)), [f"{name}\n(n={b['questions']})" for name, b in blocks.items()]
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(f"Scores per question type ({MODE_LABELS.get(mode, mode)} retrieval)")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pass { background: #e6f4ea; } td.FAIL { background: #fce8e6; } td.na { color: #999; }
.answer { max-width: 40em; white-space: pre-wrap; } .quote { color: #555; font-size: 0.9em; }
.history { color: #666; font-size: 0.9em; } .error { color: #b00020; }
"""


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr><td>"
        + escape(row[0])
        + "</td>"
        + "".join(f'<td class="num">{escape(cell)}</td>' for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(run: EvalRun, summary: dict[str, Any], chart_png: bytes) -> str:
    """The HTML report: summary, mode comparison, chart and the per-question table."""
    mode = run.primary_mode
    chart = base64.b64encode(chart_png).decode("ascii")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Evaluation report</title>",
        f"<style>{STYLE}</style></head><body><h1>Evaluation report</h1>",
        f"<p>Questions: <code>{escape(run.questions_path)}</code>; answerer: "
        f"{escape(run.answerer)}; {len(run.results)} questions in {run.seconds:.1f} s.</p>",
        f"<h2>Scores ({escape(MODE_LABELS.get(mode, mode))} retrieval)</h2>",
        _html_table(*summary_rows(summary, mode)),
    ]
    if len(run.modes) > 1:
        parts += [
            "<h2>Retrieval modes compared</h2>",
            _html_table(*compare_rows(summary, run.modes)),
        ]
    parts.append(
        f'<h2>Scores per type</h2><img alt="scores per type" src="data:image/png;base64,{chart}">'
    )
    if run.errors:
        items = "".join(f"<li>{escape(e)}</li>" for e in run.errors)
        parts.append(f"<h2>Malformed lines</h2><ul class='error'>{items}</ul>")
    parts += ["<h2>Questions</h2>", question_table(run.results, mode), "</body></html>"]
    return "\n".join(parts)


def question_table(results: Sequence[QuestionResult], mode: str) -> str:
    """One row per question: the question, the answer, its citations, pass/fail per metric."""
    names = list(results[0].passes(mode)) if results else []
    head = "".join(
        f"<th>{escape(h)}</th>" for h in ["id", "type", "question", "answer", "citations", *names]
    )
    body = "".join(_question_row(r, mode) for r in results)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _question_row(r: QuestionResult, mode: str) -> str:
    q = r.question
    history = "".join(f"<div class='history'>earlier: {escape(h)}</div>" for h in q.history)
    answer = escape(r.answer_text) + (" <em>(abstained)</em>" if r.abstained else "")
    if r.error:
        answer = f"<span class='error'>{escape(r.error)}</span>"
    citations = "".join(
        f"<div class='quote'>[{c.n}] {escape(c.source)}[{c.start}:{c.end}]: "
        f"“{escape(c.quote)}”</div>"
        for c in r.citations
    )
    problems = "".join(f"<div class='error'>{escape(p)}</div>" for p in r.citation_problems)
    marks = "".join(
        f"<td class='{'na' if ok is None else PASS_MARKS[ok]}'>{PASS_MARKS[ok]}</td>"
        for ok in r.passes(mode).values()
    )
    return (
        f"<tr><td>{escape(q.id)}</td><td>{escape(q.type)}</td>"
        f"<td>{history}{escape(q.question)}</td><td class='answer'>{answer}</td>"
        f"<td>{citations}{problems}</td>{marks}</tr>"
    )
