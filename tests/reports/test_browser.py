"""The class page, a report and the answer key in a real browser (headless Chromium, over the
DevTools protocol): they load with nothing in the console, every link leads to a file and an
anchor that exist, the plots have a size, no number breaks across lines (in a desktop window
and a phone's), and nothing runs a script.

Screenshots of the pages are saved in the test's tmp folder and, where GRADER_SCREENSHOTS
names a folder, there too; their paths are printed (pytest -s shows them). Without Chromium
(Debian: apt-get install chromium) the tests are skipped, saying so; under CI they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from graders.keyview import write_key_html
from tests.reports.browser import Browser, find_chromium

CHROMIUM = find_chromium()
if CHROMIUM is None:
    if os.environ.get("CI"):
        pytest.fail("CI is set and there is no Chromium: the pages must be checked in a browser "
                    "(apt-get install chromium)", pytrace=False)
    pytest.skip("no Chromium here (Debian: apt-get install chromium): the pages are not "
                "checked in a browser", allow_module_level=True)

LINKS = "Array.from(document.querySelectorAll('a[href]'), a => a.href)"
#: The text of every .num whose text wraps onto a second line (a <br> starts a new text node).
BROKEN_NUMBERS = """Array.from(document.querySelectorAll('.num')).flatMap(element => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT), broken = [];
  while (walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(walker.currentNode);
    const lines = new Set(Array.from(range.getClientRects(), rect => Math.round(rect.top)));
    if (lines.size > 1) broken.push(walker.currentNode.textContent);
  }
  return broken;
})"""
WIDE, NARROW = 1200, 420  # CSS pixels: a desktop window, a phone
PLOT_SIZES = "Array.from(document.querySelectorAll('svg'), s => s.getBoundingClientRect().width)"


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as opened:
        opened.set_width(WIDE)
        yield opened


def save_screenshot(browser: Browser, tmp_path: Path, name: str) -> Path:
    path = browser.screenshot(tmp_path / name)
    assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {path}")
    if os.environ.get("GRADER_SCREENSHOTS"):
        folder = Path(os.environ["GRADER_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        print(f"screenshot: {shutil.copy(path, folder / name)}")
    return path


def check_page(browser: Browser, path: Path) -> list[str]:
    """Load `path`, assert it renders cleanly and statically; return its links."""
    page = browser.open(path)
    assert page.problems == [], page.problems
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.body.innerText.length") > 200
    sizes = browser.evaluate(PLOT_SIZES)
    assert sizes and all(width > 100 for width in sizes), sizes
    assert browser.evaluate(BROKEN_NUMBERS) == []
    links = browser.evaluate(LINKS)
    browser.set_width(NARROW)
    try:
        assert browser.open(path).problems == []
        assert browser.evaluate(BROKEN_NUMBERS) == []
    finally:
        browser.set_width(WIDE)
    browser.open(path)
    return links


def assert_links_resolve(browser: Browser, links: list[str]) -> None:
    """Every link is a local file that loads cleanly and has the #anchors pointing into it."""
    anchors: dict[str, set[str]] = {}
    for href in links:
        address, _, fragment = href.partition("#")
        anchors.setdefault(address, set()).add(fragment)
    for address, fragments in sorted(anchors.items()):
        assert address.startswith("file://"), address  # nothing on the network
        page = browser.open(Path(unquote(urlparse(address).path)))
        assert page.problems == [], (address, page.problems)
        for fragment in fragments - {""}:
            assert browser.evaluate(f"document.getElementById({fragment!r}) !== null"), \
                (address, fragment)


def test_class_page_and_a_report_render_with_working_links(browser, graded_class, tmp_path):
    folder, results = graded_class
    links = check_page(browser, folder / "index.html")
    save_screenshot(browser, tmp_path, "class-page.png")
    reports = {href for href in links if href.endswith("/report.html")}
    assert len(reports) == len(results)
    assert_links_resolve(browser, links)

    report_links = check_page(browser, folder / "cell-raises" / "report.html")
    assert browser.evaluate("document.querySelectorAll('.banner.bad.raised').length") == 1
    save_screenshot(browser, tmp_path, "report-cell-raises.png")
    assert_links_resolve(browser, report_links)


def test_key_page_renders_with_working_links(browser, hw2, tmp_path):
    page = write_key_html(hw2, tmp_path / "duke-hw2-key.html")
    links = check_page(browser, page)
    assert len(links) > len(hw2.problems)  # the table of contents
    assert_links_resolve(browser, links)
    save_screenshot(browser, tmp_path, "key-duke-hw2.png")


def test_the_browser_check_sees_console_errors_and_missing_files(browser, tmp_path):
    """The checks above would catch a broken page: an error in the console, a missing file."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><img src='missing.png'><script>console.error('x')</script>"
                   "</body></html>")
    problems = browser.open(bad).problems
    assert any("console.error" in p for p in problems)
    assert any("ERR_FILE_NOT_FOUND" in p for p in problems)


def test_the_browser_check_sees_numbers_break_without_nowrap(browser, graded_class, tmp_path):
    folder, _ = graded_class
    html = (folder / "solution" / "report.html").read_text()
    wrapping = tmp_path / "report.html"
    wrapping.write_text(html.replace(".num, .nowrap { white-space: nowrap; }", ""))
    browser.set_width(NARROW)
    try:
        browser.open(wrapping)
        assert browser.evaluate(BROKEN_NUMBERS) != []
    finally:
        browser.set_width(WIDE)
