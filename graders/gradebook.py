"""The batch's gradebook: a SQLite database in the output folder. TRUSTED side.

OUT/gradebook.sqlite (write-ahead log) holds one row per student, written in one transaction
per graded submission, after its report is on disk:

  id, name, layout    the student id (graders/identity.py), a display name, where it came from
  folder              OUT/<folder>/ holds report.html and result.json
  file, file_hash     the submission and the SHA-256 of its bytes
  key_hash            the answer key it was graded against (graders/keys.py)
  config_hash         the grading settings (the assignment's section of grader.toml, limits)
  graded_at, total    when (UTC) and the final mark
  result              the whole GradeResult but its plots (GradeResult.to_record), as JSON

its plots beside it in `plots` (id, JSON: {"problem/check": that check's plots}), the plots'
key curves (the same for every student) as {"ref": digest}, and the key curves once each in
`arrays` (digest, the array's JSON), all written in the row's transaction. The plots hold
nearly all of a result's bytes (some 400 kB of a duke-hw2 result's 410 kB): apart, the
exports and the summary read a class's results without them (Gradebook.records_without_plots).
A gradebook written before `plots` existed holds them in `result`; it is read the same.

A batch killed at any moment loses at most the submissions being graded: a rerun finds every
committed row, and grades again only what is missing, changed (file hash), or graded under
another key or settings, or everything with --regrade. Every export (gradebook.csv, the class
page) is written from this database, so no export disagrees with the reports.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, layout TEXT NOT NULL, folder TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL, file_hash TEXT NOT NULL, key_hash TEXT NOT NULL,
    config_hash TEXT NOT NULL, graded_at TEXT NOT NULL, total REAL NOT NULL,
    result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS arrays (digest TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plots (id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""
FILE_NAME = "gradebook.sqlite"


class GradebookError(ValueError):
    """The gradebook belongs to another assignment, or cannot be opened."""


@dataclass(frozen=True)
class Row:
    id: str
    name: str
    layout: str
    folder: str
    file: str
    file_hash: str
    key_hash: str
    config_hash: str
    graded_at: str
    total: float
    result: str
    plots: str | None = None  # {"problem/check": plots} as JSON (None: in `result`)

    @property
    def record(self) -> dict:
        """The stored GradeResult.to_record, its plots put back in place."""
        record = json.loads(self.result)
        if self.plots is not None:
            plots = json.loads(self.plots)
            for p, problem in enumerate(record["problems"]):
                for c, check in enumerate(problem["checks"]):
                    check["plots"] = plots.get(f"{p}/{c}", [])
        return record


def plots_apart(record: dict) -> tuple[dict, dict]:
    """(the record with every check's plots emptied, {"problem/check": the plots taken}),
    the record itself left as it is."""
    plots, problems = {}, []
    for p, problem in enumerate(record["problems"]):
        checks = []
        for c, check in enumerate(problem["checks"]):
            if check.get("plots"):
                plots[f"{p}/{c}"] = check["plots"]
            checks.append({**check, "plots": []})
        problems.append({**problem, "checks": checks})
    return {**record, "problems": problems}, plots


def file_hash(path: Path) -> str:
    """sha256 of the submission's bytes, then of each module it brings along (a notebook's
    FP_layers.py beside it: graders.submission.module_files), so editing one regrades it."""
    from graders.submission import module_files
    digest = hashlib.sha256()
    path = Path(path)
    modules = module_files(path) if path.suffix in (".ipynb", ".py") else []
    for part in [path, *modules]:
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def config_hash(settings, limits) -> str:
    """The grading settings a result depends on: the assignment's configuration and limits."""
    text = json.dumps([asdict(settings), asdict(limits)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class KeyArrays:
    """A writer of plots' key arrays for GradeResult.to_record: {"ref": digest} for each,
    keeping the arrays not yet stored (`new`) for the row's transaction (Gradebook.save)."""

    def __init__(self, stored: set[str]):
        self.stored, self.new = stored, {}

    def __call__(self, value):
        from graders.judge import array_digest, array_json
        if value is None:
            return None
        digest = array_digest(value)
        if digest not in self.stored:
            self.new[digest] = array_json(value)
        return {"ref": digest}


class Gradebook:
    """OUT/gradebook.sqlite for one assignment; use from one thread."""

    def __init__(self, folder: Path, assignment: str):
        path = Path(folder) / FILE_NAME
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise GradebookError(f"{path}: cannot open the gradebook ({exc}); remove it or "
                                 "choose another output folder.") from None
        owner = self.db.execute("SELECT value FROM meta WHERE key = 'assignment'").fetchone()
        if owner is None:
            self.db.execute("INSERT INTO meta VALUES ('assignment', ?)", (assignment,))
        elif owner[0] != assignment:
            raise GradebookError(f"{path} holds the marks of {owner[0]}, not {assignment}; "
                                 "grade into another output folder.")
        self.path = path
        self._stored: set[str] | None = None  # digests in `arrays`, read on first use

    def row(self, student: str) -> Row | None:
        found = self.db.execute("SELECT submissions.*, plots.data FROM submissions LEFT JOIN "
                                "plots USING (id) WHERE id = ?", (student,)).fetchone()
        return Row(*found) if found else None

    def records_without_plots(self):
        """Each stored result (GradeResult.to_record), by student id, read one at a time
        with every check's plots emptied (what the exports and the summary need; their plots
        are not read, but in a gradebook that keeps them in `result`)."""
        for (text,) in self.db.execute("SELECT result FROM submissions ORDER BY id"):
            record = json.loads(text)
            for problem in record["problems"]:
                for check in problem["checks"]:
                    check["plots"] = []
            yield record

    def key_arrays(self) -> KeyArrays:
        """A writer of one result's key arrays (to_record), stored by `save`."""
        if self._stored is None:
            self._stored = {d for (d,) in self.db.execute("SELECT digest FROM arrays")}
        return KeyArrays(self._stored)

    def array(self, digest: str) -> dict:
        """A stored key array's JSON (GradeResult.from_record's `resolve`)."""
        found = self.db.execute("SELECT data FROM arrays WHERE digest = ?",
                                (digest,)).fetchone()
        if found is None:
            raise GradebookError(f"{self.path}: a result refers to a key curve that is not "
                                 "stored; grade again with --regrade.")
        return json.loads(found[0])

    def current(self, student: str, file_digest: str, key: str, settings: str) -> Row | None:
        """The stored row if it was graded from this very file, key and settings."""
        row = self.row(student)
        if row and (row.file_hash, row.key_hash, row.config_hash) == (file_digest, key, settings):
            return row
        return None

    def save(self, identity, folder: str, file: str, file_digest: str, key: str,
             settings: str, record: dict, total: float, arrays: KeyArrays | None = None) -> None:
        """Store one graded submission in one transaction (replacing its earlier row), with
        the key arrays its record refers to that were not stored yet (`arrays`)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if arrays is not None and arrays.new:
                self.db.executemany("INSERT OR IGNORE INTO arrays VALUES (?, ?)",
                                    [(d, json.dumps(a)) for d, a in arrays.new.items()])
            self.db.execute("DELETE FROM plots WHERE id IN (SELECT id FROM submissions "
                            "WHERE id = ? OR folder = ?) OR id = ?",
                            (identity.id, folder, identity.id))
            self.db.execute("DELETE FROM submissions WHERE id = ? OR folder = ?",
                            (identity.id, folder))
            result, plots = plots_apart(record)
            self.db.execute(
                "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (identity.id, identity.name, identity.layout, folder, file, file_digest, key,
                 settings, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), total,
                 json.dumps(result, default=str)))
            self.db.execute("INSERT INTO plots VALUES (?, ?)",
                            (identity.id, json.dumps(plots, default=str)))
        if arrays is not None:  # committed: later rows refer to them
            arrays.stored.update(arrays.new)
            arrays.new = {}

    def close(self) -> None:
        self.db.close()
