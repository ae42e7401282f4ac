"""The course grader: load a submission, run it in a sandbox worker, check the answers against
keys computed by `reference/`, score, and report. See README.md for the tour."""

from pathlib import Path

#: The repository root: grader.toml, reports/ and student_template/ live here.
ROOT = Path(__file__).resolve().parent.parent
