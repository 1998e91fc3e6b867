"""End to end in headless Chromium: type a question, read the answer and its verbatim sources.

Needs Debian's chromium and chromium-driver (``apt-get install chromium chromium-driver``);
Selenium is pointed at /usr/bin/chromedriver and never downloads a driver (SE_OFFLINE).
Screenshots go to artifacts/ (git-ignored).
"""

from __future__ import annotations

import html
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant, Settings
from tests.conftest import SMALL_DOCS, small_corpus
from ui.app import build_app, serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
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
    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1500,1500",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def corpus_text(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    corpus = small_corpus(tmp_path_factory.mktemp("browser") / "corpus", SMALL_DOCS)
    (corpus / "hostile_archive_note.txt").write_text(HOSTILE, encoding="utf-8")
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt")))
    return corpus, text


@pytest.fixture(scope="module")
def url(corpus_text: tuple[Path, str]) -> Iterator[str]:
    corpus = corpus_text[0]
    s = Settings(corpus_dir=corpus, vectorstore_dir=corpus.parent / "vs",
                 feedback_path=corpus.parent / "feedback.jsonl")  # fmt: skip
    a = Assistant(s)
    a.ingest()
    demo = build_app(a)
    yield serve(demo, s, port=free_port(), block=False)
    demo.close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in [*CHROME_ARGS, f"--user-data-dir={tmp_path_factory.mktemp('chrome')}"]:
        opts.add_argument(arg)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "true")  # never let Selenium Manager fetch a driver
        d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def ask(driver: Any, question: str, turns: int) -> str:
    """Type a question, press Ask, wait for its Sources; returns the Sources HTML."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    box = WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea")
    )
    box.send_keys(question)
    driver.find_element(By.CSS_SELECTOR, "#ask").click()
    WebDriverWait(driver, 180).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sources details")) >= turns
    )
    return str(driver.find_element(By.CSS_SELECTOR, "#sources").get_attribute("innerHTML"))


def marked_runs(sources: str) -> list[str]:
    """The text inside each <mark>, split where the page renders markup (sup, em)."""
    runs = []
    for m in re.findall(r"<mark>(.*?)</mark>", sources, re.S):
        runs += [html.unescape(r) for r in re.split(r"<[^>]+>", m) if r.strip()]
    return runs


def test_question_answer_and_verbatim_sources(
    driver: Any, url: str, corpus_text: tuple[Path, str]
) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    sources = ask(driver, "Why did Trotsky write to Krupskaya in May 1927?", turns=1)
    runs = marked_runs(sources)
    assert runs, "the Sources panel shows no highlighted quote"
    assert all(r in corpus_text[1] for r in runs), "a highlighted quote is not verbatim"
    assert any(len(r) > 40 for r in runs)
    links = driver.find_elements(By.CSS_SELECTOR, '#chat a[href^="#src-1-"]')
    assert links, "the answer's [n] markers are not links"
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "ui_answer.png"))
    windows, page = len(driver.window_handles), driver.current_url
    links[-1].click()
    target = driver.find_element(By.ID, links[-1].get_attribute("href").split("#")[1])
    assert "flash" in (target.get_attribute("class") or "")  # scrolled to and lit up
    assert len(driver.window_handles) == windows and driver.current_url == page


def test_script_in_an_excerpt_does_not_run(driver: Any, url: str) -> None:
    driver.get(url)
    sources = ask(driver, "Who compiled the samovar inventory?", turns=1)
    assert "samovar" in sources
    assert "&lt;script&gt;" in sources  # shown as text
    driver.save_screenshot(str(ARTIFACTS / "ui_hostile_excerpt.png"))
    assert driver.title != "PWNED"
    assert driver.execute_script("return window.pwned === undefined")
