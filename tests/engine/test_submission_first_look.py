"""The first look at a submission (graders.submission.first_look: its JSON alone, no nbformat)
reads what `load` reads wherever it vouches for a file, and vouches for nothing `load` would
refuse; `grader check` starts its job from it, yet refuses with load's message (no mark, no
report) a notebook that nbformat refuses."""

from __future__ import annotations

import json

import pytest

from graders import ROOT
from graders.submission import SubmissionError, first_look, load
from tests.fixtures.cli import invoke

FIXTURES = ROOT / "tests" / "fixtures"
SHIPPED = sorted(FIXTURES.rglob("*.ipynb")) + sorted((ROOT / "student_template").rglob("*.ipynb"))


def fields(submission) -> tuple:
    return (submission.cells, submission.markdown, submission.assignment_hint,
            submission.files, submission.student, submission.path)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_first_look_reads_every_shipped_notebook_as_load_does(path):
    seen = first_look(path)
    try:
        loaded = load(path)
    except SubmissionError:
        assert seen is None
        return
    assert seen is not None and fields(seen) == fields(loaded)


def cell(kind: str, source, **extra) -> dict:
    return {"cell_type": kind, "metadata": extra.pop("metadata", {}), "source": source, **extra}


def code(source, **extra) -> dict:
    return cell("code", source, execution_count=None, outputs=extra.pop("outputs", []),
                **extra)


