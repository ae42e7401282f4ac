"""The class page: what an instructor must see at the end of a batch is on it, from the
results alone, and it is static (no script, nothing fetched) with links that resolve."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from graders.classpage import (flags, histogram, manual_queue, problem_rates,
                               write_class_page)
from graders.report import write_result
from tests.reports.results import batch, result


class Links(HTMLParser):
    """Every href of a page, and whether it has a <script>."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.scripts += tag == "script"


def parsed(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text())
    return links


def assert_links_resolve(page: Path) -> None:
    """Every link is relative, names a file that exists and, with a #fragment, an id in it."""
    for href in parsed(page).hrefs:
        assert "://" not in href and not href.startswith("/"), href
        target, _, fragment = href.partition("#")
        path = (page.parent / target) if target else page
        assert path.is_file(), href
        if fragment:
            assert fragment in parsed(path).ids, href


def test_flags_name_limits_errors_and_values_outside_a_band():
    by_name = {r.student: r for r in batch()}
    assert flags(by_name["ada"]) == [] and flags(by_name["bob"]) == []
    assert flags(by_name["cyd"]) == ["L2 check accuracy: accuracy 0.12 is outside the "
                                     "reference band 0.88-0.93"]
    assert flags(by_name["dee"]) == ["cell 6 exceeded 3 s"]
    # a submission that could not be graded is flagged for that, not for what it then missed
    assert flags(by_name["eve"]) == ["not valid notebook JSON: line 1"]


def test_rates_count_graded_submissions_and_name_the_conventions():
    problems = {p.id: p for p in problem_rates(batch())}
    w, history = problems["2.1"].checks
    assert (w.full, w.graded) == (3, 4)  # eve could not be graded: not counted
    assert (history.full, history.graded) == (2, 4)
    assert history.mean_fraction == (1 + 0.5 + 1 + 0) / 4
    assert dict(w.variants) == {"sum_x2": 3, "mean": 1}
    assert (problems["2.1"].full, problems["L2"].full) == (2, 3)
    assert problems["1.7"].auto_max == 0 and problems["1.7"].checks == []


def test_manual_queue_lists_parts_pending_answers_written_and_recorded():
    [item] = manual_queue(batch())
    assert item.problem == "1.7" and [part for part, _, _ in item.parts] == ["answer",
                                                                              "explanation"]
    assert item.pending == 5
    assert item.unanswered == ["cyd"] and "ada" in item.answered
    assert item.recorded == [("ada", "answer", "True"), ("bob", "answer", "False")]


def test_pending_points_are_in_course_points():
    assert result("ada").pending_points == 3 * 1.25  # the 1.7 parts, handout 2 + 1, x1.25


def test_histogram_counts_every_total_once():
    svg = histogram([0, 0, 9.99, 10, 20, 21.5], 20.0)
    bars = re.findall(r'<text x="[\d.]+" y="[\d.]+" font-size="11" text-anchor="middle">(\d+)'
                      r"</text>", str(svg))
    assert sorted(map(int, bars)) == [1, 1, 1, 1, 2] and ">20" in svg  # 21.5: extra credit
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_page_shows_everything_and_is_static(tmp_path):
    results = batch()
    for r in results:
        write_result(r, tmp_path / r.student)
    page = write_class_page(results, tmp_path, "ECE590 Homework #2")
    assert page == tmp_path / "index.html"
    html = page.read_text()
    for text in ("5 submissions, 4 graded", "1 could not be graded", "<svg",
                 "Flagged submissions (3)", "outside the reference band", "cell 6 exceeded 3 s",
                 "not valid notebook JSON", "<b>sum_x2</b>: 3", "<b>mean</b>: 1",
                 "no answer cell: cyd", "ada: <code>True</code>", "Every report (5)"):
        assert text in html, text
    links = parsed(page)
    assert links.scripts == 0
    assert {h for h in links.hrefs if h.endswith("report.html")} == {
        f"{r.student}/report.html" for r in results}
    assert_links_resolve(page)


def test_student_names_are_escaped_and_links_quoted(tmp_path):
    odd = result("<b>x</b> y")
    page = write_class_page([odd], tmp_path, "t")
    html = page.read_text()
    assert "<b>x</b> y" not in html and "&lt;b&gt;x&lt;/b&gt; y" in html
    assert 'href="b_x_b_y/report.html"' in html  # the folder the batch makes for it


def test_a_graded_class_has_its_page(graded_class):
    folder, results = graded_class
    page = folder / "index.html"
    html = page.read_text()
    assert f"{len(results)} submissions, {len(results) - 1} graded" in html
    flagged = html.split('id="flagged"')[1].split('id="problems"')[0]
    assert "infinite-loop" in flagged and "exceeded 3 s" in flagged
    assert "corrupt" in flagged and "not valid notebook JSON" in flagged
    assert "solution" not in flagged and "mean-convention" not in flagged
    conventions = html.split('id="conventions"')[1].split('id="manual"')[0]
    assert "<b>mean" in conventions  # the mean-convention example's 2.x checks
    queue = html.split('id="manual"')[1].split('id="students"')[0]
    assert "solution/report.html#p1.3" in queue  # the solution explains 1.3 only
    assert "no answer cell: solution" in queue.split("<b>1.4</b>")[1]
    assert_links_resolve(page)
