"""A batch does no work twice and none it does not need: the grader's own share of a class's
CPU (tests/benchmarks/bench_batch.py measures it) stays small beside the students' code."""

from __future__ import annotations

import gc
import hashlib
import shutil

import nbformat

from graders import batch, gradebook, submission
from graders.cli import _declared
from graders.identity import Plan
from tests.fixtures.duke_hw2.examples import EXAMPLES


def test_a_notebook_alone_is_hashed_from_its_bytes_without_reading_its_code(monkeypatch,
                                                                            tmp_path):
    """Its own modules are what make a notebook's hash more than its bytes' (a module beside
    it that it imports); with no .py beside it, there is no code to read for them."""
    folder = tmp_path / "alice"
    folder.mkdir()
    notebook = folder / "hw2.ipynb"
    shutil.copy(EXAMPLES / "solution.ipynb", notebook)
    expected = hashlib.sha256(notebook.read_bytes()).hexdigest()
    monkeypatch.setattr(submission, "load", lambda path: [][0])  # its code is not read
    assert gradebook.file_hash(notebook) == expected
    monkeypatch.undo()
    (folder / "helpers.py").write_text("x = 1\n")  # beside it, not imported: same hash
    assert gradebook.file_hash(notebook) == expected
    (folder / "FP_layers.py").write_text("y = 2\n")
    source = nbformat.read(notebook, as_version=4)
    source.cells[0].source = "import FP_layers\n" + source.cells[0].source
    nbformat.write(source, notebook)
    own = hashlib.sha256(notebook.read_bytes()).hexdigest()
    assert gradebook.file_hash(notebook) != own  # the module it imports counts
    (folder / "FP_layers.py").write_text("y = 3\n")
    assert gradebook.file_hash(notebook) not in (own, expected)


def test_the_class_declares_its_assignment_without_nbformat(monkeypatch, tmp_path):
    """Which assignment a class is comes from each notebook's metadata, read from its JSON
    (graders.submission.first_look) before any worker starts; a notebook that is not plain
    JSON declares nothing, as before, and is graded (and refused) later."""
    good = tmp_path / "a" / "hw2.ipynb"
    good.parent.mkdir()
    shutil.copy(EXAMPLES / "tf-wrong.ipynb", good)  # declares duke-hw2
    broken = tmp_path / "b" / "hw2.ipynb"
    broken.parent.mkdir()
    broken.write_text(good.read_text()[:500])
    reads = []
    original = nbformat.reads
    monkeypatch.setattr(nbformat, "reads", lambda *a, **k: reads.append(1) or original(*a, **k))
    assert _declared([good, broken]) == {"duke-hw2": [good]}
    assert reads == []


def test_the_exports_and_the_summary_read_the_gradebook_once(monkeypatch, tmp_path):
    """gradebook.csv, the class page and the printed summary share one reading of the
    stored results; a result recorded since is read again."""
    reads = []

    class Book:
        def records_without_plots(self):
            reads.append(1)
            return iter([])

        def key_arrays(self):
            return None

        def save(self, *args):
            pass

    monkeypatch.setattr(batch, "write_outputs", lambda result, folder: folder / "report.html")
    graded = batch.Batch.__new__(batch.Batch)
    graded.gradebook, graded._results, graded.out = Book(), None, tmp_path
    assert graded.results() == [] and graded.results() == []
    assert len(reads) == 1

    class Result:
        file, total = "hw2.ipynb", 1.0

        def to_record(self, arrays):
            return {}

    path = tmp_path / "hw2.ipynb"
    graded.plan = Plan([path], {path: type("Id", (), {"id": "alice"})()}, {path: "alice"})
    graded.hashes, graded.key_hash, graded.config_hash = {path: "h"}, "k", "c"
    graded.record(path, Result())
    graded.results()
    assert len(reads) == 2


def test_the_heap_is_frozen_while_a_class_is_graded_and_given_back(monkeypatch, tmp_path):
    """A full collection in the grader process walks what grading made, not the engine and
    the key (gc.freeze while grading; batch.frozen_heap)."""
    frozen, thresholds = [], []
    before, collected = gc.get_freeze_count(), gc.get_threshold()
    monkeypatch.setattr(batch, "grade", lambda path, *args: object())
    monkeypatch.setattr(batch, "judges_for", lambda assignment: Judges())

    def recorded(path, result):
        frozen.append(gc.get_freeze_count())
        thresholds.append(gc.get_threshold())
    batch.grade_batch([tmp_path / f"s{i}.ipynb" for i in range(3)], None, None, None,
                      "instructor", "", 2, recorded)
    assert len(frozen) == 3 and min(frozen) > before
    # the youngest generation is collected less often meanwhile, the others as before
    assert thresholds == [(50_000, *collected[1:])] * 3
    assert gc.get_freeze_count() == before and gc.get_threshold() == collected


class Judges:
    """judges_for's stand-in: records how many judges a batch starts at once."""

    def __init__(self):
        self.warmed = []

    def warm(self, count):
        self.warmed.append(count)


def test_a_batch_starts_a_judge_per_slot_at_once(monkeypatch, tmp_path):
    """Every slot's first answer finds its judge loaded: they start with the batch, not when
    two answers are first wanted together (the second slot then waited ~0.5 s for one)."""
    judges = Judges()
    monkeypatch.setattr(batch, "grade", lambda path, *args: object())
    monkeypatch.setattr(batch, "judges_for", lambda assignment: judges)
    files = [tmp_path / f"s{i}.ipynb" for i in range(3)]
    batch.grade_batch(files, None, None, None, "instructor", "", 2, lambda path, r: None)
    batch.grade_batch(files[:1], None, None, None, "instructor", "", 2, lambda path, r: None)
    assert judges.warmed == [2, 1]
