"""No key value in what a dlsp-hw3 student sees (the rule of tests/duke_hw2/test_key_leaks.py):
every example's student report holds none of the key's distinctive numbers or formulas, the
mistakes' messages included; the instructor's report of a mistake shows them."""

from __future__ import annotations

import pytest

from tests.fixtures.dlsp_hw3.examples import SET
from tests.fixtures.key_leaks import KeyTokens, seen
from tests.fixtures.results import grade_examples


@pytest.fixture(scope="module")
def graded(hw3, hw3_pool, course, tmp_path_factory):
    return {audience: grade_examples(SET, tmp_path_factory.mktemp(audience), hw3, hw3_pool,
                                     course.limits, audience)
            for audience in ("student", "instructor")}


def tokens(hw3) -> KeyTokens:
    """The graded part of the key (Problem 3's): the other topics hold the handout's own
    numbers (200 epochs, a budget of 512 units) under names KeyTokens cannot tell apart."""
    return KeyTokens(hw3.key.data["cnn"])


def test_student_reports_hold_no_key_value(graded, hw3):
    found = tokens(hw3)
    for name, result in graded["student"].items():
        assert found.leaks(seen(result)) == [], name
        for problem in result.problems:
            for check in problem.checks:
                assert check.expected is None and check.detail is None, (name, check.id)


def test_the_search_finds_the_key_in_instructor_reports(graded, hw3):
    text = seen(graded["instructor"]["vgg19-with-biases"])
    assert tokens(hw3).leaks(text)
