"""Bad input gives one line naming the file (or key), the problem and the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from graders import ROOT, config
from graders.submission import SubmissionError, discover, load


def write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def notebook_text(*sources: str, version: int = 4) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    return nbformat.writes(nb)


@pytest.mark.parametrize("name, data, expected", [
    ("broken.ipynb", '{"cells": [', "not valid notebook JSON (line 1"),
    ("empty.ipynb", notebook_text(), "the notebook has no code"),
    ("latin1.ipynb", b'{"cells": "\xe9"}', "not UTF-8 text (byte 0xe9"),
    ("blank.py", "   \n", "the file is empty"),
    ("answers.toml", "W_star = [1, 2", "not valid TOML"),
    ("report.pdf", "%PDF", "unsupported file type '.pdf'"),
    ("weird.ipynb", '{"not": "a notebook"}', "not a Jupyter notebook"),
])
def test_unreadable_submissions_give_one_line_with_the_fix(tmp_path, name, data, expected):
    path = write(tmp_path, name, data)
    with pytest.raises(SubmissionError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(SubmissionError, match="no such file"):
        load(tmp_path / "nope.ipynb")


def test_v3_notebooks_are_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": []}]}]}
    sub = load(write(tmp_path, "old.ipynb", json.dumps(v3)))
    assert sub.cells == ["x = 1"]


def test_scripts_split_at_percent_markers_and_answer_sheets_are_values(tmp_path):
    sub = load(write(tmp_path, "hw.py", "a = 1\n# %% next\nb = 2\n#%%\nc = 3\n"))
    assert [c.strip() for c in sub.cells] == ["a = 1", "b = 2", "c = 3"]
    sheet = load(write(tmp_path, "answers.toml", 'assignment = "duke-hw2"\nW_star = [1, -3, 2]\n'))
    assert sheet.answers == {"W_star": [1, -3, 2]} and sheet.assignment_hint == "duke-hw2"
    assert sheet.student == tmp_path.name


def test_discover_finds_submissions_and_skips_checkpoints(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / ".ipynb_checkpoints").mkdir()
    write(tmp_path, "a/x.ipynb", notebook_text("x = 1"))
    write(tmp_path, ".ipynb_checkpoints/x-checkpoint.ipynb", notebook_text("x = 1"))
    write(tmp_path, "a/answers.toml", "x = 1")
    write(tmp_path, "a/pyproject.toml", "")
    assert sorted(p.name for p in discover([tmp_path])) == ["answers.toml", "x.ipynb"]


BASE = (ROOT / "grader.toml").read_text()


@pytest.mark.parametrize("edit, expected", [
    (("cell_seconds = 30", "cell_seconds = 'long'"), "[limits.cell_seconds] is 'long'; it must be a number"),
    (("cell_seconds = 30", "cell_secs = 30"), "[limits.cell_secs] is not a known setting"),
    (("handout_points = 80", "handout_points = 70"), "problems add up to 80 points, but handout_points = 70"),
    (("extra_credit = 10           #", "extra_credit = 5           #"),
     "extra-credit problems add up to 10 points, but extra_credit = 5"),
    (("zip_penalty = 0.2", "zip_penalty = 20"), "[assignments.duke-hw4.policies.zip_penalty] is 20; it is the share deducted, between 0 and 1"),
    (("zip_penalty = 0.2", "zip_fine = 0.2"), "[assignments.duke-hw4.policies.zip_fine] is not a known setting"),
    (("# late = { per_day = 0.1, free_days = 0, max_days = 5 }", "late = { free_days = 1 }"),
     "[assignments.duke-hw2.policies.late.per_day] is missing"),
    (("# late = { per_day = 0.1, free_days = 0, max_days = 5 }", "late = { per_day = 10 }"),
     "[assignments.duke-hw2.policies.late.per_day] is 10; it is the share deducted per day"),
    (('show_key = "instructor"', 'show_key = "sometimes"'), "show_key] is 'sometimes'; use one of always"),
    (("[grading]", "[grading\n"), "not valid TOML"),
])
def test_bad_grader_toml_names_the_key_and_the_fix(tmp_path, edit, expected):
    path = write(tmp_path, "grader.toml", BASE.replace(*edit, 1))
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert str(info.value).startswith(str(path)) and expected in str(info.value)


@pytest.mark.parametrize("edit, expected", [
    (("update = 2", "updte = 2"), "lists optimum, optimum_symbolic, updte, but the problem has"),
    (('"sum_x2", "mean_x2"', '"sum_x2", "median_x2"'), "unknown variant median_x2"),
    (("terngrad_runs = 4", "terngrad_runz = 4"), "missing terngrad_runs"),
    (('module = "duke_hw2"', 'module = "duke_hw9"'), "no module graders/assignments/duke_hw9.py"),
    (('"1.3" = false', '"1.3" = "no"'), "[assignments.duke-hw2.key.true_false.1.3] is 'no', not true or false"),
    (('"1.3" = false', '"1.11" = false'), "[assignments.duke-hw2.key.true_false.1.11] is not a known setting"),
    (('pointer_width = ["worst-case"]', 'pointer_width = ["widest"]'), "pointer_width: unknown variant widest"),
])
def test_grader_toml_must_match_the_assignment_module(tmp_path, edit, expected):
    from graders.assignment import load_assignment
    path = write(tmp_path, "grader.toml", BASE.replace(*edit, 1))
    with pytest.raises(config.ConfigError) as info:
        load_assignment(config.load(path), "duke-hw2")
    assert expected in str(info.value)


def test_late_policy_deducts_per_day_after_the_free_days_and_zeroes_past_the_maximum():
    from graders.policies import LatePolicy, Policies, apply, deductions
    late = Policies(late=LatePolicy(per_day=0.1, free_days=1, max_days=5))
    assert deductions(late, False, None) == [] and deductions(late, False, 1) == []
    assert apply(80, deductions(late, False, 3)) == pytest.approx(64)
    assert apply(80, deductions(late, False, 6)) == 0
    both = deductions(Policies(zip_penalty=0.2, late=LatePolicy(per_day=0.1)), True, 2)
    assert [d.policy for d in both] == ["zip_penalty", "late"]
    assert apply(100, both) == pytest.approx(100 * 0.8 * 0.8)


@pytest.mark.parametrize("name, data, expected", [
    ("deep.ipynb", '{"cells": ' + "[" * 100_000, "nested too deeply"),
    ("digits.ipynb", '{"nbformat": ' + "9" * 5000 + "}", "a number too long"),
    ("list.ipynb", "[1, 2]", "the JSON is a list, not an object"),
    ("nosource.ipynb", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "c0", "metadata": {}, "outputs": [],
         "execution_count": None}]}),
     "cell 1 has no source text"),
    ("answers.toml", "W = " + "[" * 2000 + "]" * 2000, "too large to check"),
    ("answers.toml", "W = [" + "1," * 2_000_001 + "]", "more than 2000000 values"),
    ("answers.toml", "W = " + "9" * 5000, "too large to check"),
])
def test_odd_inputs_are_submission_errors_never_other_exceptions(tmp_path, name, data, expected):
    path = write(tmp_path, name, data)
    with pytest.raises(SubmissionError) as info:
        load(path)
    assert str(info.value).startswith(str(path)) and expected in str(info.value)


def test_odd_grader_metadata_is_no_hint(tmp_path):
    nb = json.loads(notebook_text("x = 1"))
    for grader in ("duke-hw2", {"assignment": ["duke-hw2"]}, None):
        nb["metadata"]["grader"] = grader
        assert load(write(tmp_path, "odd.ipynb", json.dumps(nb))).assignment_hint is None


def test_names_that_are_not_utf8_or_hold_newlines_print_as_one_line(tmp_path):
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9\nx.ipynb"))
    odd.write_text("not json")
    with pytest.raises(SubmissionError) as info:
        load(odd)
    message = str(info.value)
    assert "caf\\xe9\\nx.ipynb" in message and "\n" not in message
    message.encode("utf-8")  # printable and writable as it is
    assert load(write(tmp_path, "=1+2.py", "x = 1")).student == "=1+2"


def test_a_pipe_or_a_path_with_a_nul_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "pipe.ipynb")
    with pytest.raises(SubmissionError, match="not a regular file"):
        load(tmp_path / "pipe.ipynb")
    with pytest.raises(SubmissionError, match=r"bad\\x00name.ipynb: no such file"):
        load(Path("bad\0name.ipynb"))


def test_discover_skips_unreadable_folders_and_link_loops(tmp_path):
    (tmp_path / "a").mkdir()
    write(tmp_path, "a/x.ipynb", notebook_text("x = 1"))
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    (tmp_path / "self.ipynb").symlink_to(tmp_path / "self.ipynb")
    odd = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.py")
    Path(odd).write_text("x = 1")
    assert [p.name for p in discover([tmp_path])] == ["x.ipynb", Path(odd).name]
