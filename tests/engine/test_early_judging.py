"""A check's judge works while the job still runs (graders.judge.EarlyJudging): a problem is
judged once every probe it reads has answered. Judged early or at the end, a submission gets
the same marks, messages and displays; the judge's clock still bounds all of its work; and
the values are read as the student's cells left them, before any call can change them."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from graders import ROOT
from graders.assignment import Assignment, Problem
from graders.checks.base import Probe
from graders.execution import execute
from graders.grading import grade
from graders.judge import EarlyJudging, JudgeTimeout, check_to_json, judges_for, results_of
from graders.report import render_report
from graders.sandbox.worker import encode
from graders.submission import load

EXAMPLES = ROOT / "tests" / "fixtures" / "duke_hw2" / "examples"


def marks(result) -> list:
    """Everything a report shows of each check and manual part."""
    return [(problem.id, [(c.id, c.points, c.message, c.student, c.expected, c.variant,
                           c.detail) for c in problem.checks],
             [(part.id, part.answer) for part in problem.manual])
            for problem in result.problems]


def payloads_of(pool, course, hw2, notebook: str) -> dict[str, dict]:
    """The probes' payloads of one example as grading sends them to a judge."""
    ran = execute(pool, load(EXAMPLES / notebook).cells, hw2.probes(), course.limits,
                  decode=False)
    return {pid: {"ok": r.ok, "value": r.value, "error": r.error}
            for pid, r in ran.probes.items()}


def test_values_are_read_before_any_call_can_change_them(pool, course):
    """A student's training function that appends to a global history: the history probe
    reads what the cells left, whatever the order of the problems."""
    calls = Probe("train", "call", "train")
    history = Probe("history", "value", "history")
    assignment = Assignment(None, None, [
        Problem("1", "trains", checks=[SimpleNamespace(probes=[calls])]),
        Problem("2", "the history", checks=[SimpleNamespace(probes=[history])])])
    assert [p.id for p in assignment.probes()] == ["history", "train"]
    ran = execute(pool, ["history = [1.0]\n"
                         "def train():\n    history.append(2.0)\n    return len(history)"],
                  assignment.probes(), course.limits)
    assert ran.probes["history"].value == [1.0]
    assert ran.probes["train"].value == 2


def test_an_assignment_asks_every_probe_once_the_values_first(hw2):
    probes = hw2.probes()
    kinds = [p.kind for p in probes]
    assert kinds == sorted(kinds, key=lambda kind: kind != "value") and "call" in kinds
    read = set().union(*(hw2.probe_ids(problem) for problem in hw2.problems))
    assert len(probes) == len({p.id for p in probes}) and {p.id for p in probes} == read


def test_each_answer_is_heard_once_as_it_comes_and_a_lost_run_keeps_what_it_answered(
        pool, course):
    """`on_answer` hears the probes that answered, as they answer: not a failed one, and not
    again after a probe ended the worker and the rest were asked in a second run."""
    heard = []
    probes = [Probe("x", "value", "x"), Probe("boom", "call", "boom"),
              Probe("quit", "call", "quit"), Probe("y", "value", "y")]
    ran = execute(pool, ["import os\nx, y = 1, 2\ndef boom():\n    raise ValueError('no')\n"
                         "def quit():\n    os._exit(3)"], probes, course.limits,
                  on_answer=lambda pid, result: heard.append((pid, result.value)))
    assert ran.attempts == 2
    assert heard == [("x", 1), ("y", 2)]
    assert not ran.probes["boom"].ok and not ran.probes["quit"].ok
    assert {pid: ran.probes[pid].value for pid, _ in heard} == dict(heard)


@pytest.mark.parametrize("notebook", ["solution.ipynb", "student-style-lab.ipynb",
                                      "probe-aware-terngrad.ipynb", "cell-raises.ipynb"])
def test_judged_early_or_at_the_end_a_submission_gets_the_same_report(pool, course, hw2,
                                                                      notebook):
    at_end = grade(EXAMPLES / notebook, hw2, pool, course.limits, "instructor", "test")
    early = grade(EXAMPLES / notebook, hw2, pool, course.limits, "instructor", "test",
                  early=True)
    assert marks(early) == marks(at_end)
    assert early.auto_points == at_end.auto_points and early.error == at_end.error
    assert [c.ok for c in early.cells] == [c.ok for c in at_end.cells]
    early.seconds = at_end.seconds
    assert render_report(early) == render_report(at_end)


