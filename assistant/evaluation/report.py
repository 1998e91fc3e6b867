"""Write a finished evaluation run as ``report.json``, ``report.md``, ``report.html`` and a chart.

The HTML page comes from a Jinja2 template (``templates/report.html.j2``) with autoescaping
on: questions, answers and quotes come from documents, not from us. It is self-contained (the
chart is embedded, the filters are a few lines of its own script) and fits a 1,400 px window.
Failures come first, each with why; every rate carries its 95% interval.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from assistant.evaluation.compare import Comparison
from assistant.evaluation.explain import Diagnosis, diagnoses
from assistant.evaluation.runner import EvalRun, QuestionResult
from assistant.evaluation.scoreboard import (
    BY_KEY,
    METRICS,
    MODE_LABELS,
    RANKING,
    RANKING_LABELS,
    fmt,
    fmt_interval,
)

# (label, metric) of the chart's bars; each bar carries its interval as an error bar
CHART = (
    ("hit@10", "hit@10"),
    ("MRR@10", "mrr@10"),
    ("key-fact recall", "key_fact_recall"),
    ("citation validity", "citation_validity"),
    ("support", "support"),
    ("abstention", "abstention_rate"),
)
CHART_SIZE = (12.8, 4.6)  # inches at 100 dpi: 1,280 px, the page's width at a 1,400 px window


def write_report(run: EvalRun, out: Path, comparison: Comparison | None = None) -> list[Path]:
    """Write the report files into ``out`` (created if needed) and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    summary = run.summary()
    found = diagnoses(run.results, run.primary_mode)
    paths = [out / "report.json", out / "report.md", out / "report.html", out / "scores.png"]
    data = json.dumps(report_data(run, summary, comparison), indent=2, ensure_ascii=False)
    paths[0].write_text(data + "\n", encoding="utf-8")
    paths[1].write_text(markdown(run, summary, found, comparison), encoding="utf-8")
    write_chart(summary, run.primary_mode, paths[3])
    page = html_page(run, summary, found, paths[3].read_bytes(), comparison)
    paths[2].write_text(page, encoding="utf-8")
    return paths


def report_data(
    run: EvalRun, summary: dict[str, Any], comparison: Comparison | None = None
) -> dict[str, Any]:
    """The JSON report: run info, summary (overall, per type, per mode) and every question."""
    data = {
        "questions_path": run.questions_path,
        "answerer": run.answerer,
        "modes": list(run.modes),
        "seconds": round(run.seconds, 2),
        "line_errors": list(run.errors),
        "summary": summary,
        "questions": [question_data(r, run.primary_mode) for r in run.results],
    }
    if comparison:
        data["comparison"] = comparison_data(comparison)
    return data


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


def comparison_data(c: Comparison) -> dict[str, Any]:
    """The comparison as JSON: metric deltas and the questions that moved."""
    return {
        "previous": c.previous,
        "metrics": {m.metric.key: {"before": m.before, "now": m.now} for m in c.metrics},
        "improved": [asdict(q) for q in c.improved],
        "regressed": [asdict(q) for q in c.regressed],
        "added": c.added,
        "removed": c.removed,
    }


def _blocks(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"overall": summary["overall"], **summary["by_type"]}


def summary_rows(summary: dict[str, Any], mode: str) -> tuple[list[str], list[list[str]]]:
    """The summary as a table: a header (overall, then each type) and one row per metric."""
    blocks = _blocks(summary)
    header = ["metric", *blocks]
    rows = [[m.label, *(fmt(m.value(b, mode), m.kind) for b in blocks.values())] for m in METRICS]
    return header, rows


def interval_rows(summary: dict[str, Any], mode: str) -> list[list[str]]:
    """The 95% interval of each summary cell ("" where there is none), rows as in summary_rows."""
    blocks = _blocks(summary).values()
    return [[fmt_interval(m.interval(b, mode)) for b in blocks] for m in METRICS]


