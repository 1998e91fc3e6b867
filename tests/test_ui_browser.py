"""End to end in headless Chromium, at 1400 px and at a phone's 420 px: a question and a
follow-up, a citation clicked, the document filter, a thumb, the copy button, screenshots.

Needs Debian's chromium and chromium-driver (``apt-get install chromium chromium-driver``);
Selenium is pointed at /usr/bin/chromedriver and never downloads a driver (SE_OFFLINE).
The store is the fake embedder's (the page, not the model, is under test). Screenshots go to
artifacts/ (git-ignored). Chromium's windows are at least 500 px wide, so
the phone is emulated (device metrics 420 x 900, mobile).
"""

from __future__ import annotations

import html
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assistant import Settings
from assistant_ui.app import build_app, serve
from assistant_ui.feedback import read_jsonl
from tests.conftest import SMALL_DOCS, fake, small_corpus

pytestmark = [
    pytest.mark.browser,
    # gradio's own queue statistics use pandas options that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword).*"),
]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HOSTILE = (
    "Archive note on the samovar inventory\n\n"
    "The samovar inventory of the Kremlin kitchen was compiled in 1925 by the archivist Ivanov. "
    "<script>document.title='PWNED'; window.pwned = 1;</script> "
    "The inventory lists forty-two brass samovars. "
    "<img src=x onerror=\"document.title='PWNED'; window.pwned = 1;\"> "
    "Ivanov recorded every samovar by weight. ${document.title='PWNED'} "
    "The samovar inventory was never published.\n"
)
CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PHONE = 420
KRUPSKAYA = "Why did Trotsky write to Krupskaya in May 1927?"
FOLLOW_UP = "Did she answer him?"
SEDOVA = "What did Natalia Sedova write about the defense of the USSR?"
SEDOVA_TITLE = "Letter from Natalia (“Dear Friends”), 6 November 1944"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def chrome(profile: Path, width: int, height: int = 1000) -> Iterator[Any]:
    """Headless Chromium at ``width`` px (below 500, an emulated phone)."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    size = f"--window-size={max(width, 500)},{height}"
    for arg in [*CHROME_ARGS, size, f"--user-data-dir={profile}"]:
        opts.add_argument(arg)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "true")  # never let Selenium Manager fetch a driver
        d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    d.set_page_load_timeout(60)
    if width < 500:
        resize(d, width, height)
    try:
        yield d
    finally:
        d.quit()


def resize(d: Any, width: int, height: int) -> None:
    if width < 500:
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1,
                           "mobile": True})  # fmt: skip
    else:
        d.set_window_size(width, height)


def screenshot(d: Any, width: int, name: str, full: bool = False) -> None:
    """Save ``artifacts/ui-<width>-<name>.png``: the window, or the whole page."""
    ARTIFACTS.mkdir(exist_ok=True)
    if full:
        d.execute_script("window.scrollTo(0, 0)")
        height = int(d.execute_script("return document.documentElement.scrollHeight"))
        resize(d, width, min(height + 20, 6000))
        time.sleep(0.5)
    d.save_screenshot(str(ARTIFACTS / f"ui-{width}-{name}.png"))
    if full:
        resize(d, width, 1000)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings, str]]:
    tmp = tmp_path_factory.mktemp("browser")
    corpus = small_corpus(tmp / "corpus", SMALL_DOCS)
    (corpus / "hostile_archive_note.txt").write_text(HOSTILE, encoding="utf-8")
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt")))
    s = Settings(corpus_dir=corpus, vectorstore_dir=tmp / "vs",
                 feedback_path=tmp / "feedback.jsonl")  # fmt: skip
    a = fake(s)
    a.ingest()
    demo = build_app(a)
    yield serve(demo, s, port=free_port(), block=False), s, text
    demo.close()


def find(d: Any, css: str, wait: float = 60) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, wait).until(lambda d: d.find_element(By.CSS_SELECTOR, css))


def wait_for(d: Any, condition: Any, wait: float = 180, quiet: bool = False) -> Any:
    """``condition``'s first true value within ``wait`` seconds; with ``quiet``, None when
    none came (for an assert with its own message) instead of a TimeoutException."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(d, wait).until(condition)
    except TimeoutException:
        if quiet:
            return None
        raise


