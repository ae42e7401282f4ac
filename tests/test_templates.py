"""The student templates run as handed out, name what the grader reads, and score zero."""

from __future__ import annotations

import pytest

from graders import ROOT
from graders.assignment import load_assignment
from graders.grading import grade
from graders.submission import load

TEMPLATES = {"duke-hw2": ROOT / "student_template" / "duke-hw2" / "hw2.ipynb",
             "duke-hw4": ROOT / "student_template" / "duke-hw4" / "hw4.ipynb"}


@pytest.mark.parametrize("assignment", list(TEMPLATES))
def test_template_runs_without_errors_and_scores_zero(assignment, course, pool):
    loaded = load_assignment(course, assignment)
    path = TEMPLATES[assignment]
    assert load(path).assignment_hint == assignment
    result = grade(path, loaded, pool, course.limits, "student", "test")
    assert result.error is None and result.limits_hit == []
    assert all(cell.ok for cell in result.cells), [c.error for c in result.cells if not c.ok]
    assert result.auto_points == 0 and result.total == 0


@pytest.mark.parametrize("assignment", list(TEMPLATES))
def test_template_names_every_value_the_grader_reads(assignment, course):
    loaded = load_assignment(course, assignment)
    text = TEMPLATES[assignment].read_text()
    for probe in loaded.probes():
        assert f"`{probe.name}" in text, probe.name  # in a table of names, with its type
    for problem in loaded.problems:
        if problem.manual and problem.id != "L2":
            assert f"Your answer ({problem.id})" in text, problem.id
