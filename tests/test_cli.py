"""The `grader` command as users run it."""

from __future__ import annotations

import csv
import shutil

import pytest
from click.testing import CliRunner

from graders import ROOT
from graders.cli import main
from tests.fixtures.duke_hw2.examples import EXAMPLES


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "grader.toml"
    path.write_text((ROOT / "grader.toml").read_text().replace("cell_seconds = 30",
                                                               "cell_seconds = 3"))
    return path


def invoke(config_path, *args):
    return CliRunner().invoke(main, ["--config", str(config_path), *map(str, args)])


@pytest.mark.parametrize("command", [[], ["check"], ["grade"], ["key"], ["list"]])
def test_every_command_explains_itself(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output and len(result.output) > 150


def test_list_shows_points(config_path):
    result = invoke(config_path, "list")
    assert result.exit_code == 0
    assert "duke-hw2" in result.output and "2.3     5 pts" in result.output


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
    assert "total: 20 / 25 automatic, 3 pending manual grading" in result.output
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
    assert "done: 5 graded (2 unreadable)" in result.output
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows["solution"]["total"] == "22" and rows["solution"]["manual_pending"] == "3"
    assert rows["corrupt"]["total"] == "0" and "not valid notebook JSON" in rows["corrupt"]["error"]
    assert "not UTF-8" in rows["latin1"]["error"]
    assert rows["infinite-loop"]["error"] == "cell 5 exceeded 3 s"
    for name in rows:
        assert (out / name / "report.html").exists() and (out / name / "result.json").exists()
    assert "could not be graded" in (out / "corrupt" / "report.html").read_text()


def test_key_writes_text_and_html(config_path, tmp_path):
    result = invoke(config_path, "key", "duke-hw2", "-o", tmp_path)
    assert result.exit_code == 0
    assert "distributed / W_star: array[3] [ 1., -3.,  2.]" in result.output
    html = (tmp_path / "duke-hw2-key.html").read_text()
    assert html.count("<svg") > 20 and "http" not in html.replace("http://www.w3.org/2000/svg", "")


def test_unknown_assignment_is_a_clear_error(config_path):
    result = invoke(config_path, "key", "duke-hw9")
    assert result.exit_code == 2 and "no assignment 'duke-hw9'" in result.output
