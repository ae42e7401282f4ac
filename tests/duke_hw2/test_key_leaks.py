"""No key value in anything a student sees: the student-audience reports (HTML and result JSON)
of the shipped examples hold none of the key's distinctive numbers, formulas or sizes
(tests/fixtures/key_leaks.py), while the instructor's report shows them.

The student's own answers are blanked before the search (a right answer is a key value), and
so are plots' coordinates: a plot shown to a student must hold no key curve and no band."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from graders.assignment import load_assignment
from graders.grading import grade
from tests.fixtures.duke_hw2.examples import SET as HW2
from tests.fixtures.duke_hw4.examples import SET as HW4
from tests.fixtures.key_leaks import KeyTokens, seen

#: One example per kind of message that compares with the key (and the solution).
SHOWN = {"duke-hw2": (HW2, ["solution", "wrong-sign", "biased-terngrad", "clip-after-update",
                            "history-too-short", "prune-keeps-3", "trim-lambda-not-mu-lambda",
                            "l1-without-sign", "two-point-wrong-rows", "csc-no-placeholders",
                            "csc-index-from-column-start", "pointer-width-this-matrix",
                            "csc-size-without-pointers", "terngrad-runs-shifted",
                            "csc-4-2-from-empty-arrays"]),
         "duke-hw4": (HW4, ["update-without-factor-2", "prune-keeps-3", "l1-without-sign",
                            "accuracy-far-outside", "lab2-student-forms"])}
#: Graded for the instructor too: the search must find the key there.
INSTRUCTOR = ("wrong-sign", "pointer-width-this-matrix", "clip-after-update")


@pytest.fixture(scope="module")
def graded(course, pool, tmp_path_factory):
    """{(assignment, audience): {example: GradeResult}} and each assignment's key tokens."""
    jobs, tokens = [], {}
    for assignment_id, (examples, names) in SHOWN.items():
        assignment = load_assignment(course, assignment_id)
        tokens[assignment_id] = KeyTokens(assignment.key.data)
        folder = tmp_path_factory.mktemp(assignment_id)
        by_name = {e.name: e for e in examples.examples}
        for name in names:
            path = folder / f"{name}.ipynb"
            nbformat.write(examples.notebook(by_name[name]), path)
            for audience in ("student",) + (("instructor",) if name in INSTRUCTOR else ()):
                jobs.append((assignment_id, audience, name, path, assignment))
    with ThreadPoolExecutor(2) as threads:  # the tests' pool has two workers
        graded = threads.map(lambda j: grade(j[3], j[4], pool, course.limits, j[1], "test"),
                             jobs)
        out: dict = {}
        for (assignment_id, audience, name, _, _), result in zip(jobs, graded):
            out.setdefault((assignment_id, audience), {})[name] = result
    return out, tokens


@pytest.mark.parametrize("assignment_id", list(SHOWN))
def test_student_reports_hold_no_key_value(graded, assignment_id):
    results, tokens = graded
    for name, result in results[(assignment_id, "student")].items():
        assert tokens[assignment_id].leaks(seen(result)) == [], name
        for problem in result.problems:
            for check in problem.checks:
                assert check.expected is None and check.detail is None, (name, check.id)
                assert all(p.key is None and p.band is None for p in check.plots), name


def test_the_search_finds_the_key_in_instructor_reports(graded):
    """The same search on the instructor's reports: the key's values and formulas are there."""
    results, tokens = graded
    hw2 = results[("duke-hw2", "instructor")]
    text = "".join(seen(r) for r in hw2.values())
    leaks = tokens["duke-hw2"].leaks(text)
    assert any("." in t for t in leaks)  # numbers (details, expected values)
    assert any(t in leaks for t in tokens["duke-hw2"].formulas)  # 2.1's update formula
    assert "the key's is" in text  # a 4.2 detail
