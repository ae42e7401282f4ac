"""duke-hw4 end to end (T/F, Lab 1, Lab 2), and its policies: the bonus is capped at 100 and a
zip upload loses 20 percent. Lab 1 is the same implementation as duke-hw2 3.x. Lab 2's
examples hand in FP_layers.py beside the notebook; each STE mistake loses the property it
breaks, and an accuracy far outside its band loses that band's share and is flagged."""

from __future__ import annotations

import copy
import zipfile

import nbformat
import pytest

from graders.assignment import load_assignment
from graders.grading import grade
from tests.fixtures.duke_hw4.examples import (EXAMPLES, EXAMPLES_LIST, SET, STE_EXAMPLES,
                                              fp_layers, notebook)
from tests.fixtures.results import find_check as check
from tests.fixtures.results import grade_examples, lost_points

BY_NAME = {e.name: e for e in EXAMPLES_LIST}
AUTO = 77  # T/F keys 1.1, 1.4, 1.9 (3) + Lab 1 (a)-(g) automatic parts (44) + Lab 2 (30)


@pytest.fixture(scope="module")
def hw4(course):
    return load_assignment(course, "duke-hw4")


@pytest.fixture(scope="module")
def results(hw4, pool, course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hw4")
    out = grade_examples(SET, folder, hw4, pool, course.limits)
    zipped = folder / "zipped.zip"
    with zipfile.ZipFile(zipped, "w") as archive:  # the student's folder, zipped
        archive.write(folder / "solution.ipynb", "hw4/hw4.ipynb")
        for module in ("FP_layers.py", "resnet20.py"):
            archive.write(folder / module, f"hw4/{module}")
    out["zipped"] = grade(zipped, hw4, pool, course.limits, "instructor", "test")
    return out


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES_LIST])
def test_each_example_loses_exactly_its_mistake(results, name):
    example, result = BY_NAME[name], results[name]
    assert result.error is None
    assert lost_points(result) == {k: float(v) for k, v in example.loses.items()}
    assert result.auto_points == pytest.approx(AUTO - sum(example.loses.values()))
    for key, variant in example.variants.items():
        assert variant in (check(result, key).variant or ""), key


def test_lab_messages_name_the_symptom(results):
    assert "differs from the key" in check(results["update-without-factor-2"],
                                            "L1.a/update").message
    assert "||W||_0 = 3 > 2" in check(results["prune-keeps-3"], "L1.c/final").message
    assert check(results["two-point-one-value-each"], "L1.g/l1").message.startswith(
        "chosen lam=0.5")


def full_manual(result):
    result = copy.deepcopy(result)
    for problem in result.problems:
        for part in problem.manual:
            part.points = part.max_points
    return result


def test_bonus_is_capped_at_100(results):
    full = full_manual(results["solution"])
    assert full.auto_points + sum(m.points for p in full.problems for m in p.manual) == 110
    assert full.total == 100 and full.cap


def test_zip_upload_loses_20_percent_of_the_capped_score(results, hw4):
    zipped = results["zipped"]
    assert zipped.from_zip and [d.policy for d in zipped.deductions] == ["zip_penalty"]
    assert zipped.total == pytest.approx(0.8 * AUTO)
    full = full_manual(zipped)
    assert full.total == pytest.approx(80)
    assert not results["solution"].deductions


def test_committed_example_notebooks_are_current():
    for example in EXAMPLES_LIST:
        path = SET.path_of(example, EXAMPLES)
        committed = nbformat.read(path, as_version=4)
        assert committed == notebook(example), "run: python -m tests.fixtures.duke_hw4.examples"
        assert (path.parent / "FP_layers.py").read_text() == fp_layers(
            STE_EXAMPLES.get(example.name)), path.parent
