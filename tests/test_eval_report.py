"""The evaluation report as a reader uses it: why each failure failed, how sure each rate is,
what changed since the last run, a gate for CI, and a page that fits the window."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import AssistantError
from assistant.evaluation import cli
from assistant.evaluation.compare import compare, gate, parse_threshold
from assistant.evaluation.explain import diagnoses
from assistant.evaluation.intervals import bootstrap_interval, wilson_interval
from assistant.evaluation.report import report_data, write_report
from assistant.evaluation.runner import EvalRun, run_questions
from tests.test_eval_runner import (
    QUOTE,
    FakeAssistant,
    _args,
    answer,
    make_fake,
    question,
    write_letter,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "corpus"))


@pytest.fixture
def source(tmp_path: Path) -> str:
    return write_letter(tmp_path)


@pytest.fixture
def fake(source: str) -> FakeAssistant:
    return make_fake(source)


def questions() -> list[Any]:
    return [
        question("a"),  # passes everything
        question("b"),  # answerable, but the fake abstains
        question("u", answerable=False, must_include=(), evidence=(), type="unanswerable"),
        question("m", must_include=("defend", "Bukharin")),  # one key fact missed
    ]


def run_of(fake: FakeAssistant, source: str) -> EvalRun:
    fake.answers["question m?"] = answer("m", source, QUOTE)
    return EvalRun(run_questions(fake, questions(), progress=False), questions_path="q.jsonl")


def test_failures_come_first_each_with_why(fake: FakeAssistant, source: str) -> None:
    found = diagnoses(run_of(fake, source).results, "hybrid")
    assert [(d.id, d.outcome) for d in found] == [
        ("b", "fail"), ("m", "fail"), ("a", "pass"), ("u", "pass")
    ]  # fmt: skip
    b, m = found[0], found[1]
    assert b.failed == ("key facts", "abstention")  # support does not apply: it abstained
    assert "abstention: it said the documents do not answer, but they do." in b.reasons
    assert b.evidence[0].rank == 2  # the fake ranks the evidence second in hybrid
    assert b.reference == "They will defend their views." and b.cited == ()
    assert m.failed == ("key facts",) and m.missed_facts == ("Bukharin",)
    assert m.reasons == ("key facts: the answer misses “Bukharin”.",)
    assert m.cited[0].quote == QUOTE and m.cited[0].source == "letter.txt"


def test_every_rate_has_an_interval_that_holds_its_value() -> None:
    values = [1.0] * 30 + [0.0] * 10
    low, high = bootstrap_interval(values) or (0, 0)
    assert 0.55 < low < 0.75 < high < 0.9
    assert bootstrap_interval(values) == bootstrap_interval(values)  # seeded
    assert bootstrap_interval([]) is None
    # two of two passed: not "1.00, certain" but a wide interval
    low, high = bootstrap_interval([1.0, 1.0]) or (0, 0)
    assert high == 1.0 and low < 0.4
    assert wilson_interval(0.0, 5)[0] == 0.0 and wilson_interval(0.0, 5)[1] > 0.4


def test_summary_blocks_carry_intervals(fake: FakeAssistant, source: str) -> None:
    summary = run_of(fake, source).summary()
    ci = summary["overall"]["ci"]
    for key in ("key_fact_recall", "citation_validity", "support", "false_abstention_rate"):
        low, high = ci[key]
        assert low <= summary["overall"][key] <= high, key
    assert ci["retrieval"]["hybrid"]["hit@10"] is not None
    assert summary["by_type"]["unanswerable"]["ci"]["abstention_rate"] is not None


def previous_report(now: dict[str, Any], flips: dict[str, dict[str, bool]]) -> dict[str, Any]:
    """``now`` as an earlier run would have written it, with some pass marks flipped."""
    before = json.loads(json.dumps(now))
    for q in before["questions"]:
        q["passes"].update(flips.get(q["id"], {}))
    before["questions"].append({"id": "gone", "passes": {}})
    before["summary"]["overall"]["key_fact_recall"] = 0.2
    return before


def test_compare_lists_what_improved_and_what_regressed(fake: FakeAssistant, source: str) -> None:
    run = run_of(fake, source)
    now = report_data(run, run.summary())
    before = previous_report(now, {"a": {"key facts": False}, "m": {"key facts": True}})
    c = compare(now, before, "old/report.json")
    assert [(q.id, q.fixed, q.broken) for q in c.improved] == [("a", ("key facts",), ())]
    assert [(q.id, q.fixed, q.broken) for q in c.regressed] == [("m", (), ("key facts",))]
    assert c.removed == ["gone"] and c.added == []
    recall = next(m for m in c.metrics if m.metric.key == "key_fact_recall")
    assert recall.before == 0.2 and recall.better is True


def test_thresholds_gate_the_overall_scores(fake: FakeAssistant, source: str) -> None:
    summary = run_of(fake, source).summary()
    recall = summary["overall"]["key_fact_recall"]
    assert gate(summary, "hybrid", [parse_threshold(f"key_fact_recall={recall}")]) == []
    failed = gate(summary, "hybrid", [parse_threshold("key_fact_recall=0.99"),
                                      parse_threshold("false_abstention_rate=0.1", under=False)])  # fmt: skip
    assert len(failed) == 2 and "under the threshold 0.99" in failed[0]
    with pytest.raises(AssistantError, match="the metrics are"):
        parse_threshold("recall=0.4")
    with pytest.raises(AssistantError, match="not a number"):
        parse_threshold("hit@4=high")


def test_cli_compares_and_fails_under_a_threshold(
    fake: FakeAssistant,
    source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.answers["question m?"] = answer("m", source, QUOTE)
    lines = [json.dumps({**q.__dict__, "evidence": [e.__dict__ for e in q.evidence]})
             for q in questions()]  # fmt: skip
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    api = types.ModuleType("assistant.api")
    api.Assistant = lambda settings: fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "assistant.api", api)
    first = tmp_path / "first"
    assert cli.run_eval(_args(questions=path, out=first, no_progress=True)) == 0
    data = json.loads((first / "report.json").read_text(encoding="utf-8"))
    data["questions"][0]["passes"]["key facts"] = False  # "a" failed its key facts last time
    (first / "report.json").write_text(json.dumps(data), encoding="utf-8")
    second = tmp_path / "second"
    code = cli.run_eval(_args(questions=path, out=second, no_progress=True, compare_to=first,
                              fail_under=["key_fact_recall=0.99"]))  # fmt: skip
    out = capsys.readouterr()
    assert code == 3 and "quality gate: key_fact_recall is 0.500" in out.err
    assert "1 question(s) improved, 0 regressed" in out.out
    page = (second / "report.html").read_text(encoding="utf-8")
    assert 'id="comparison"' in page and 'href="#q-a"' in page
    saved = json.loads((second / "report.json").read_text(encoding="utf-8"))
    assert saved["comparison"]["improved"][0]["id"] == "a"
    bad = _args(questions=path, out=second, no_progress=True, fail_under=["nope=1"])
    assert cli.run_eval(bad) == 2


def test_the_page_lists_failures_first_with_filters(
    fake: FakeAssistant, source: str, tmp_path: Path
) -> None:
    write_report(run_of(fake, source), tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    order = re.findall(r'<details class="q (\w+)" id="q-(\w+)"', page)
    assert order == [("fail", "b"), ("fail", "m"), ("pass", "a"), ("pass", "u")]
    assert '<option value="unanswerable">' in page and '<option value="failing">' in page
    card = re.search(r'<details class="q fail" id="q-m".*?</summary>', page, re.S)
    assert card and "key facts: the answer misses “Bukharin”." in card.group(0)  # in sight
    assert "ranked 2" in page
    assert "citation validity" in page and "Cited</dt>" in page
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert md.index("### b (factual)") < md.index("### m (factual)")
    assert "- key facts: the answer misses “Bukharin”." in md


@pytest.mark.browser
def test_the_page_fits_a_1400_px_window(fake: FakeAssistant, source: str, tmp_path: Path) -> None:
    from tests.test_ui_browser import chrome

    write_report(run_of(fake, source), tmp_path)
    with chrome(tmp_path / "chrome", 1400) as driver:
        driver.get((tmp_path / "report.html").as_uri())
        width = driver.execute_script("return document.documentElement.scrollWidth")
        chart = driver.execute_script(
            "const i = document.querySelector('img.chart'); return [i.getBoundingClientRect()"
            ".right, i.naturalWidth]"
        )
        assert width <= 1400 and chart[0] <= 1400
        driver.execute_script(
            "const s = document.getElementById('f-outcome'); s.value = 'pass';"
            "s.dispatchEvent(new Event('change'));"
        )
        shown = driver.execute_script(
            "return [...document.querySelectorAll('details.q')].filter(d => !d.hidden)"
            ".map(d => d.id)"
        )
        assert shown == ["q-a", "q-u"]
        assert "showing 2 of 4" in driver.find_element("id", "f-count").text
        ARTIFACTS.mkdir(exist_ok=True)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(ARTIFACTS / "eval_report.png"))
