"""The course grader: load a submission, run it in a sandbox worker, check the answers against
keys computed by `reference/`, score, and report. See README.md for the tour."""

from pathlib import Path

#: The repository root in a checkout (grader.toml, student_template/ live here); in an
#: installed wheel, site-packages, which holds only the packages graders and reference.
ROOT = Path(__file__).resolve().parent.parent
