"""dlsp-hw3 end to end: the solution (notebook and answer sheet) scores every automatic
point, the other accepted conventions and numbers written as text too (the report names
them), each known mistake loses the points of what is wrong and no others, with a message
that names the symptom, and constants passed off as measurements earn nothing. Plots,
explanations and comparisons are pending, with their points."""

from __future__ import annotations

import copy

import nbformat
import pytest

from graders.grading import grade
from tests.fixtures.dlsp_hw3.examples import ANSWERS, EXAMPLES_LIST, SET
from tests.fixtures.results import find_check as check
from tests.fixtures.results import grade_examples, lost_points

BY_NAME = {e.name: e for e in EXAMPLES_LIST}
AUTO = 65.5    # Problem 1: 1.1 code 3, 1.2 curves 2, 1.3 curves 1.5 and times 1, 1.4 scaling 1
               # and accuracies 1; Problem 2: batches 1, time 1, cost 1, efficiency 2, 2.5
               # all-reduce 3, 2.6 collectives 2; Problem 3: 24 of its 30 points; 4.1 cutout 2,
               # 4.2 curve 1, 4.3 batch augmentation 2, curves 1, epochs to 94% 2, accuracy 0.5,
               # times 0.5; 5.1: the function 3, the counts 3, the data set 4, the RMSEs 3
MANUAL = 64.5  # 130 - 65.5: plots, explanations, comparisons


@pytest.fixture(scope="module")
def results(hw3, hw3_pool, course, tmp_path_factory):
    out = grade_examples(SET, tmp_path_factory.mktemp("examples"), hw3, hw3_pool, course.limits)
    out["answers.toml"] = grade(ANSWERS, hw3, hw3_pool, course.limits, "instructor", "test")
    return out


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES_LIST])
def test_each_example_loses_exactly_its_mistake(results, name):
    example, result = BY_NAME[name], results[name]
    assert result.error is None
    lost = lost_points(result)
    assert set(lost) == set(example.loses), lost
    for key, points in example.loses.items():
        assert lost[key] == pytest.approx(points), (key, lost[key], check(result, key).message)
    assert result.manual_pending == MANUAL
    assert result.auto_points == pytest.approx(AUTO - sum(example.loses.values()))


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES_LIST if e.variants])
def test_other_conventions_and_forms_score_full_marks_and_are_named(results, name):
    for key, variant in BY_NAME[name].variants.items():
        assert variant in (check(results[name], key).variant or ""), key


def test_the_answer_sheet_scores_every_point_of_what_it_holds(results):
    """This sheet holds Problem 3, 1.4's accuracies and 5.1's RMSEs (TOML tables keyed by
    strings: "RMSProp+Nesterov", "16x128", "144"): the rest is missing."""
    result = results["answers.toml"]
    lost = lost_points(result)
    assert result.error is None and {k.split("/")[0] for k in lost} == {
        "1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "4.1", "4.2",
        "4.3", "5.1"}
    assert "1.4/accuracy" not in lost and "5.1/rmse" not in lost
    assert result.auto_points == 24 + 1 + 3 and result.max_points == 130
    assert "written as text" in check(result, "3.4/reduction_ops").variant
    assert check(result, "1.4/accuracy").variant == "percent"


def test_solution_with_every_manual_point_scores_130(results):
    result = copy.deepcopy(results["solution"])
    for problem in result.problems:
        for part in problem.manual:
            part.points = part.max_points
    assert result.total == 130 and result.manual_pending == 0
    assert [p.id for p in result.problems][:11] == ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2",
                                                    "2.3", "2.4", "2.5", "2.6", "3.1"]


@pytest.mark.parametrize("name, key, words", [
    ("vgg19-with-biases", "3.2/weights", "19 of 25 values differ; first at index (1,)"),
    ("receptive-field-n-times-f", "3.3/formula", "differs from the key at"),
    ("pool-branch-as-convolution", "3.4/naive_ops", "1 of 4 values differ; first at index (3,)"),
    ("vgg-cell-3.3M", "3.2/activations", "1 of 25 values differ; first at index (1,)"),
    ("cutout-never-clips", "4.1/cutout", "meets the border along the rows never"),
    ("one-mask-for-all-copies", "4.3/batch_augment", "copies share one mask"),
    ("inverted-weak-scaling-efficiency", "2.4/efficiency",
     "3 of 5 values inconsistent; first at learner count 3"),
    ("loss-curves-rising", "1.2/curves", "5 of 5 curves wrong; adagrad: does not fall"),
    ("epochs-to-94-of-the-best-epoch", "4.3/epochs_to_94",
     "5 of 5 entries disagree with your curves; M = 2: reported as reached, but your curve "
     "never gets there"),
    ("dataset-noise-3", "5.1/dataset", "noise y - f(x) of standard deviation 3"),
    ("dataset-10k-points", "5.1/dataset", "10000 points in all, not the text's 100000"),
    ("constants-for-measurements", "2.5/variants", "every entry is the same number"),
    ("constants-for-measurements", "5.1/dataset", "y does not follow the function"),
    ("constants-for-measurements", "5.1/rmse", "every network has the same RMSE"),
    ("eggholder-without-the-shift-in-the-first-root", "5.1/dataset",
     "y does not follow the function"),
])
def test_mistakes_are_named_by_their_symptom(results, name, key, words):
    assert words in check(results[name], key).message


def test_committed_examples_are_the_built_ones(tmp_path):
    for path in SET.build(tmp_path):
        committed = SET.folder / path.name
        assert nbformat.read(committed, 4) == nbformat.read(path, 4), path.name
