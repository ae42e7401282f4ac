"""The answer-key page is organised by handout problem: each problem's checks, what they read
and the key values they use; every key item appears exactly once; long arrays summarised."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from graders.assignment import load_assignment
from graders.keyview import flatten, key_summary, owners, sections, summary, write_key_html


@pytest.fixture(scope="module", params=["duke-hw2", "duke-hw4", "dlsp-hw3"])
def assignment(request, course):
    return load_assignment(course, request.param)


def test_every_item_is_in_exactly_one_section(assignment):
    problems, other = sections(assignment)
    shown = Counter(item.path for s in problems + other for item in s.items)
    expected = Counter(" / ".join(path) for path, _ in flatten(assignment.key.data))
    assert shown == expected
    assert [s.problem.id for s in problems] == [p.id for p in assignment.problems]


def test_items_go_with_the_problem_whose_checks_read_them(hw2, course):
    owned = owners(hw2)
    assert owned[("distributed", "W_star")] == "2.1"
    assert owned[("distributed", "conventions", "mean_x2", "sgd_logL")] == "2.2"
    assert owned[("distributed", "conventions", "sum_x2", "clip_logL", "5")] == "2.4"
    assert owned[("true_false", "1.3")] == "1.3"
    assert owned[("sparse", "three_point", "gd", "L_final")] == "3.1"  # with its run
    assert owned[("csc", "q41", "values")] == "4.1"
    assert ("distributed", "params", "lr") not in owned  # no check reads it: "other"
    hw4 = owners(load_assignment(course, "duke-hw4"))
    quantization = {k: v for k, v in hw4.items() if k[0] == "quantization"}
    assert quantization and set(quantization.values()) == {"L2.e"}  # by TOPIC_PROBLEMS
    runs = {k: v for k, v in hw4.items() if k[0] == "runs"}
    assert runs and set(runs.values()) == {"L2.b"}


def test_long_arrays_are_summarised_short_ones_shown_whole():
    assert summary(np.array([1.0, -3.0, 2.0])) == "array[3] [ 1., -3.,  2.]"
    long = summary(np.arange(2000 * 6 * 3, dtype=float).reshape(2000, 6, 3))
    assert long.startswith("array[2000, 6, 3] float64; min 0, max 35999, mean 17999.5")
    assert "first " in long and "last " in long and len(long) < 400


def test_page_has_a_heading_per_problem_its_checks_and_their_probes(hw2, tmp_path):
    html = write_key_html(hw2, tmp_path / "key.html").read_text()
    headings = re.findall(r'<h2 id="p([^"]+)">', html)
    assert headings == [p.id for p in hw2.problems]
    section = html.split('<h2 id="p2.1">')[1].split("<h2")[0]
    assert "<code>p2_1_W_star</code>" in section and "array[3] [ 1., -3.,  2.]" in section
    assert "Other computed values" in html and "distributed / params / lr" in html
    assert "<script" not in html and html.count("<svg") > 20


def test_summary_is_short_and_names_the_page(hw2, tmp_path):
    text = key_summary(hw2, tmp_path / "k.html")
    assert len(text.splitlines()) == 4 and hw2.key.meta["hash"][:12] in text
    assert f"{len(list(flatten(hw2.key.data)))} items" in text
    assert text.endswith(f"HTML answer key: {tmp_path / 'k.html'}")
