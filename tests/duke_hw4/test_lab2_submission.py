"""A Lab 2 submission's layouts: the folder (hw4.ipynb, FP_layers.py, resnet20.py), a zip of
it, or the notebook with FP_layers.py beside it. The modules its code imports travel with the
notebook (Submission.files) and are never submissions of their own."""

from __future__ import annotations

import shutil
import zipfile

import nbformat
import pytest

from graders.submission import SubmissionError, discover, imported_names, load
from tests.fixtures.duke_hw4.examples import EXAMPLES, TEMPLATE


def _student(folder, with_resnet: bool = True):
    folder.mkdir(parents=True)
    shutil.copyfile(EXAMPLES / "solution.ipynb", folder / "hw4.ipynb")
    shutil.copyfile(EXAMPLES / "FP_layers.py", folder / "FP_layers.py")
    if with_resnet:
        shutil.copyfile(TEMPLATE / "resnet20.py", folder / "resnet20.py")
    (folder / "scratch.py").write_text("print('not imported by the notebook')\n")
    return folder


def test_imports_are_read_as_students_write_them():
    code = ["import os, torch as T\nfrom FP_layers import *\n%matplotlib inline",
            "  from resnet20 import resnet20  # indented\nimport numpy.linalg\nx = 'import y'"]
    assert imported_names(code) == {"os", "torch", "FP_layers", "resnet20", "numpy"}


def test_the_notebook_brings_the_modules_it_imports(tmp_path):
    folder = _student(tmp_path / "alice")
    submission = load(folder / "hw4.ipynb")
    assert set(submission.files) == {"FP_layers.py", "resnet20.py"}
    assert "class STE" in submission.files["FP_layers.py"]


def test_fp_layers_alone_beside_the_notebook(tmp_path):
    folder = _student(tmp_path / "bob", with_resnet=False)
    assert set(load(folder / "hw4.ipynb").files) == {"FP_layers.py"}


def test_a_folder_is_its_notebook(tmp_path):
    folder = _student(tmp_path / "carol")
    submission = load(folder)
    assert submission.path.name == "hw4.ipynb" and set(submission.files) == {
        "FP_layers.py", "resnet20.py"}
    (folder / "old.ipynb").write_text((folder / "hw4.ipynb").read_text())
    with pytest.raises(SubmissionError, match="2 notebooks"):
        load(folder)


def test_a_zip_of_the_folder(tmp_path):
    folder = _student(tmp_path / "dave")
    archive = tmp_path / "dave.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.iterdir():
            zipped.write(path, f"dave/{path.name}")
    submission = load(archive)
    assert submission.from_zip and set(submission.files) == {"FP_layers.py", "resnet20.py"}


def test_modules_are_not_submissions_in_a_batch(tmp_path):
    _student(tmp_path / "class" / "alice")
    _student(tmp_path / "class" / "bob")
    found = discover([tmp_path / "class"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found) == [
        "class/alice/hw4.ipynb", "class/alice/scratch.py", "class/bob/hw4.ipynb",
        "class/bob/scratch.py"]


def test_a_module_that_is_not_code_is_refused_by_name(tmp_path):
    folder = _student(tmp_path / "erin")
    (folder / "FP_layers.py").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(SubmissionError, match="FP_layers.py: not UTF-8"):
        load(folder / "hw4.ipynb")


def test_the_template_notebook_imports_both_modules():
    notebook = nbformat.read(TEMPLATE / "hw4.ipynb", as_version=4)
    assert {"FP_layers", "resnet20"} <= imported_names([c.source for c in notebook.cells
                                                        if c.cell_type == "code"])
    assert set(load(TEMPLATE / "hw4.ipynb").files) == {"FP_layers.py", "resnet20.py"}


def test_a_notebook_without_its_modules_is_graded_with_the_reason(tmp_path, course, pool):
    """Handed in alone, the notebook's imports fail in the sandbox: (a) scores zero saying
    FP_layers is missing; the accuracy table is still graded."""
    from graders.assignment import load_assignment
    from graders.grading import grade
    from tests.fixtures.results import find_check
    shutil.copyfile(EXAMPLES / "solution.ipynb", tmp_path / "hw4.ipynb")
    result = grade(tmp_path / "hw4.ipynb", load_assignment(course, "duke-hw4"), pool,
                   course.limits, "student", "test")
    edge = find_check(result, "L2.a/edge")
    assert edge.points == 0 and "FP_layers is not defined" in edge.message
    assert find_check(result, "L2.b/float").points == 1


def test_editing_a_module_changes_the_submission_hash(tmp_path):
    """An interrupted batch regrades a student whose FP_layers.py changed."""
    from graders.gradebook import file_hash
    folder = _student(tmp_path / "frank")
    before = file_hash(folder / "hw4.ipynb")
    (folder / "scratch.py").write_text("# not imported: no change\n")
    assert file_hash(folder / "hw4.ipynb") == before
    (folder / "FP_layers.py").write_text((folder / "FP_layers.py").read_text() + "\n# edit\n")
    assert file_hash(folder / "hw4.ipynb") != before
