"""Each attack earns nothing it did not earn honestly, leaks no key or reference content,
leaves the grader running and nothing behind, and gets a report that names what happened.
Across jobs: nothing an earlier job left is found by the next, and an honest notebook after a
saboteur scores exactly as when graded alone."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from graders import ROOT
from tests.adversarial.attacks import ATTACKS, CLASSMATE, PLANTED, PLANTED_SECRET, SECRET
from tests.adversarial.conftest import sandbox_processes

NAMES = [a.name for a in ATTACKS]
#: Text that only reading a forbidden file (or an earlier job's leftovers) could put into a report.
FORBIDDEN = ("def build_key", "HANDOUT_X", "[assignments.duke-hw2]", '"meta": {"assignment"',
             SECRET, CLASSMATE, "trajectory_rtol", PLANTED_SECRET.split(":")[1])


def result_of(item):
    assert item.result is not None, item.report
    return item.result


@pytest.mark.parametrize("name", NAMES)
def test_no_point_is_earned_dishonestly(graded, name):
    item = graded[name]
    assert result_of(item).auto_points == item.expected


@pytest.mark.parametrize("name", [a.name for a in ATTACKS if a.says])
def test_the_report_names_what_happened(graded, name):
    item = graded[name]
    assert item.attack.says in item.report


@pytest.mark.parametrize("name", NAMES)
def test_nothing_leaks_into_the_report(graded, name):
    report = graded[name].report
    for text in FORBIDDEN:
        assert text not in report, text


@pytest.mark.parametrize("name", [a.name for a in ATTACKS if a.before and not a.honest])
def test_nothing_an_earlier_job_left_is_found_by_the_next(graded, name):
    """The searcher ran every search to its end (memory, files, processes, IPC) and found
    none of the planter's markers."""
    assert "searched memory, files, processes, ipc; found nothing" in graded[name].report


@pytest.mark.parametrize("name", [a.name for a in ATTACKS if a.honest])
def test_an_honest_notebook_after_a_saboteur_scores_as_alone(graded, name):
    item = graded[name]
    result, alone = result_of(item), item.alone
    assert alone is not None and not alone.error and not alone.limits_hit
    points = lambda r: {(p.id, c.id): (c.points, c.message) for p in r.problems  # noqa: E731
                        for c in p.checks}
    assert points(result) == points(alone)
    assert result.limits_hit == [] and all(c.ok for c in result.cells) and result.error is None


@pytest.mark.parametrize("name", [a.name for a in ATTACKS if a.bomb])
def test_values_aimed_at_the_grader_are_refused_in_seconds(graded, name):
    assert result_of(graded[name]).seconds < 20


def test_no_gradebook_cell_starts_a_spreadsheet_formula(graded, tmp_path):
    from graders.report import write_gradebook
    write_gradebook([item.result for item in graded.values() if item.result], tmp_path / "g.csv")
    cells = [c for row in csv.reader((tmp_path / "g.csv").open()) for c in row]
    assert "'=2+5+cmd|' -C calc'!A0" in cells and "'-2+3+cmd" in cells
    risky = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")
             or (c[:1] == "-" and not c[1:].replace(".", "", 1).isdigit())]
    assert risky == []


def test_every_student_name_is_one_printable_line(graded):
    for item in graded.values():
        student = result_of(item).student
        assert student.encode("utf-8") and student.isprintable(), repr(student)
    assert result_of(graded["name-not-utf8"]).student == "caf\\xe9-not-utf8"


def test_reference_and_keys_were_unreadable_from_inside(graded):
    report = graded["read-reference-keys-and-classmates"].report
    assert report.count("No such file or directory") >= 3
    assert "No module named" in graded["import-reference-and-graders"].report


def test_no_connection_reached_the_host(graded, listener):
    with pytest.raises(BlockingIOError):
        listener.accept()
    update = next(c for p in graded["open-a-socket"].result.problems if p.id == "2.1"
                  for c in p.checks if c.id == "update")
    assert "connected" not in update.student
    assert "Connection refused" in update.student or "Network is unreachable" in update.student


def test_nothing_is_left_running_or_written_outside(graded):
    for path in PLANTED:
        assert not Path(path).exists(), path
    assert not (ROOT / "result.json").exists()
    assert (ROOT / "reference" / "distributed.py").exists()
    assert sandbox_processes() == []


def test_limits_are_reported_as_limits(graded):
    assert graded["busy-loop"].result.limits_hit == ["cell 1 exceeded 3 s"]
    assert graded["fork-bomb"].result.limits_hit == ["cell 1 exceeded 3 s"]


def test_instructor_grading_refuses_to_run_unisolated(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from graders.cli import main
    from graders.sandbox import isolation as iso
    from tests.fixtures.duke_hw2.examples import EXAMPLES
    monkeypatch.setattr(iso, "candidate", lambda *a, **k: None)  # a machine without bwrap
    monkeypatch.setattr(iso, "detect", lambda *a, **k: iso.Isolation("none", notes=["no bwrap"]))
    args = ["grade", str(EXAMPLES / "wrong-sign.ipynb"), "-o", str(tmp_path)]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "refusing to grade without isolation" in refused.output
    allowed = CliRunner().invoke(main, args + ["--no-isolation"])
    assert allowed.exit_code == 0
    assert "NOT ISOLATED" in (tmp_path / "wrong-sign" / "report.html").read_text()
