"""A stored result (the gradebook's row) rebuilds the same result, plots exactly."""

from __future__ import annotations

import json

import numpy as np

from graders.checks.base import Plot
from graders.grading import CheckResult, GradeResult, ProblemResult
from graders.judge import _Interned, check_from_json, check_to_json


def _result() -> GradeResult:
    student = np.array([[1.0, np.nan], [np.inf, -0.0], [1e-300, 3.25]])
    key = np.log1p(np.arange(6.0)).reshape(3, 2)
    plots = [Plot("log L", "log L_i", student, key, (key - 0.1, key + 0.1), ("w1", "w2")),
             Plot("no key", "y", np.float32([0.5, 0.25]), None)]
    check = CheckResult("c", "C", "trajectory", 2.0, 1.5, "3 of 4 steps match", "array[3, 2]",
                        None, "atol 1e-06", None, plots)
    return GradeResult("alice", "a.ipynb", "duke-hw2", "HW2", "instructor", "none",
                       [ProblemResult("2.2", "P", [check], [])])


def _plots_equal(a: list[Plot], b: list[Plot]) -> bool:
    same = lambda x, y: (x is None and y is None) or (  # noqa: E731
        x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes())
    return len(a) == len(b) and all(
        same(p.student, q.student) and same(p.key, q.key)
        and (p.band is None) == (q.band is None)
        and (p.band is None or all(same(x, y) for x, y in zip(p.band, q.band)))
        and (p.title, p.ylabel, p.labels) == (q.title, q.ylabel, q.labels)
        for p, q in zip(a, b))


def test_a_stored_result_rebuilds_its_plots_bit_for_bit():
    result = _result()
    stored = json.loads(json.dumps(result.to_record()))
    back = GradeResult.from_record(stored)
    expected = [Plot(p.title, p.ylabel, np.asarray(p.student, float),
                     None if p.key is None else np.asarray(p.key, float),
                     p.band, p.labels) for p in result.problems[0].checks[0].plots]
    assert _plots_equal(back.problems[0].checks[0].plots, expected)
    assert back.as_json() == result.as_json()
    plot = stored["problems"][0]["checks"][0]["plots"][0]
    assert set(plot["student"]) == {"shape", "f8"}  # bytes, not numbers written out


def test_results_stored_with_plots_as_numbers_still_load():
    result = _result()
    stored = json.loads(json.dumps(result.to_record()))
    for plot, original in zip(stored["problems"][0]["checks"][0]["plots"],
                              result.problems[0].checks[0].plots):  # the former form
        plot["student"] = np.asarray(original.student, float).tolist()
        plot["key"] = None if original.key is None else original.key.tolist()
        plot["band"] = None if original.band is None else [b.tolist() for b in original.band]
    back = GradeResult.from_record(json.loads(json.dumps(stored)))
    assert _plots_equal(back.problems[0].checks[0].plots,
                        GradeResult.from_record(result.to_record()).problems[0].checks[0]
                        .plots)


def test_a_key_curve_crosses_once_per_judge_then_by_reference():
    check = _result().problems[0].checks[0]
    interned = _Interned()
    first, again = check_to_json(check, interned), check_to_json(check, interned)
    assert "data" in first["plots"][0]["key"] and set(again["plots"][0]["key"]) == {"ref"}
    assert np.array_equal(check_from_json(check_to_json(check)).plots[0].student,
                          check.plots[0].student, equal_nan=True)


def test_a_gradebook_stores_each_key_curve_once_and_rebuilds_every_row(tmp_path):
    from types import SimpleNamespace

    from graders.gradebook import Gradebook
    book = Gradebook(tmp_path, "duke-hw2")
    results = [_result(), _result()]
    results[1].problems[0].checks[0].plots[0].student = np.zeros((3, 2))
    for number, result in enumerate(results):
        arrays = book.key_arrays()
        book.save(SimpleNamespace(id=f"s{number}", name="", layout="folder"), f"s{number}",
                  "a.ipynb", "h", "k", "c", result.to_record(arrays), result.total, arrays)
    assert book.db.execute("SELECT COUNT(*) FROM arrays").fetchone()[0] == 3  # key, band
    book.close()
    book = Gradebook(tmp_path, "duke-hw2")  # a resumed batch reads them back
    for number, result in enumerate(results):
        stored = book.row(f"s{number}").record
        assert "f8" not in json.dumps(stored["problems"][0]["checks"][0]["plots"][0]["key"])
        back = GradeResult.from_record(stored, book.array)
        assert _plots_equal(back.problems[0].checks[0].plots,
                            GradeResult.from_record(result.to_record()).problems[0].checks[0]
                            .plots)
    book.close()


def test_a_rows_plots_are_stored_beside_it_and_go_with_it(tmp_path):
    from types import SimpleNamespace

    from graders.gradebook import Gradebook
    book = Gradebook(tmp_path, "duke-hw2")
    result = _result()
    record = result.to_record(book.key_arrays())
    student = SimpleNamespace(id="s1", name="", layout="folder")
    book.save(student, "s1", "a.ipynb", "h", "k", "c", record, result.total)
    (text,) = book.db.execute("SELECT result FROM submissions").fetchone()
    assert "f8" not in text and '"plots": []' in text  # the row itself holds no curve
    assert [r["problems"][0]["checks"][0]["plots"] for r in book.records_without_plots()] \
        == [[]]
    assert book.row("s1").record == json.loads(json.dumps(record, default=str))
    # the same folder graded as another student: the earlier row and its plots both go
    book.save(SimpleNamespace(id="s2", name="", layout="folder"), "s1", "a.ipynb", "h", "k",
              "c", record, result.total)
    assert book.db.execute("SELECT id FROM plots").fetchall() == [("s2",)]
    assert book.row("s1") is None and book.row("s2").record["problems"] == \
        json.loads(json.dumps(record, default=str))["problems"]
    book.close()


def test_a_gradebook_written_with_the_plots_in_its_rows_reads_the_same(tmp_path):
    """A gradebook of an earlier version: no `plots` table, each row's plots in `result`."""
    import sqlite3

    from graders.gradebook import FILE_NAME, Gradebook
    record = json.loads(json.dumps(_result().to_record(), default=str))
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        db.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE submissions (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, layout TEXT NOT NULL,
                folder TEXT NOT NULL UNIQUE, file TEXT NOT NULL, file_hash TEXT NOT NULL,
                key_hash TEXT NOT NULL, config_hash TEXT NOT NULL, graded_at TEXT NOT NULL,
                total REAL NOT NULL, result TEXT NOT NULL);
            CREATE TABLE arrays (digest TEXT PRIMARY KEY, data TEXT NOT NULL);
            INSERT INTO meta VALUES ('assignment', 'duke-hw2');""")
        db.execute("INSERT INTO submissions VALUES ('s1', '', 'folder', 's1', 'a.ipynb', 'h', "
                   "'k', 'c', '2026-01-01T00:00:00Z', 1.0, ?)", (json.dumps(record),))
    book = Gradebook(tmp_path, "duke-hw2")
    assert book.row("s1").record == record
    assert record["problems"][0]["checks"][0]["plots"]
    assert [r["problems"][0]["checks"][0]["plots"] for r in book.records_without_plots()] \
        == [[]]
    book.close()
