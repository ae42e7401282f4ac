"""The `grader` command as users run it."""

from __future__ import annotations

import csv
import shutil

import pytest
from click.testing import CliRunner

from graders.cli import main
from tests.fixtures.cli import invoke
from tests.fixtures.duke_hw2.examples import EXAMPLES




@pytest.mark.parametrize("command", [[], ["check"], ["grade"], ["key"], ["list"]])
def test_every_command_explains_itself(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output and len(result.output) > 150


def test_list_shows_points(config_path):
    result = invoke(config_path, "list")
    assert result.exit_code == 0
    assert "duke-hw2" in result.output and "2.3     5 pts" in result.output
    assert "3.6     5 extra" in result.output and "scale x1.25 to 100" in result.output


def test_check_a_corrupt_notebook_exits_2_with_one_line(config_path, tmp_path):
    bad = tmp_path / "hw2.ipynb"
    bad.write_text('{"cells": [')
    result = invoke(config_path, "check", bad)
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "not valid notebook JSON" in result.output
    assert "Traceback" not in result.output


def test_check_prints_a_table_and_writes_the_report(config_path, tmp_path):
    result = invoke(config_path, "check", EXAMPLES / "wrong-sign.ipynb", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    # 64 automatic points: 55 regular (x1.25 to the announced 100) + 9 extra credit
    # 24 handout points of manual parts pending: 23 regular (x1.25) and 1 of extra credit
    assert "total: 77.75 / 100 automatic, 29.75 pending manual grading" in result.output
    html = (tmp_path / "report.html").read_text()
    assert "differs from the key" in html and "<svg" in html
    assert "not shown" in html  # a student's self-check does not reveal key values


def test_grade_a_folder_does_not_stop_at_broken_submissions(config_path, tmp_path):
    batch = tmp_path / "in"
    batch.mkdir()
    for name in ("solution", "cell-raises", "infinite-loop"):
        shutil.copy(EXAMPLES / f"{name}.ipynb", batch / f"{name}.ipynb")
    (batch / "corrupt.ipynb").write_text("{not json")
    (batch / "latin1.py").write_bytes(b"x = '\xe9'\n")
    out = tmp_path / "out"
    result = invoke(config_path, "grade", batch, "-o", out)  # assignment from the notebooks
    assert result.exit_code == 0, result.output
    assert "5 submission(s): mean" in result.output and "2 x could not be read" in result.output
    assert "[1/5] " in result.output and "[5/5] " in result.output
    assert "1 x cell time limit" in result.output
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows["solution"]["total"] == "80.25"  # 57 regular x 1.25 + 9 extra credit
    assert rows["solution"]["auto"] == "66" and rows["solution"]["manual_pending"] == "24"
    assert rows["corrupt"]["total"] == "0" and "not valid notebook JSON" in rows["corrupt"]["error"]
    assert "not UTF-8" in rows["latin1"]["error"]
    assert rows["infinite-loop"]["error"] == "cell 6 exceeded 3 s"
    for name in rows:
        assert (out / name / "report.html").exists() and (out / name / "result.json").exists()
    assert "could not be graded" in (out / "corrupt" / "report.html").read_text()


def test_key_writes_html_and_prints_a_summary(config_path, tmp_path):
    result = invoke(config_path, "key", "duke-hw2", "-o", tmp_path)
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) <= 6 and "distributed / W_star" not in result.output
    assert lines[0].startswith("duke-hw2: ") and " items: " in result.output
    assert lines[-1] == f"HTML answer key: {tmp_path / 'duke-hw2-key.html'}"
    html = (tmp_path / "duke-hw2-key.html").read_text()
    assert html.count("<svg") > 20 and "http" not in html.replace("http://www.w3.org/2000/svg", "")


def test_key_full_prints_every_item(config_path, tmp_path):
    result = invoke(config_path, "key", "duke-hw2", "-o", tmp_path, "--full")
    assert result.exit_code == 0
    assert "distributed / W_star: array[3] [ 1., -3.,  2.]" in result.output
    assert result.output.strip().splitlines()[-1].startswith("HTML answer key: ")


def test_unknown_assignment_is_a_clear_error(config_path):
    result = invoke(config_path, "key", "duke-hw9")
    assert result.exit_code == 2 and "no assignment 'duke-hw9'" in result.output


def test_list_says_which_true_false_keys_are_left_to_the_instructor(config_path):
    output = invoke(config_path, "list").output
    assert "1.3     2 pts   auto: answer 1   (T/F key shipped)" in output
    assert '(no T/F key: answer graded by hand until [assignments.duke-hw2.key.true_false] "1.7" is set)' in output
    assert "capped at 100" in output and "20% deducted for a submission uploaded as a zip" in output


def test_manual_scores_from_the_gradebook_give_the_final_mark(config_path, tmp_path):
    batch = tmp_path / "in"
    batch.mkdir()
    shutil.copy(EXAMPLES / "solution.ipynb", batch / "solution.ipynb")
    first = invoke(config_path, "grade", batch, "-o", tmp_path / "a")
    assert first.exit_code == 0, first.output
    rows = list(csv.DictReader((tmp_path / "a" / "gradebook.csv").open()))
    manual = [c for c in rows[0] if c.endswith((" explanation", " comment", " compare", " trend",
                                                " compare_l1", " compare_pruning"))
              or (c.endswith(" answer") and rows[0][c] == "")]
    assert len(manual) == 24  # one column per manual part, 1 point each
    for column in manual:
        rows[0][column] = "1"
    filled = tmp_path / "filled.csv"
    with filled.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    second = invoke(config_path, "grade", batch, "-o", tmp_path / "b", "--manual", filled)
    assert second.exit_code == 0, second.output
    row = next(csv.DictReader((tmp_path / "b" / "gradebook.csv").open()))
    assert row["total"] == "110" and row["manual_pending"] == "0"
    assert "pruning removes weights" in (tmp_path / "b" / "solution" / "report.html").read_text()


def test_a_bad_manual_score_names_the_line_and_column(config_path, tmp_path):
    bad = tmp_path / "manual.csv"
    bad.write_text("student,3.3 comment\nsolution,7\n")
    result = invoke(config_path, "grade", EXAMPLES / "solution.ipynb", "-o", tmp_path / "o",
                    "--manual", bad)
    assert result.exit_code == 2
    assert "line 2, column '3.3 comment': '7' is not a number between 0 and 1" in result.output
