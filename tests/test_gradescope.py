"""The Gradescope bundle: its layout, run_autograder against a folder laid out like /autograder,
results.json valid against Gradescope's documented format and equal in score to `grader grade`."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from graders.gradescope import pick_submission
from tests.fixtures.cli import invoke
from tests.fixtures.duke_hw2.examples import EXAMPLES

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
#: Gradescope's results.json (gradescope-autograders.readthedocs.io/en/latest/specs/, "Output
#: format"): a score on the whole or on every test; tests with name, score, max_score, status,
#: number, output, tags, visibility, extra_data; the whole with execution_time, output,
#: visibility, stdout_visibility, extra_data, leaderboard.
RESULTS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": FORMAT,
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["max_score", "name"],
            "properties": {
                "score": {"type": "number"},
                "max_score": {"type": "number", "minimum": 0},
                "status": {"enum": ["passed", "failed"]},
                "name": {"type": "string"},
                "name_format": FORMAT,
                "number": {"type": "string"},
                "output": {"type": "string"},
                "output_format": FORMAT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY,
                "extra_data": {"type": "object"},
            }}},
    },
    "anyOf": [{"required": ["score"]},
              {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}}],
}


@pytest.fixture(scope="module")
def bundle(config_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    done = invoke(config_path, "gradescope", "duke-hw2", "-o", out)
    assert done.exit_code == 0, done.output
    return out


def autograder(bundle: Path, tmp_path: Path, submission: dict[str, Path]) -> dict:
    """Unpack the bundle as Gradescope does (into source/, run_autograder copied to the root),
    put the submission's files under submission/, run run_autograder with this interpreter,
    and return results.json."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    os.chmod(root / "run_autograder", 0o755)
    for name, path in submission.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / "submission" / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(AUTOGRADER_ROOT=str(root), GRADER_PYTHON=sys.executable)
    done = subprocess.run([root / "run_autograder"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def graded_total(config_path: Path, path: Path, tmp_path: Path) -> float:
    out = tmp_path / "graded"
    done = invoke(config_path, "grade", path, "-o", out, "-a", "duke-hw2")
    assert done.exit_code == 0, done.output
    result, = out.glob("*/result.json")
    return json.loads(result.read_text())["total"]


def test_the_bundle_holds_setup_run_autograder_and_the_grader(bundle):
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        setup = z.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "grader.toml", "pyproject.toml",
            "graders/gradescope.py", "reference/distributed.py"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert "bubblewrap" in setup and "grader --config grader.toml env duke-hw2" in setup
    assert not any(n.startswith(("tests/", "student_template/")) for n in names)


@pytest.mark.parametrize("example", ["solution.ipynb", "wrong-sign.ipynb"])
def test_run_autograder_writes_valid_results_equal_to_grader_grade(bundle, config_path,
                                                                   tmp_path, example):
    results = autograder(bundle, tmp_path, {"hw2.ipynb": EXAMPLES / example})
    jsonschema.validate(results, RESULTS)
    assert results["score"] == graded_total(config_path, EXAMPLES / example, tmp_path)
    tests = results["tests"]
    hidden = [t for t in tests if t["max_score"] > 0]
    assert hidden and all(t["visibility"] == "after_due_date" for t in hidden)
    public = [t for t in tests if " public: " in t["name"]]
    assert public and all(t["visibility"] == "visible" and t["max_score"] == 0 for t in public)
    manual = [t for t in tests if "(manual)" in t["name"]]
    assert manual and all(t["output"].startswith("pending") and t["max_score"] == 0
                          for t in manual)
    report, = [t for t in tests if t["name"] == "Report"]
    assert not re.search(r"</?(div|span|svg|table|td|style)\b", report["output"])
    assert "duke-hw2" in report["output"]
    if example == "wrong-sign.ipynb":
        assert results["score"] < 80


def test_a_broken_submission_scores_zero_with_its_reason(bundle, config_path, tmp_path):
    broken = tmp_path / "hw2.ipynb"
    broken.write_text('{"cells": [')
    results = autograder(bundle, tmp_path, {"hw2.ipynb": broken})
    jsonschema.validate(results, RESULTS)
    assert results["score"] == graded_total(config_path, broken, tmp_path) == 0
    assert any("JSON" in t["output"] or "not graded" in t["output"] for t in results["tests"])


def test_an_empty_upload_gets_a_valid_zero(bundle, tmp_path):
    results = autograder(bundle, tmp_path, {})
    jsonschema.validate(results, RESULTS)
    assert results["score"] == 0 and "no submission found" in results["output"]


def test_the_submission_is_found_in_every_accepted_layout(tmp_path):
    def layout(name: str, files: dict[str, str]) -> Path:
        folder = tmp_path / name
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        return folder

    notebook = (EXAMPLES / "solution.ipynb").read_text()
    one = layout("one", {"deep/folder/hw2.ipynb": notebook})
    assert pick_submission(one, "duke-hw2")[0] == one / "deep/folder/hw2.ipynb"
    modules = layout("modules", {"hw4.ipynb": '{"cells": [{"cell_type": "code", "id": "c1", "source": '
                                 '"import FP_layers", "metadata": {}, "outputs": [], '
                                 '"execution_count": null}], "metadata": {}, "nbformat": 4, '
                                 '"nbformat_minor": 5}', "FP_layers.py": "x = 1\n"})
    assert pick_submission(modules, "duke-hw4")[0] == modules / "hw4.ipynb"
    sheet = layout("sheet", {"answers.toml": "p3_1_alexnet_total = 1\n", "notes.py": "x = 1\n"})
    assert pick_submission(sheet, "dlsp-hw3")[0] == sheet / "answers.toml"
    two = layout("two", {"a.ipynb": notebook, "b.ipynb": notebook})
    path, why = pick_submission(two, "duke-hw4")
    assert path is None and "several submissions" in why
    assert pick_submission(two, "duke-hw2")[0] is None  # both declare it: still ambiguous
    assert pick_submission(layout("empty", {}), "duke-hw2")[0] is None


def test_unisolated_grading_is_refused_unless_the_bundle_allows_it(config_path, tmp_path,
                                                                  monkeypatch):
    from graders import gradescope
    from graders.sandbox import isolation
    monkeypatch.setattr(isolation, "detect", lambda: isolation.Isolation(
        "none", notes=["bwrap: not found"]))
    (tmp_path / "submission").mkdir()
    shutil.copy(EXAMPLES / "solution.ipynb", tmp_path / "submission" / "hw2.ipynb")
    refused = gradescope.grade_into(tmp_path, "duke-hw2", config_path, "after_due_date", False)
    jsonschema.validate(refused, RESULTS)
    assert refused["score"] == 0 and "cannot sandbox" in refused["output"]
