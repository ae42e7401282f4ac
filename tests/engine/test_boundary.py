"""One submission costs at most its own marks: checking runs under a clock in a judge process,
an internal error zeroes that submission only (the traceback goes to the log, not the
report), and a report that cannot be written still leaves a report saying why."""

from __future__ import annotations

import logging
from dataclasses import replace

from graders import batch, grading
from graders.identity import RESERVED, folder_name
from graders.grading import grade
from graders.report import render_report
from tests.fixtures.duke_hw2.examples import EXAMPLES

WRONG_SIGN = EXAMPLES / "wrong-sign.ipynb"


def test_checking_that_overruns_its_clock_scores_zero_and_the_next_is_checked(hw2, pool,
                                                                             course):
    hurried = replace(course.limits, check_s=1e-4)
    late = grade(WRONG_SIGN, hw2, pool, hurried, "instructor", "test")
    assert late.auto_points == 0
    assert late.limits_hit == ["too large to check: checking the answers took longer than "
                               "0.0001 s"]
    assert all("too large to check" in c.message for p in late.problems for c in p.checks)
    again = grade(WRONG_SIGN, hw2, pool, course.limits, "instructor", "test")
    assert again.auto_points > 0 and again.limits_hit == []  # a fresh judge took over


def test_an_internal_error_costs_that_submission_only_and_is_logged(hw2, pool, course,
                                                                  monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(grading, "execute", broken)
    with caplog.at_level(logging.ERROR, logger="graders"):
        result = grade(WRONG_SIGN, hw2, pool, course.limits, "student", "test")
    assert result.error.startswith("internal error: RuntimeError: a bug of ours")
    assert result.auto_points == 0 and len(result.problems) == len(hw2.problems)
    assert "Traceback" in caplog.text and "Traceback" not in render_report(result)
    monkeypatch.undo()
    assert grade(WRONG_SIGN, hw2, pool, course.limits, "student", "test").error is None


def test_a_report_that_cannot_be_written_still_leaves_one(hw2, pool, course, monkeypatch,
                                                          tmp_path):
    result = grade(WRONG_SIGN, hw2, pool, course.limits, "instructor", "test")
    real = batch.write_result
    calls = []

    def fails_once(res, folder):
        calls.append(folder)
        if len(calls) == 1:
            raise ValueError("a value the template cannot show")
        return real(res, folder)

    monkeypatch.setattr(batch, "write_result", fails_once)
    report = batch.write_outputs(result, tmp_path / "student")
    assert report.exists() and "the full report could not be written" in report.read_text()


def test_student_ids_never_become_a_batch_file_or_leave_the_output_folder():
    ids = ["gradebook.csv", "=HYPERLINK(x)", "../../etc", "alice", "caf\udce9", "", "index.html"]
    names = [folder_name(student) for student in ids]
    assert not set(n.lower() for n in names) & RESERVED
    assert all(n and n[0].isalnum() and "/" not in n and ".." not in n for n in names)
    assert names[3] == "alice"