def ask(d: Any, question: str, turns: int) -> str:
    """Type a question, press Ask, wait for its Sources; returns the Sources HTML."""
    find(d, "#question textarea").send_keys(question)
    find(d, "#ask").click()
    wait_for(d, lambda d: len(d.find_elements("css selector", "#sources details")) >= turns)
    time.sleep(0.3)
    return str(find(d, "#sources").get_attribute("innerHTML"))


def marked_runs(sources: str) -> list[str]:
    """The text inside each <mark>, split where the page renders markup (sup, em)."""
    runs = []
    for m in re.findall(r"<mark>(.*?)</mark>", sources, re.S):
        runs += [html.unescape(r) for r in re.split(r"<[^>]+>", m) if r.strip()]
    return runs


def in_view(d: Any, element: Any) -> bool:
    return bool(d.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.top >= -2 && r.top < window.innerHeight;", element,
    ))  # fmt: skip


@pytest.mark.parametrize("width", [1400, PHONE])
def test_a_reader_asks_follows_up_checks_a_source_filters_and_rates(
    served: tuple[str, Settings, str], tmp_path: Path, width: int
) -> None:
    url, settings, corpus_text = served
    with chrome(tmp_path / "chrome", width) as d:
        d.get(url)
        status = find(d, "#status").text
        assert "Loaded: 3 documents" in status and "passages" in status and "added" not in status
        requests = d.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert requests and all(r.startswith(url.rstrip("/")) for r in requests), requests
        assert find(d, "#docs").is_displayed()  # the filter is in sight, not folded away
        check_the_answer(d, width, corpus_text)
        check_the_follow_up_and_a_citation(d, width)
        check_the_filter(d, width)
        check_feedback_and_copy(d, url, settings)
        screenshot(d, width, "page", full=width == PHONE)


def check_the_answer(d: Any, width: int, corpus_text: str) -> None:
    sources = ask(d, KRUPSKAYA, turns=1)
    runs = marked_runs(sources)
    assert runs and all(r in corpus_text for r in runs), "a highlighted quote is not verbatim"
    assert any(len(r) > 40 for r in runs)
    panel = find(d, "#sources").text
    assert "<sup>" not in panel and "*Pravda*" not in panel  # shown clean
    assert "Searched all 3 documents." in find(d, "#chat").text
    if width == PHONE:
        scrolling = d.execute_script(
            "return [document.querySelector('#chat'), ...document.querySelectorAll('#chat *')]"
            ".filter(e => e.scrollHeight > e.clientHeight + 2 && "
            "['auto', 'scroll'].includes(getComputedStyle(e).overflowY)).length"
        )
        assert scrolling == 0, "the chat scrolls inside the page"
        button = find(d, "#to-sources")
        # the page's script shows it once it has seen where the Sources are: give it time (a
        # fake-embedder answer arrives before a loaded machine has laid the page out)
        shown = wait_for(d, lambda _: button.is_displayed() or None, 15, quiet=True)
        assert shown, "no Sources button while the Sources are out of sight"
        screenshot(d, width, "answer")
        button.click()
        wait_for(d, lambda d: in_view(d, find(d, "#col-sources")), 10)
        wait_for(d, lambda d: not find(d, "#to-sources").is_displayed(), 10)  # its job done
        screenshot(d, width, "sources-one-tap")
    else:
        assert in_view(d, find(d, "#col-sources")), "the Sources are not beside the answer"
        screenshot(d, width, "answer")