def compare_rows(
    summary: dict[str, Any], modes: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """Retrieval modes side by side, overall and per type."""
    header = ["questions", "retrieval", *(RANKING_LABELS.get(n, n) for n in RANKING)]
    rows = [
        [group, MODE_LABELS.get(mode, mode), *(fmt(block["retrieval"][mode][m]) for m in RANKING)]
        for group, block in _blocks(summary).items()
        for mode in modes
        if block["retrieval"][mode]["n"]  # a group without evidence has nothing to rank
    ]
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(
    run: EvalRun,
    summary: dict[str, Any],
    found: Sequence[Diagnosis],
    comparison: Comparison | None = None,
) -> str:
    """The Markdown report: run info, scores with intervals, comparison, failures with why."""
    header, rows = summary_rows(summary, run.primary_mode)
    cis = interval_rows(summary, run.primary_mode)
    cells = [[r[0], *(f"{v} ({ci})" if ci else v for v, ci in zip(r[1:], c, strict=True))]
             for r, c in zip(rows, cis, strict=True)]  # fmt: skip
    parts = [
        "# Evaluation report",
        f"Questions: `{run.questions_path}`; answerer: {run.answerer}; retrieval scored in "
        f"{', '.join(MODE_LABELS.get(m, m) for m in run.modes)}; {run.seconds:.1f} s.",
        f"## Scores ({MODE_LABELS.get(run.primary_mode, run.primary_mode)} retrieval)",
        "In brackets: the 95% interval (bootstrap over the questions; the Wilson interval "
        "where every question scores the same).",
        _md_table(header, cells),
    ]
    if len(run.modes) > 1:
        parts += ["## Retrieval modes compared", _md_table(*compare_rows(summary, run.modes))]
    if comparison:
        parts += _md_comparison(comparison)
    failing = [d for d in found if d.outcome != "pass"]
    if failing:
        parts += [f"## Failing questions ({len(failing)} of {len(found)})"]
        parts += [_md_failure(d) for d in failing]
    if run.errors:
        parts += ["## Malformed lines", "\n".join(f"- {e}" for e in run.errors)]
    return "\n\n".join(parts) + "\n"


def _md_failure(d: Diagnosis) -> str:
    lines = [f"### {d.id} ({d.type}): {d.question}"]
    lines += [f"- {r}" for r in d.reasons]
    for e in d.evidence:
        where = f"ranked {e.rank}" if e.rank else "not in the top 10"
        lines.append(f"- expected evidence ({where}): {e.doc}: “{_short(e.quote)}”")
    lines.append(f"- reference: {d.reference}")
    lines.append(f"- answer: {_short(d.answer, 400)}")
    lines += [f"- cited [{c.n}] {c.source}:{c.start}–{c.end}: “{_short(c.quote)}”" for c in d.cited]
    return "\n".join(lines)


def _md_comparison(c: Comparison) -> list[str]:
    rows = [
        [m.metric.label, fmt(m.before, m.metric.kind), fmt(m.now, m.metric.kind),
         "" if m.delta is None else f"{m.delta:+.2f}"]
        for m in c.metrics
    ]  # fmt: skip
    parts = [f"## Compared with `{c.previous}`", _md_table(["metric", "before", "now", "change"],
                                                            rows)]  # fmt: skip
    for title, changes in (("Regressed", c.regressed), ("Improved", c.improved)):
        items = [f"- {q.id} ({q.type}): {_moves(q)}: {q.question}" for q in changes]
        parts.append(f"### {title} ({len(changes)})\n\n" + ("\n".join(items) or "none"))
    return parts


def _moves(q: Any) -> str:
    out = [f"now fails {', '.join(q.broken)}"] if q.broken else []
    return "; ".join([*out, f"now passes {', '.join(q.fixed)}"] if q.fixed else out)


def _short(text: str, chars: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " …"


def write_chart(summary: dict[str, Any], mode: str, path: Path) -> None:
    """Grouped bars of the main rates, overall and per type, with their 95% intervals."""
    blocks = _blocks(summary)
    # matplotlib is imported here, not at module level: every `assistant` command loads
    # this module to register `eval`, and only a report needs the chart.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=CHART_SIZE, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    width = 0.8 / len(CHART)
    for i, (label, key) in enumerate(CHART):
        metric = BY_KEY[key]
        values = [_number(metric.value(b, mode)) for b in blocks.values()]
        errors = [_error_bar(v, metric.interval(b, mode)) for v, b in zip(values, blocks.values(),
                                                                         strict=True)]  # fmt: skip
        xs = [x + (i - (len(CHART) - 1) / 2) * width for x in range(len(blocks))]
        ax.bar(xs, values, width, label=label, yerr=list(zip(*errors, strict=True)),
               error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#444"})  # fmt: skip
    ax.set_xticks(
        range(len(blocks)), [f"{name}\n(n={b['questions']})" for name, b in blocks.items()]
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (bars: 95% interval)")
    ax.set_title(f"Scores per question type ({MODE_LABELS.get(mode, mode)} retrieval)")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncol=len(CHART), frameon=False)  # fmt: skip
    fig.savefig(path, format="png")


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _error_bar(value: float, interval: tuple[float, float] | None) -> tuple[float, float]:
    if interval is None or math.isnan(value):
        return 0.0, 0.0
    return max(0.0, value - interval[0]), max(0.0, interval[1] - value)


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("assistant.evaluation", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html_page(
    run: EvalRun,
    summary: dict[str, Any],
    found: Sequence[Diagnosis],
    chart_png: bytes,
    comparison: Comparison | None = None,
) -> str:
    """The HTML report, rendered from ``templates/report.html.j2``."""
    mode = run.primary_mode
    header, rows = summary_rows(summary, mode)
    cells = [list(zip(r[1:], c, strict=True)) for r, c in zip(rows, interval_rows(summary, mode),
                                                                strict=True)]  # fmt: skip
    template = _environment().get_template("report.html.j2")
    return template.render(
        run=run,
        mode_label=MODE_LABELS.get(mode, mode),
        header=header,
        rows=[(r[0], c) for r, c in zip(rows, cells, strict=True)],
        modes=compare_rows(summary, run.modes) if len(run.modes) > 1 else None,
        chart=base64.b64encode(chart_png).decode("ascii"),
        questions=found,
        types=sorted({d.type for d in found}),
        counts={o: sum(d.outcome == o for d in found) for o in ("error", "fail", "pass")},
        comparison=comparison,
        fmt=fmt,
        moves=_moves,
    )
