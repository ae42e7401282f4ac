"""duke-hw2 end to end: the solution scores every automatic point, the other accepted
conventions too (and the report names them), and each known mistake loses the points of what
is wrong and no others, with a message that names the symptom."""

from __future__ import annotations

import nbformat
import pytest

from tests.fixtures.duke_hw2.examples import EXAMPLES, EXAMPLES_LIST, SET, notebook
from tests.fixtures.results import find_check as check
from tests.fixtures.results import grade_examples, lost_points

BY_NAME = {e.name: e for e in EXAMPLES_LIST}
AUTO = 66  # 80 + 10 handout points, of which 24 are manual (T/F explanations and unkeyed answers...)


@pytest.fixture(scope="module")
def results(hw2, pool, course, tmp_path_factory):
    return grade_examples(SET, tmp_path_factory.mktemp("examples"), hw2, pool, course.limits)


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES_LIST])
def test_each_example_loses_exactly_its_mistake(results, name):
    example = BY_NAME[name]
    result = results[name]
    assert result.error is None
    lost = lost_points(result)
    assert set(lost) == set(example.loses), lost
    for key, points in example.loses.items():
        assert lost[key] == points, (key, lost[key], check(result, key).message)
    assert result.manual_pending == 24
    assert result.auto_points == pytest.approx(AUTO - sum(example.loses.values()))


@pytest.mark.parametrize("name", [e.name for e in EXAMPLES_LIST if e.variants])
def test_other_conventions_and_forms_score_full_marks_and_are_named(results, name):
    for key, variant in BY_NAME[name].variants.items():
        assert variant in (check(results[name], key).variant or ""), key


def test_solution_scores_every_automatic_point(results):
    result = results["solution"]
    assert result.auto_points == AUTO and result.max_points == 100 and result.extra_credit == 10
    assert {c.variant for p in result.problems for c in p.checks} >= {"sum_x2", "n+1 pointers"}


def test_solution_with_every_manual_point_scores_110_of_110(results):
    """The handout's problems are worth 80 + 10 extra credit; the course announces 100 + 10:
    the regular points scale x1.25 (grader.toml handout_points), extra credit does not."""
    import copy
    result = copy.deepcopy(results["solution"])
    for problem in result.problems:
        for part in problem.manual:
            part.points = part.max_points
    assert result.total == 110 and result.manual_pending == 0
    extra = [p for p in result.problems if p.extra_credit]
    assert [p.id for p in extra] == ["3.6", "4.3"]
    for problem in extra:  # without the extra credit: 100 of 100
        for part in problem.checks + problem.manual:
            part.points = 0
    assert result.total == 100


def test_free_text_answers_are_carried_for_the_instructor(results):
    by_id = {p.id: p for p in results["solution"].problems}
    assert "pruning removes weights" in by_id["1.3"].text
    assert by_id["3.5"].text.startswith("Your answer (3.5): trimmed L1")
    assert by_id["1.1"].text is None  # no answer cell
    assert [m.id for m in by_id["1.1"].manual] == ["answer", "explanation"]  # no key shipped
    assert [m.id for m in by_id["1.3"].manual] == ["explanation"]



def test_an_unkeyed_true_false_answer_is_recorded_for_the_instructor(results):
    """1.1 has no shipped key: its answer is graded by hand, so the report shows it."""
    from graders.report import render_report
    by_id = {p.id: p for p in results["solution"].problems}
    assert by_id["1.1"].manual[0].answer == "False"  # the solution's p1_true_false["1.1"]
    assert by_id["1.7"].manual[0].answer == "True"
    assert by_id["1.3"].manual[0].answer is None  # keyed: the check scores it
    assert "False" in render_report(results["solution"]).split('id="p1.1"')[1][:4000]


@pytest.mark.parametrize("name, key, words", [
    ("wrong-sign", "2.1/update", "differs from the key"),
    ("biased-terngrad", "2.3/terngrad", "ternary support holds; biased: case 1"),
    ("biased-terngrad", "2.3/history", "outputs are biased (the kept share is wrong"),
    ("probe-aware-terngrad", "2.3/terngrad", "while p2_3_train_terngrad trained"),
    ("trains-with-a-copy-of-terngrad", "2.3/history", "never called p2_3_terngrad"),
    ("terngrad-runs-are-the-sgd-history", "2.3/history", "not a stochastic method"),
    ("clip-after-update", "2.4/T=1", "steps match; first mismatch at step"),
    ("history-too-short", "2.2/history", "expected 51 rows (or 50: recorded before or after "
                                         "each step), each shape (3,), got shape (49, 3)"),
    ("cell-raises", "2.4/T=5", "cell 8, which defines it, failed (ValueError: T must be positive)"),
    ("infinite-loop", "2.2/history", "skipped: cell 6 exceeded 3 s"),
    ("10gb-allocation", "2.5/history", "exceeded the memory limit (2048 MB)"),
    ("tf-wrong", "1.3/answer", "True is not the answer"),
    ("prune-keeps-3", "3.2/final", "||W||_0 = 3 > 2: not sparse"),
    ("l1-without-sign", "3.3/lam=1", "W: 1 of 201 steps match; first mismatch at step 1"),
    ("hard-threshold", "3.4/t=0.01", "first mismatch at step 1"),
    ("trim-lambda-not-mu-lambda", "3.5/t=0.1", "first mismatch at step 1"),
    ("two-point-wrong-rows", "3.6/prune", "log L: 0 of 201 steps match"),
    ("csc-no-placeholders", "4.1/values", "no placeholder zeros"),
    ("csc-no-placeholders", "4.1/rel_index", "does not fit in the index bits"),
    ("csc-index-from-column-start", "4.1/rel_index", "counted from the column start"),
    ("pointer-width-this-matrix", "4.2/col_ptr_bits", "the hint asks for the worst case"),
    ("csc-size-without-pointers", "4.3/total_bits", "differs from the key"),
])
def test_messages_say_what_went_wrong(results, name, key, words):
    assert words in check(results[name], key).message


def test_follow_through_keeps_4_2_when_4_1_is_wrong(results):
    assert check(results["csc-no-placeholders"], "4.2/rel_index_bits").variant == \
        "follow-through from your 4.1 arrays (worst-case)"


def test_limits_are_reported_on_the_submission(results):
    assert results["infinite-loop"].limits_hit == ["cell 6 exceeded 3 s"]


def test_committed_example_notebooks_are_current():
    for example in EXAMPLES_LIST:
        committed = nbformat.read(EXAMPLES / f"{example.name}.ipynb", as_version=4)
        assert committed == notebook(example), "run: python -m tests.fixtures.duke_hw2.examples"
