"""duke-hw2 2.1-2.5 end to end: the solution scores full marks, each known mistake loses the
points of what is wrong and no others, with a message that says what."""

from __future__ import annotations

import pytest

from graders.grading import grade
from tests.fixtures.duke_hw2.examples import EXAMPLES, EXAMPLES_LIST, notebook

BY_NAME = {e.name: e for e in EXAMPLES_LIST}


@pytest.fixture(scope="module")
def results(hw2, pool, course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    out = {}
    for example in EXAMPLES_LIST:
        import nbformat
        path = folder / f"{example.name}.ipynb"
        nbformat.write(notebook(example), path)
        out[example.name] = grade(path, hw2, pool, course.limits, "instructor", "test")
    return out


def lost_points(result) -> dict[str, float]:
    return {f"{p.id}/{c.id}": round(c.max_points - c.points, 4)
            for p in result.problems for c in p.checks if c.points < c.max_points}


def check(result, name):
    problem, check_id = name.split("/")
    return next(c for p in result.problems if p.id == problem for c in p.checks
                if c.id == check_id)


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES_LIST])
def test_each_example_loses_exactly_its_mistake(results, name):
    example = BY_NAME[name]
    result = results[name]
    assert result.error is None
    lost = lost_points(result)
    assert set(lost) == set(example.loses), lost
    for key, points in example.loses.items():
        assert lost[key] == points, (key, lost[key], check(result, key).message)
    assert result.manual_pending == 3


def test_solution_scores_every_automatic_point(results):
    result = results["solution"]
    assert result.auto_points == 22 and result.max_points == 25
    assert {c.variant for p in result.problems for c in p.checks} >= {"sum_x2"}


def test_mean_convention_is_accepted_and_named(results):
    result = results["mean-convention"]
    assert result.auto_points == 22
    assert check(result, "2.2/history").variant == "mean_x2"
    assert check(result, "2.1/update").variant == "mean_x2"


@pytest.mark.parametrize("name, key, words", [
    ("wrong-sign", "2.1/update", "differs from the key"),
    ("biased-terngrad", "2.3/terngrad", "ternary support holds; biased: case 1"),
    ("clip-after-update", "2.4/T=1", "steps match; first mismatch at step"),
    ("history-too-short", "2.2/history", "expected shape (51, 3), got shape (50, 3)"),
    ("cell-raises", "2.4/T=5", "cell 7, which defines it, failed (ValueError: T must be positive)"),
    ("infinite-loop", "2.2/history", "skipped: cell 5 exceeded 3 s"),
    ("10gb-allocation", "2.5/history", "exceeded the memory limit (2048 MB)"),
])
def test_messages_say_what_went_wrong(results, name, key, words):
    assert words in check(results[name], key).message


def test_limits_are_reported_on_the_submission(results):
    assert results["infinite-loop"].limits_hit == ["cell 5 exceeded 3 s"]


def test_committed_example_notebooks_are_current():
    import nbformat
    for example in EXAMPLES_LIST:
        committed = nbformat.read(EXAMPLES / f"{example.name}.ipynb", as_version=4)
        assert committed == notebook(example), f"run: python -m tests.fixtures.duke_hw2.examples"
