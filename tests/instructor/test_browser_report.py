"""The class report in a real browser: headless Chromium (Debian's, through Playwright's
``executable_path``, the flags of tests/instructor/test_browser.py) loads the page written by
:mod:`tools.instructor.report` from data made here, with a hostile student name.

Skips, with the reason, when Chromium or Playwright is missing (``make browser-deps``).
"""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from tools.instructor.report import render
from tools.instructor.report_data import ClassData, FailedTest

pytestmark = [pytest.mark.browser]

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic", "--disable-dev-shm-usage"]
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_MESSAGE = "AssertionError: <script>alert(2)</script>"


def class_data() -> ClassData:
    return ClassData(
        cell_scores={"01_toy/01_square_test": (2.0, [2.0, 0.0, 2.0]), "01_toy/01_mean_test": (3.0, [3.0, 0.0, 0.0])},
        notebook_scores={"01_toy": (5.0, [5.0, 0.0, 2.0]), "02_questions": (3.0, [1.0, 0.0, 3.0])},
        totals={"ann": 6.0, "evil": 0.0, "bob": 5.0}, max_total=8.0, names={"evil": HOSTILE},
        failed=[FailedTest("01_mean_test", "01_toy", 2, Counter({HOSTILE_MESSAGE: 2}))],
        tamper={"evil": [f"01_toy: cell {HOSTILE} deleted"]}, similar=[("ann", "evil", 0.97)],
        grading={"ann": ("2026-03-01T10:00:00+00:00", 12.5), "evil": ("2026-03-01T10:01:00+00:00", None)},
        pending={"evil": ["02_questions"]})


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no chromium on PATH: install Debian's chromium (`make browser-deps` does, as root)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright's Python package is missing: `make browser-deps`")
    pw = sync_api.sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
    except Exception as exc:  # e.g. a Chromium too old for this Playwright
        pw.stop()
        pytest.skip(f"Playwright could not start {chromium}: {exc}")
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render(class_data()), encoding="utf-8")
    tab = browser.new_page()
    seen = {"console": [], "dialogs": [], "errors": []}
    tab.on("console", lambda m: seen["console"].append((m.type, m.text)))
    tab.on("pageerror", lambda e: seen["errors"].append(str(e)))
    tab.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    tab.goto(path.as_uri())
    tab.wait_for_load_state("load")
    yield tab, seen
    browser.close()
    pw.stop()


def test_every_plot_renders(page):
    tab, _ = page
    sizes = tab.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(sizes) == 3
    assert all(done and w > 100 and h > 50 for done, w, h in sizes), sizes


def test_no_console_errors_no_script_runs(page):
    tab, seen = page
    assert not seen["errors"] and not seen["dialogs"]
    assert [m for m in seen["console"] if m[0] == "error"] == []
    assert tab.evaluate("document.scripts.length") == 0


def test_hostile_strings_show_as_text(page):
    tab, _ = page
    text = tab.inner_text("body")
    assert HOSTILE in text and HOSTILE_MESSAGE in text
    assert tab.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert "similarity" in text and "0.97" in text and "not recorded" in text
