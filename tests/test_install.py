"""A non-editable install: the wheel, in a fresh venv, grades a notebook outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from graders import ROOT, config
from tests.fixtures.duke_hw2.examples import EXAMPLES


def run(*argv, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing from the checkout
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_wheel_grades_a_notebook_outside_the_checkout(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ next to pyproject.toml
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    for package in ("graders", "reference"):
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, source)
    assert built.returncode == 0, built.stderr
    wheel, = tmp_path.glob("*.whl")
    venv = tmp_path / "venv"
    assert run(sys._base_executable, "-m", "venv", venv).returncode == 0
    installed = run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel)
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    checked = run(venv / "bin" / "grader", "--config", ROOT / "grader.toml", "check",
                  EXAMPLES / "wrong-sign.ipynb", "-o", elsewhere / "out", cwd=elsewhere,
                  timeout=600)  # the first run on a machine builds the student environment
    assert checked.returncode == 0, checked.stdout + checked.stderr
    title = config.load(ROOT / "grader.toml").assignments["duke-hw2"].title
    assert f"<h1>{title}</h1>" in (elsewhere / "out" / "report.html").read_text()
    where = run(venv / "bin" / "python", "-c", "import graders; print(graders.__file__)",
                cwd=elsewhere)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr
