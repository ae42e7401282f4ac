"""Loading one submission into code cells and typed answers. TRUSTED side, no code runs here.

Accepted forms:
  .ipynb         a Jupyter notebook (nbformat v4; v3 is upgraded by nbformat), code cells in order
  .py            a script; `# %%` lines split it into cells (the percent format of Jupytext/VS Code)
  answers.toml   values only (numbers, lists, formulas as strings), for problems whose answer is a
                 value; functions cannot be given this way
  .zip           an upload holding one of the above; unpacked by graders.unzip (no traversal,
                 no links, capped size and ratio) and flagged `from_zip` for policies

Every problem is a `SubmissionError` whose message names the file, what is wrong and the fix.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

SUFFIXES = (".ipynb", ".py", ".toml", ".zip")
MAX_BYTES = 20 * 1024 * 1024
CELL_MARKER = re.compile(r"^# ?%%.*$", re.MULTILINE)


class SubmissionError(Exception):
    """A submission that cannot be read; str() is a one-line message for the user."""


@dataclass
class Submission:
    path: Path
    student: str
    cells: list[str] = field(default_factory=list)
    answers: dict = field(default_factory=dict)
    assignment_hint: str | None = None
    markdown: list[str] = field(default_factory=list)  # the notebook's markdown cells, in order
    from_zip: bool = False  # unpacked from a .zip upload (a policy may deduct for it)

    @property
    def kind(self) -> str:
        return {".ipynb": "notebook", ".py": "script", ".toml": "answer sheet"}[self.path.suffix]


def load(path: Path) -> Submission:
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such file. Check the path and the file name.")
    if path.is_dir():
        raise SubmissionError(f"{path}: is a folder. Pass the notebook (.ipynb), script (.py) "
                              "or answers.toml inside it.")
    if path.suffix not in SUFFIXES:
        raise SubmissionError(f"{path}: unsupported file type {path.suffix or '(none)'!r}. "
                              "Submit a .ipynb notebook, a .py script or an answers.toml.")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SubmissionError(f"{path}: {size / 2**20:.0f} MiB is over the {MAX_BYTES // 2**20} "
                              "MiB limit. Clear the notebook's outputs (Kernel > Restart & "
                              "Clear Output) and save it again.")
    if path.suffix == ".zip":
        return _from_zip(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                              f"{exc.start}). Save it again as UTF-8 (Jupyter and VS Code "
                              "do by default).") from None
    if not text.strip():
        raise SubmissionError(f"{path}: the file is empty. Submit the saved file with your work.")
    student = student_name(path)
    if path.suffix == ".ipynb":
        cells, markdown, hint = _notebook_cells(path, text)
        return Submission(path, student, cells=cells, assignment_hint=hint, markdown=markdown)
    if path.suffix == ".py":
        cells = [c for c in CELL_MARKER.split(text) if c.strip()]
        return Submission(path, student, cells=cells)
    try:
        answers = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SubmissionError(f"{path}: not valid TOML ({exc}). Check the quoting of formulas "
                              "and the brackets of lists.") from None
    hint = answers.pop("assignment", None)
    return Submission(path, student, answers=answers,
                      assignment_hint=hint if isinstance(hint, str) else None)


def _from_zip(path: Path) -> Submission:
    """The one notebook, script or answers.toml inside a zip upload (read into memory; the
    unpacked files are removed at once)."""
    import tempfile

    from graders.unzip import UnsafeZip, extract
    with tempfile.TemporaryDirectory(prefix="grader-zip-") as tmp:
        folder = Path(tmp)
        try:
            files = extract(path, folder)
        except UnsafeZip as exc:
            raise SubmissionError(f"{path}: refused: {exc}. Upload the notebook itself.") \
                from None
        inner = [f for f in files if (f.suffix in (".ipynb", ".py") or f.name == "answers.toml")
                 and not any(p.startswith((".", "__MACOSX")) for p in f.relative_to(folder).parts)]
        if len(inner) != 1:
            found = ", ".join(f.name for f in inner) or "none"
            raise SubmissionError(f"{path}: a zip upload must hold exactly one notebook, script "
                                  f"or answers.toml (found: {found}). Upload the notebook itself.")
        submission = load(inner[0])
    submission.path, submission.student, submission.from_zip = path, student_name(path), True
    return submission


def student_name(path: Path) -> str:
    """The student id: the file's stem, or its folder's name for a generic file name."""
    generic = {"answers", "submission"}
    return path.parent.name if path.stem.lower() in generic and path.parent.name else path.stem


def _notebook_cells(path: Path, text: str) -> tuple[list[str], list[str], str | None]:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{path}: not valid notebook JSON (line {exc.lineno}, column "
                              f"{exc.colno}: {exc.msg}). Download the notebook again from "
                              "Jupyter (File > Download) or restore a checkpoint.") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for unreadable notebooks
        raise SubmissionError(f"{path}: not a Jupyter notebook nbformat can read "
                              f"({type(exc).__name__}). Open it in Jupyter and save it "
                              "again.") from None
    cells = [c.source for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    if not cells:
        raise SubmissionError(f"{path}: the notebook has no code. Check that you submitted "
                              "the notebook with your solutions, saved.")
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    hint = nb.metadata.get("grader", {}).get("assignment")
    return cells, markdown, hint if isinstance(hint, str) else None


def discover(paths: list[Path]) -> list[Path]:
    """Submission files among `paths`: files as given, folders searched recursively for
    notebooks, scripts and answers.toml files (checkpoints and hidden folders skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                parts = candidate.relative_to(path).parts
                if candidate.is_file() and candidate.suffix in SUFFIXES and not any(
                        p.startswith(".") for p in parts) and (
                        candidate.suffix != ".toml" or candidate.name == "answers.toml"):
                    found.append(candidate)
        else:
            found.append(path)
    return found