def check_the_follow_up_and_a_citation(d: Any, width: int) -> None:
    d.execute_script("window.scrollTo(0, 0)")
    ask(d, FOLLOW_UP, turns=2)
    assert len(d.find_elements("css selector", "#chat .answer")) == 2
    groups = d.find_elements("css selector", "#sources details")
    assert groups[0].get_attribute("open") and not groups[1].get_attribute("open")
    links = d.find_elements("css selector", '#chat a[href^="#src-2-"]')
    assert links, "the follow-up's [n] markers are not links"
    windows, page = len(d.window_handles), d.current_url
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", links[-1])
    links[-1].click()
    target = find(d, "#" + links[-1].get_attribute("href").split("#")[1])
    assert "flash" in (target.get_attribute("class") or "")  # lit up
    wait_for(d, lambda d: in_view(d, target), 10)  # and scrolled to
    assert len(d.window_handles) == windows and d.current_url == page
    if width != PHONE:  # the Sources scroll in their own column: the answer stays in sight
        assert in_view(d, links[-1])
    screenshot(d, width, "citation")


def check_the_filter(d: Any, width: int) -> None:
    d.execute_script("window.scrollTo(0, 0)")
    find(d, "#docs-none").click()
    wait_for(d, lambda d: not d.find_elements("css selector", "#docs input:checked"), 10)
    box = d.find_element("xpath", '//*[@id="docs"]//label[contains(., "Dear Friends")]//input')
    d.execute_script("arguments[0].click()", box)
    wait_for(d, lambda d: len(d.find_elements("css selector", "#docs input:checked")) == 1, 10)
    sources = ask(d, SEDOVA, turns=3)
    at_top = "return document.getElementById('sources').scrollTop === 0"
    wait_for(d, lambda d: d.execute_script(at_top), 10)  # a citation had scrolled them down
    answers = d.find_elements("css selector", "#chat .answer")
    assert f"Searched 1 of 3 documents: {SEDOVA_TITLE}." in answers[-1].text
    latest = sources.split("</details>")[0]
    assert "mcneal_trotsky_letter_to_krupskaya_1927.txt" not in latest
    screenshot(d, width, "filter")
    find(d, "#docs-all").click()
    wait_for(d, lambda d: len(d.find_elements("css selector", "#docs input:checked")) == 3, 10)


def check_feedback_and_copy(d: Any, url: str, settings: Settings) -> None:
    before = len(read_jsonl(settings.feedback_path))
    likes = d.find_elements("css selector", "#chat button[aria-label='Like']")
    assert len(likes) == 3  # one control per answer, nothing else to rate with
    assert not d.find_elements("css selector", "#thumb-up, #thumb-down, #comment")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", likes[0])
    likes[0].click()
    wait_for(d, lambda d: "answer 1 marked “helpful”, saved" in find(d, "#notice").text, 30)
    records = read_jsonl(settings.feedback_path)
    assert len(records) == before + 1
    assert records[-1]["verdict"] == "up" and records[-1]["question"] == KRUPSKAYA
    d.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": url.rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
    })  # fmt: skip
    button = find(d, "button.copy-answer")  # the latest answer's, on top of the Sources
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait_for(d, lambda d: find(d, "button.copy-answer").text == "Copied", 10)
    copied = d.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('' + e))"
    )
    assert copied.startswith(f"Q: {SEDOVA}\n\n") and "\n\nSources:\n[1] " in copied
    assert copied.rstrip().endswith(f"Searched 1 of 3 documents: {SEDOVA_TITLE}.")


def test_script_in_an_excerpt_does_not_run(
    served: tuple[str, Settings, str], tmp_path: Path
) -> None:
    url = served[0]
    with chrome(tmp_path / "chrome", 1400) as d:
        d.get(url)
        sources = ask(d, "Who compiled the samovar inventory?", turns=1)
        assert "samovar" in sources
        assert "&lt;script&gt;" in sources  # shown as text
        screenshot(d, 1400, "hostile-excerpt")
        assert d.title != "PWNED"
        assert d.execute_script("return window.pwned === undefined")
