"""Screenshots of the page answering questions, in headless Chromium (Debian's).

    .venv/bin/python -m benchmarks.screenshots --out artifacts/after "Who was Kosior?" ...

Serves the page over the configured store (settings as usual, e.g. ASSISTANT_VECTORSTORE_DIR),
asks each question in a fresh page, waits for its sources and saves ``<out>/<n>-<slug>.png``;
also writes the answers' text to ``<out>/answers.md`` for reading side by side.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1600",
]  # fmt: skip
DEFAULT_QUESTIONS = [
    "Who wrote the Declaration of the 46 and when?",
    "Who was Kosior?",
    "Why did Trotsky write to Krupskaya in May 1927?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="*", default=DEFAULT_QUESTIONS)
    parser.add_argument("--out", type=Path, default=Path("artifacts"))
    args = parser.parse_args(argv)

    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from assistant import Assistant, Settings
    from assistant_ui.app import build_app, serve

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager fetch a driver
    settings = Settings()
    a = Assistant(settings)
    demo = build_app(a)
    url = serve(demo, settings, port=free_port(), block=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in [*CHROME_ARGS, f"--user-data-dir={tempfile.mkdtemp(prefix='chrome-')}"]:
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    args.out.mkdir(parents=True, exist_ok=True)
    notes = []
    try:
        for n, question in enumerate(args.questions, start=1):
            driver.get(url)
            box = WebDriverWait(driver, 60).until(
                lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea")
            )
            box.send_keys(question)
            driver.find_element(By.CSS_SELECTOR, "#ask").click()
            WebDriverWait(driver, 180).until(
                lambda d: (
                    d.find_elements(By.CSS_SELECTOR, "#sources details")
                    or "do not answer" in d.find_element(By.CSS_SELECTOR, "#chat").text
                )
            )
            time.sleep(1)
            slug = re.sub(r"\W+", "-", question.lower()).strip("-")[:40]
            driver.save_screenshot(str(args.out / f"{n}-{slug}.png"))
            answer = a.ask(question)
            notes.append(f"## {question}\n\n{answer.text}\n\n" + "".join(
                f"- note: {x}\n" for x in answer.notes) + "".join(
                f"- [{c.n}] {c.title}, {c.section}: “{c.quote[:300]}”\n" for c in answer.citations))  # fmt: skip
            print(f"{n}. {question}\n   {answer.text[:300]}")
    finally:
        driver.quit()
        demo.close()
    (args.out / "answers.md").write_text("\n".join(notes), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
