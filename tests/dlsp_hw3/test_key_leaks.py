"""No key value in what a dlsp-hw3 student sees (the rule of tests/duke_hw2/test_key_leaks.py):
every example's student report holds none of the key's distinctive numbers or formulas, the
mistakes' messages included; the instructor's report of a mistake shows them."""

from __future__ import annotations

import pytest

from graders.assignments import adaptive_problems, depth_width_problems
from reference import depth_width
from tests.fixtures.dlsp_hw3.examples import SET
from tests.fixtures.key_leaks import KeyTokens, seen
from tests.fixtures.results import grade_examples


@pytest.fixture(scope="module")
def graded(hw3, hw3_pool, course, tmp_path_factory):
    return {audience: grade_examples(SET, tmp_path_factory.mktemp(audience), hw3, hw3_pool,
                                     course.limits, audience)
            for audience in ("student", "instructor")}


def tokens(hw3) -> KeyTokens:
    """Every graded key value of dlsp-hw3 specific enough to grep: Problem 3's counts and
    formula, the hidden histories of 1.1's methods (and the hidden points they start from),
    the Eggholder function at 5.1's hidden points and the hidden networks' parameter counts
    in every convention, the parameter count of every network within the budget. Left out:
    the handout's own numbers (200 epochs, 100,000 points, a budget of 512, batch 256), which
    the key holds under names KeyTokens cannot tell apart from answers; the student's
    measurements, which are theirs."""
    x1, x2 = depth_width_problems.hidden_points()
    return KeyTokens({
        "cnn": hw3.key.data["cnn"],
        "adaptive": adaptive_problems.hidden_key()["histories"],
        "eggholder": depth_width.eggholder(x1, x2),
        "counts": [depth_width_problems.counts(list(ws)) for ws in depth_width_problems.NETWORKS],
        "architectures": [a["params"] for a in hw3.key.data["depth_width"]["architectures"]],
    })


def test_student_reports_hold_no_key_value(graded, hw3):
    found = tokens(hw3)
    for name, result in graded["student"].items():
        assert found.leaks(seen(result)) == [], name
        for problem in result.problems:
            for check in problem.checks:
                assert check.expected is None and check.detail is None, (name, check.id)


@pytest.mark.parametrize("name", ["vgg19-with-biases", "adam-without-bias-correction",
                                  "eggholder-without-the-shift-in-the-first-root"])
def test_the_search_finds_the_key_in_instructor_reports(graded, hw3, name):
    """The search is not blind: a mistake's instructor report shows the key's values (Problem
    3's counts, 1.1's hidden histories, 5.1's function values)."""
    assert tokens(hw3).leaks(seen(graded["instructor"][name]))
