"""Each attack earns nothing it did not earn honestly, leaks no key or reference content,
leaves the grader running and nothing behind, and gets a report that names what happened."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graders import ROOT
from tests.adversarial.attacks import ATTACKS, CLASSMATE, PLANTED, SECRET
from tests.adversarial.conftest import sandbox_processes, write_attack

NAMES = [a.name for a in ATTACKS]
#: Text that only reading a forbidden file could put into a report.
FORBIDDEN = ("def build_key", "HANDOUT_X", "[assignments.duke-hw2]", '"meta": {"assignment"',
             SECRET, CLASSMATE, "trajectory_rtol")


@pytest.mark.parametrize("name", NAMES)
def test_no_point_is_earned_dishonestly(graded, name):
    item = graded[name]
    assert item.result.auto_points == item.attack.honest_points


@pytest.mark.parametrize("name", NAMES)
def test_the_report_names_what_happened(graded, name):
    item = graded[name]
    assert item.attack.says in item.report


@pytest.mark.parametrize("name", NAMES)
def test_nothing_leaks_into_the_report(graded, name):
    report = graded[name].report
    for text in FORBIDDEN:
        assert text not in report, text


def test_reference_and_keys_were_unreadable_from_inside(graded):
    report = graded["read-reference-keys-and-classmates"].report
    assert report.count("No such file or directory") >= 3
    assert "No module named" in graded["import-reference-and-graders"].report


def test_no_connection_reached_the_host(graded, listener):
    with pytest.raises(BlockingIOError):
        listener.accept()
    update = next(c for p in graded["open-a-socket"].result.problems if p.id == "2.1"
                  for c in p.checks if c.id == "update")
    assert "Connection refused" in update.student and "connected" not in update.student


def test_nothing_is_left_running_or_written_outside(graded):
    assert sandbox_processes() == []
    for path in PLANTED:
        assert not Path(path).exists(), path
    assert not (ROOT / "result.json").exists()
    assert (ROOT / "reference" / "distributed.py").exists()


def test_limits_are_reported_as_limits(graded):
    assert graded["busy-loop"].result.limits_hit == ["cell 1 exceeded 3 s"]
    assert graded["fork-bomb"].result.limits_hit == ["cell 1 exceeded 3 s"]


def test_honest_submissions_grade_the_same_in_a_batch_of_attacks(graded, hw2, course, isolation,
                                                                 listener, tmp_path):
    """A batch mixing attacks with honest notebooks (through the CLI, two workers) grades the
    honest ones exactly as when they are graded alone."""
    import csv

    from click.testing import CliRunner

    from graders.cli import main
    from tests.fixtures.duke_hw2.examples import EXAMPLES
    batch = tmp_path / "batch"
    batch.mkdir()
    honest = ["solution", "wrong-sign", "mean-convention"]
    for name in honest:
        shutil.copy(EXAMPLES / f"{name}.ipynb", batch / f"{name}.ipynb")
    # a classmate's notebook with a private marker an attacker looks for
    text = (EXAMPLES / "solution.ipynb").read_text().replace("import numpy as np",
                                                             f"import numpy as np  # {CLASSMATE}", 1)
    (batch / "classmate.ipynb").write_text(text)
    for attack in ATTACKS:
        if attack.name in ("fork-bomb", "busy-loop", "sleep-forever", "ignore-sigterm",
                           "daemon-outlives-job", "read-reference-keys-and-classmates",
                           "os-exit-mid-notebook", "50gb-allocation", "zip-traversal"):
            write_attack(attack, batch, listener.getsockname()[1])
    config = tmp_path / "grader.toml"
    config.write_text((ROOT / "grader.toml").read_text().replace("cell_seconds = 30",
                                                                 "cell_seconds = 3"))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["--config", str(config), "grade", str(batch), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert len(rows) == len(list(batch.iterdir()))
    for name in honest:
        alone = CliRunner().invoke(main, ["--config", str(config), "grade",
                                          str(EXAMPLES / f"{name}.ipynb"), "-o", str(tmp_path / name)])
        assert alone.exit_code == 0
        solo = next(csv.DictReader((tmp_path / name / "gradebook.csv").open()))
        assert {k: v for k, v in rows[name].items() if k != "file"} == \
            {k: v for k, v in solo.items() if k != "file"}
    assert rows["classmate"]["total"] == rows["solution"]["total"]
    assert CLASSMATE not in (out / "read-reference-keys-and-classmates" / "report.html").read_text()
    assert sandbox_processes() == []


def test_instructor_grading_refuses_to_run_unisolated(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from graders.cli import main
    from graders.sandbox import isolation as iso
    from tests.fixtures.duke_hw2.examples import EXAMPLES
    monkeypatch.setattr(iso, "detect", lambda *a, **k: iso.Isolation("none", notes=["no bwrap"]))
    args = ["grade", str(EXAMPLES / "wrong-sign.ipynb"), "-o", str(tmp_path)]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "refusing to grade without isolation" in refused.output
    allowed = CliRunner().invoke(main, args + ["--no-isolation"])
    assert allowed.exit_code == 0
    assert "NOT ISOLATED" in (tmp_path / "wrong-sign" / "report.html").read_text()
