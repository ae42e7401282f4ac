"""A small class graded for real (duke-hw2 examples: the solution, another convention, a wrong
True/False, a raising cell, an infinite loop, and a file that is not a notebook), written as
a batch folder: <student>/report.html for each, and the class page index.html."""

from __future__ import annotations

from dataclasses import replace

import pytest

from graders.classpage import write_class_page
from graders.grading import grade
from graders.report import write_result
from tests.fixtures.duke_hw2.examples import SET
from tests.fixtures.results import grade_examples

NAMES = ("solution", "mean-convention", "tf-wrong", "cell-raises", "infinite-loop")


@pytest.fixture(scope="session")
def graded_class(hw2, pool, course, tmp_path_factory):
    """(folder, {student: GradeResult}) with every report and the class page written."""
    subset = replace(SET, examples=tuple(e for e in SET.examples if e.name in NAMES))
    notebooks = tmp_path_factory.mktemp("notebooks")
    results = grade_examples(subset, notebooks, hw2, pool, course.limits)
    corrupt = notebooks / "corrupt.ipynb"
    corrupt.write_text("{not json")
    results["corrupt"] = grade(corrupt, hw2, pool, course.limits, "instructor", "test")
    folder = tmp_path_factory.mktemp("class")
    for result in results.values():
        write_result(result, folder / result.student)
    write_class_page(list(results.values()), folder, hw2.config.title)
    return folder, results