def test_problems_are_asked_as_their_probes_answer_and_the_answers_joined(pool, course, hw2):
    """Fed the solution's answers one by one, problems go to the judge before the job's
    end; the joined answer is the one request of the whole job's, problem by problem; a
    probe heard twice keeps its first answer."""
    payloads = payloads_of(pool, course, hw2, "solution.ipynb")
    judges = judges_for(hw2)
    whole_checks, whole_recorded = results_of(
        judges.ask({"probes": payloads, "audience": "student"}, 60))
    asking = EarlyJudging(judges, hw2, "student", 60)
    values = [p.id for p in hw2.probes() if p.kind == "value"]
    for probe_id in values:
        asking.answered(probe_id, payloads[probe_id])
    asking.answered(values[0], {"ok": True, "value": None, "error": None})  # heard again
    asked_early = set(asking._asked)
    assert asked_early and asked_early != set(whole_checks)  # some, not all, before the end
    checks, recorded = asking.finish(payloads)
    assert as_json(checks) == as_json(whole_checks) and recorded == whole_recorded


def as_json(checks: dict) -> dict:
    return {pid: [check_to_json(c) for c in results] for pid, results in checks.items()}


def test_the_judges_clock_bounds_early_and_late_requests_together(pool, course, hw2):
    """Out of time in an early request: no answer at all, as a single request out of time
    (grading then scores every check zero, "too large to check")."""
    payloads = payloads_of(pool, course, hw2, "solution.ipynb")
    asking = EarlyJudging(judges_for(hw2), hw2, "student", 0.0)
    for probe_id, payload in payloads.items():
        asking.answered(probe_id, payload)
    with pytest.raises(JudgeTimeout):
        asking.finish(payloads)
    result = grade(EXAMPLES / "solution.ipynb", hw2, pool, replace(course.limits, check_s=0.0),
                   "student", "test", early=True)
    assert result.auto_points == 0 and all("too large to check" in c.message
                                      for p in result.problems for c in p.checks)


class LosingPool:
    """A worker pool whose first run loses its worker while probe "y" runs (after "x"
    answered), as a zygote killed under a job does; the next run answers what it is asked."""

    def __init__(self):
        self.jobs = []

    def run(self, job, on_event=None):
        self.jobs.append([probe["id"] for probe in job.probes])
        events = [{"ev": "cell_start", "cell": 0}, {"ev": "cell_end", "cell": 0, "ok": True}]
        for probe in job.probes:
            events.append({"ev": "probe_start", "id": probe["id"]})
            if len(self.jobs) == 1 and probe["id"] == "y":
                break
            events.append({"ev": "probe_end", "id": probe["id"], "ok": True,
                           "value": encode(len(self.jobs))})
        else:
            events.append({"ev": "done"})
        for event in events:
            on_event(event)
        if events[-1]["ev"] == "done":
            return events + [{"ev": "end", "limit": None, "exit": 0}]
        return [{"ev": "end", "limit": None, "step": None, "exit": None,
                 "lost": "the worker did not answer", "seconds": None}]


def test_a_run_that_loses_its_worker_keeps_the_answers_it_gave(course):
    """The answers read before the worker was lost are final (the judge may have checked
    them already): the next run asks only the probes left, the one under way failed."""
    pool, heard = LosingPool(), []
    probes = [Probe(name, "value", name) for name in ("x", "y", "z")]
    ran = execute(pool, ["x = y = z = 1"], probes, course.limits,
                  on_answer=lambda pid, result: heard.append((pid, result.value)))
    assert pool.jobs == [["x", "y", "z"], ["z"]]
    assert heard == [("x", 1), ("z", 2)]
    assert ran.probes["x"].value == 1 and ran.probes["z"].value == 2
    assert not ran.probes["y"].ok and "stopped the worker" in ran.probes["y"].error


def test_what_breaks_on_the_asking_thread_is_raised_by_finish(pool, course, hw2, monkeypatch):
    """A bug of ours while an early answer is read costs the submission its automatic
    points with an internal error (grade's boundary), never a problem silently missing."""
    import graders.judge
    payloads = payloads_of(pool, course, hw2, "solution.ipynb")

    def broken(answer):
        raise KeyError("checks")
    monkeypatch.setattr(graders.judge, "results_of", broken)
    asking = EarlyJudging(judges_for(hw2), hw2, "student", 60)
    for probe_id, payload in payloads.items():
        asking.answered(probe_id, payload)
    with pytest.raises(KeyError):
        asking.finish(payloads)
