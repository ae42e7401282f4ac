"""dlsp-hw3's student template runs as handed out, names what the grader reads, and scores
zero; its answer sheet is valid TOML that names only graded values."""

from __future__ import annotations

import tomllib

from graders import ROOT
from graders.grading import grade
from graders.submission import load

FOLDER = ROOT / "student_template" / "dlsp-hw3"
#: Values an answer sheet cannot hold: 5.1's data set, arrays of 100,000 points.
NOTEBOOK_ONLY = {"p5_1_x_train", "p5_1_y_train", "p5_1_x_test", "p5_1_y_test"}


def test_template_runs_without_errors_and_scores_zero(hw3, hw3_pool, course):
    path = FOLDER / "hw3.ipynb"
    assert load(path).assignment_hint == "dlsp-hw3"
    result = grade(path, hw3, hw3_pool, course.limits, "student", "test")
    assert result.error is None and result.limits_hit == []
    assert all(cell.ok for cell in result.cells), [c.error for c in result.cells if not c.ok]
    assert result.auto_points == 0 and result.total == 0


def test_template_names_every_value_the_grader_reads(hw3):
    notebook = (FOLDER / "hw3.ipynb").read_text()
    sheet = (FOLDER / "answers.toml").read_text()
    for probe in hw3.probes():
        assert f"`{probe.name}`" in notebook, probe.name
        if probe.name in NOTEBOOK_ONLY:
            assert probe.name in sheet, probe.name  # the sheet says they go in the notebook
        else:
            assert probe.kind == "call" or f"# {probe.name} = " in sheet, probe.name
    for problem in hw3.problems:
        if problem.manual:
            assert f"Your answer ({problem.id})" in notebook, problem.id


def test_the_blank_answer_sheet_holds_only_its_assignment():
    assert tomllib.loads((FOLDER / "answers.toml").read_text()) == {"assignment": "dlsp-hw3"}
