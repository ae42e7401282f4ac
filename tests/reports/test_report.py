"""A student's report reads right: lost points apart from pending ones, one unit for every
total, numbers that never break, every answer the instructor must grade, and a banner for
every limit hit and every raising cell that quotes the cell."""

from __future__ import annotations

import re

from graders.execution import HEAD_CHARS, CellRecord, source_head
from graders.report import render_report
from tests.reports.results import result


def test_lost_points_are_apart_from_pending_ones_in_course_points():
    # 2.1 loses 2.5 handout points (x1.25 = 3.125); 1.7's 3 handout points are pending (3.75)
    html = render_report(result("bob", (5.0, 2.5, 4.0)))
    headline = html.split("<table>")[0]
    assert re.search(r'class="lost">[^<]*<span class="num">3\.125</span> lost', headline)
    assert re.search(r'<span class="num">3\.75</span> pending manual grading', headline)
    assert "course points" in headline and "×1.25" in headline
    row = re.search(r'<a href="#p2\.1">.*?</tr>', html).group(0)
    cells = re.findall(r'<td class="num[^"]*">([^<]*)', row)
    assert cells[:4] == ["9.375", "3.125", "", "12.5"]  # earned, lost, pending, of
    assert 'class="num lost">3.125' in row
    manual = re.search(r'<a href="#p1\.7">.*?</tr>', html).group(0)
    assert re.findall(r'<td class="num[^"]*">([^<]*)', manual)[:4] == ["0", "0", "3.75", "3.75"]


def test_nothing_lost_is_not_shown_as_a_loss():
    html = render_report(result("ada", (5.0, 5.0, 4.0)))
    assert re.search(r'<span class="meta"> · <span class="num">0</span> lost</span>', html)


def test_without_scaling_no_handout_column():
    html = render_report(result("ada", scale=1.0))
    assert "Handout points" not in html and "handout 5 / 5" not in html
    assert "course points" not in html


def test_numbers_do_not_break():
    """.num never wraps (the browser test checks each renders on one line)."""
    html = render_report(result("bob", (5.0, 2.5, 4.0)))
    css = html.split("<style>")[1].split("</style>")[0]
    assert ".num, .nowrap { white-space: nowrap; }" in css


def test_the_unkeyed_true_false_answer_is_shown_to_the_instructor():
    html = render_report(result("ada", answer="True"))
    row = re.search(r"<tr><td>True or false \(no key shipped\).*?</tr>", html).group(0)
    assert '<code class="recorded">True</code>' in row and "pending" in row


def test_a_banner_quotes_every_raising_cell_and_every_limit():
    cells = ["import numpy as np", "x = 1\ny = 2\nraise ValueError('no')\nz = 3",
             "while True:\n    pass"]
    raised = CellRecord(1, False, "ValueError: no", source_head=source_head(cells, 1))
    stopped = CellRecord(2, False, "skipped: cell 3 exceeded 3 s",
                         source_head=source_head(cells, 2))
    html = render_report(result("dee", cells=[CellRecord(0, True), raised, stopped],
                                limits_hit=["cell 3 exceeded 3 s"]))
    banner = re.search(r'<div class="banner bad raised">.*?</div>', html, re.S).group(0)
    assert 'Code cell <span class="num">2</span>' in banner and "In [2]" in banner
    assert "ValueError: no" in banner and "x = 1\ny = 2\nraise ValueError(&#39;no&#39;)" in banner
    assert "z = 3" not in banner  # the first three lines only
    limit = re.search(r'<div class="banner bad limit">.*?</div>', html, re.S).group(0)
    assert "cell 3 exceeded 3 s" in limit and "code cell" in limit and "while True:" in limit
    assert html.count('class="banner bad') == 2


def test_a_limit_that_is_not_a_cell_still_gets_a_banner():
    html = render_report(result("dee", limits_hit=["too large to check: 10 s"]))
    assert re.search(r'<div class="banner bad limit"><b>Limit:</b> too large to check: 10 s'
                     r"</div>", html)


def test_source_head_is_three_lines_at_most_and_capped():
    assert source_head(["\n\na\nb\nc\nd"], 0) == "a\nb\nc"
    assert len(source_head(["x" * 10_000], 0)) == HEAD_CHARS
    assert source_head(["a"], 5) == ""


def test_graded_reports_quote_the_cells_that_raised_or_ran_out_of_time(graded_class):
    folder, results = graded_class
    raised = (folder / "cell-raises" / "report.html").read_text()
    assert re.search(r'banner bad raised"><b>Code cell <span class="num">\d+</span>', raised)
    assert "raise ValueError(&#39;T must be positive&#39;)" in raised
    looped = (folder / "infinite-loop" / "report.html").read_text()
    assert re.search(r'banner bad limit"><b>Limit:</b> cell \d+ exceeded 3 s: code cell', looped)
    failed = [c for c in results["cell-raises"].cells if not c.ok]
    assert failed and all(c.source_head for c in failed)