#: Notebooks as the tools students use save them (their JSON as written, not nbformat's).
FORMS = {
    "jupyterlab-4.5": {"nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3"}}, "cells": [
        cell("markdown", ["# HW2\n", "Your answer (2.1): the sum\n"], id="a1"),
        code(["import numpy as np\n", "\n", "W = np.ones(3)"], id="b2"),
        code([], id="c3"), cell("raw", ["not code"], id="d4")]},
    "vscode-4.2": {"nbformat": 4, "nbformat_minor": 2, "metadata": {
        "language_info": {"name": "python"}, "grader": {"assignment": "duke-hw2"}},
        "cells": [code("x = 1\r\ny = 2\r\n"), code("   \n"), code(["z = 'é ✓'"])]},
    "colab-4.0": {"nbformat": 4, "nbformat_minor": 0, "metadata": {"colab": {"provenance": []}},
                  "cells": [code(["print(1)"], metadata={"id": "Xy1"}, outputs=[
                      {"output_type": "stream", "name": "stdout", "text": ["1\n"]},
                      {"output_type": "display_data", "metadata": {},
                       "data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]}}])]},
    "lone-surrogate": {"nbformat": 4, "nbformat_minor": 4, "metadata": {},
                       "cells": [code(["s = '\ud800'"])]},
    "grader-metadata-not-text": {"nbformat": 4, "nbformat_minor": 4,
                                 "metadata": {"grader": {"assignment": 7}},
                                 "cells": [code("x = 1")]},
}


@pytest.mark.parametrize("form", FORMS)
def test_the_first_look_reads_each_tools_notebook_as_load_does(tmp_path, form):
    path = tmp_path / "hw2.ipynb"
    path.write_text(json.dumps(FORMS[form], indent=1), "utf-8")
    seen, loaded = first_look(path), load(path)
    assert seen is not None and fields(seen) == fields(loaded)


def test_the_first_look_brings_the_modules_beside_the_notebook(tmp_path):
    (tmp_path / "FP_layers.py").write_text("from helpers import *\nA = 1\n")
    (tmp_path / "helpers.py").write_text("B = 2\n")
    path = tmp_path / "hw4.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                "cells": [code(["from FP_layers import *"], id="x")]}))
    assert first_look(path).files == load(path).files == {
        "FP_layers.py": "from helpers import *\nA = 1\n", "helpers.py": "B = 2\n"}


V4 = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}}
#: Files the first look does not vouch for: load refuses them, or reads them with nbformat's
#: conversion (v3), or they are not notebooks it reads quickly (answer sheets, zips, folders).
NOT_VOUCHED = {
    "broken.ipynb": '{"cells": [',
    "latin1.ipynb": b'{"cells": "\xe9"}',
    "empty.ipynb": "",
    "list.ipynb": "[1, 2]",
    "no-code.ipynb": json.dumps({**V4, "cells": [cell("markdown", "hi")]}),
    "blank-code.ipynb": json.dumps({**V4, "cells": [code("  \n")]}),
    "v3.ipynb": json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [
        {"cells": [{"cell_type": "code", "input": "x = 1", "outputs": []}]}]}),
    "v5.ipynb": json.dumps({**V4, "nbformat": 5, "cells": [code("x = 1")]}),
    "no-version.ipynb": json.dumps({"metadata": {}, "cells": [code("x = 1")]}),
    "cells-object.ipynb": json.dumps({**V4, "cells": {"0": code("x = 1")}}),
    "cell-not-object.ipynb": json.dumps({**V4, "cells": ["x = 1"]}),
    "cell-without-metadata.ipynb": json.dumps({**V4, "cells": [
        {"cell_type": "code", "source": "x = 1", "outputs": []}]}),
    "source-numbers.ipynb": json.dumps({**V4, "cells": [code([1, 2])]}),
    "source-missing.ipynb": json.dumps({**V4, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": []}]}),
    "deep.ipynb": "[" * 100_000 + "]" * 100_000,
    "long-number.ipynb": '{"nbformat": 4, "x": ' + "9" * 5000 + "}",
    "answers.toml": 'W_star = [1, 2]\n',
    "hw.zip": b"PK\x03\x04 not really",
    "notes.txt": "x = 1",
}


@pytest.mark.parametrize("name", NOT_VOUCHED)
def test_the_first_look_vouches_for_nothing_load_refuses_or_converts(tmp_path, name):
    path = tmp_path / name
    data = NOT_VOUCHED[name]
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    assert first_look(path) is None


def test_the_first_look_of_what_is_not_a_readable_file_is_none(tmp_path):
    (tmp_path / "folder.ipynb").mkdir()
    assert first_look(tmp_path / "missing.ipynb") is None
    assert first_look(tmp_path / "folder.ipynb") is None
    assert first_look(tmp_path) is None  # a folder is load's to open


#: A v4 notebook that the first look reads (its cells are plain) but nbformat refuses: a code
#: cell's outputs that are not a list (nbformat's reading iterates them: TypeError).
REFUSED = {**V4, "cells": [code(["who = 42"], outputs=5)]}


def test_check_refuses_what_nbformat_refuses_though_its_job_started_from_the_first_look(
        config_path, tmp_path, monkeypatch):
    from graders.sandbox.pool import Worker
    path = tmp_path / "hw2.ipynb"
    path.write_text(json.dumps({**REFUSED, "metadata": {"grader": {"assignment": "duke-hw2"}}}))
    assert first_look(path) is not None
    with pytest.raises(SubmissionError) as refused:
        load(path)
    started, closed = [], []
    original_start, original_kill = Worker.start, Worker.kill

    def start(self, job, job_id):
        started.append(original_start(self, job, job_id))
        return started[-1]

    def kill(self):
        closed.append(self._ahead is not None or self.proc.poll() is None)
        original_kill(self)

    from graders import keys
    monkeypatch.setattr(keys, "remembered_probes", lambda assignment: [])  # a job starts
    monkeypatch.setattr(Worker, "start", start)
    monkeypatch.setattr(Worker, "kill", kill)
    out = tmp_path / "out"
    result = invoke(config_path, "check", path, "-o", out)
    assert result.exit_code == 2
    assert f"error: {refused.value}" in result.output and "TypeError" in result.output
    assert "total:" not in result.output and not out.exists()  # no mark, no report
    assert started == [True] and closed == [True]  # the job ran ahead, then was killed
