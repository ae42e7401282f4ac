"""Loading one submission into code cells and typed answers. TRUSTED side, no code runs here.

Accepted forms:
  .ipynb         a Jupyter notebook (nbformat v4; v3 is upgraded by nbformat), code cells in order
  .py            a script; `# %%` lines split it into cells (the percent format of Jupytext/VS Code)
  answers.toml   values only (numbers, lists, formulas as strings), for problems whose answer is a
                 value; functions cannot be given this way
  .zip           an upload holding one of the above (or one notebook among other files: a
                 student's folder zipped); unpacked by graders.unzip (no traversal, no links,
                 capped size and ratio) and flagged `from_zip` for policies
  a folder       holding one notebook (a student's folder, e.g. hw4.ipynb + FP_layers.py)

A notebook or script comes with its own modules: the `.py` files beside it that its code
imports (`from FP_layers import *`), and those they import in turn (`Submission.files`, at
most MAX_MODULES of MAX_MODULE_BYTES each). They are written into the job's folder in the
sandbox, so the imports work there; they are never submissions of their own (`discover`).

Every problem is a `SubmissionError` whose message names the file, what is wrong and the fix.

`first_look` reads a notebook's cells from its JSON alone, without nbformat (whose import and
first read cost about 0.1 s): a guess that lets `grader check` start the worker and the
submission's job at once. `load` stays the reader of record: only what it reads is graded,
and it refuses what it refuses whatever the first look saw.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


SUFFIXES = (".ipynb", ".py", ".toml", ".zip")
MAX_BYTES = 20 * 1024 * 1024
CELL_MARKER = re.compile(r"^# ?%%.*$", re.MULTILINE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_MODULES, MAX_MODULE_BYTES = 8, 1024 * 1024
FIRST_LOOK_BYTES = 4 * 2**20  # a larger notebook is not read twice: `load` reads it first
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    files: dict[str, str] = field(default_factory=dict)  # its own modules: name.py -> text

    @property
    def kind(self) -> str:
        return {".ipynb": "notebook", ".py": "script", ".toml": "answer sheet"}[self.path.suffix]


def display(path) -> str:
    """A path or name as printable one-line text: bytes that are not UTF-8 (a file name from
    another system) as \\xNN and control characters escaped, so that printing or writing it
    never raises and never breaks a line of a message, a report or a CSV row."""
    text = os.fsdecode(path)
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:  # a lone surrogate that did not come from the file system
        raw = text.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def load(path: Path) -> Submission:
    """The submission at `path`, or a `SubmissionError` (never another exception) whose
    message names the file, what is wrong and the fix."""
    path = Path(path)
    try:
        return _load(path)
    except SubmissionError:
        raise
    except OSError as exc:
        raise SubmissionError(f"{display(path)}: could not be read ({exc.strerror or exc}). "
                              "Check that the file is there and readable.") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # a name with NUL, nesting...
        raise SubmissionError(f"{display(path)}: could not be read ({type(exc).__name__}). "
                              "Submit the notebook saved by Jupyter.") from None


def _load(path: Path) -> Submission:
    shown = display(path)
    if not path.exists():
        raise SubmissionError(f"{shown}: no such file. Check the path and the file name.")
    if path.is_dir():
        notebooks = sorted(path.glob("*.ipynb"))
        if len(notebooks) == 1:
            return load(notebooks[0])
        raise SubmissionError(f"{shown}: is a folder with {len(notebooks)} notebooks. Pass the "
                              "notebook (.ipynb), script (.py) or answers.toml to grade.")
    if path.suffix not in SUFFIXES:
        kind = display(path.suffix) or "(none)"
        raise SubmissionError(f"{shown}: unsupported file type {kind!r}. Submit a .ipynb "
                              "notebook, a .py script or an answers.toml.")
    if not path.is_file():
        raise SubmissionError(f"{shown}: not a regular file (a pipe or a device?). Submit the "
                              "saved file itself.")
    size = path.stat().st_size
    if size <= MAX_BYTES and path.suffix != ".zip":
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # the size said is not trusted (/proc files say 0)
        size = max(size, len(raw))
    if size > MAX_BYTES:
        raise SubmissionError(f"{shown}: {size / 2**20:.0f} MiB is over the {MAX_BYTES // 2**20} "
                              "MiB limit. Clear the notebook's outputs (Kernel > Restart & "
                              "Clear Output) and save it again.")
    if path.suffix == ".zip":
        return _from_zip(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{shown}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                              f"{exc.start}). Save it again as UTF-8 (Jupyter and VS Code "
                              "do by default).") from None
    if not text.strip():
        raise SubmissionError(f"{shown}: the file is empty. Submit the saved file with your work.")
    student = student_name(path)
    if path.suffix == ".ipynb":
        cells, markdown, hint = _notebook_cells(shown, text)
        return Submission(path, student, cells=cells, assignment_hint=hint, markdown=markdown,
                          files=modules_beside(path, cells))
    if path.suffix == ".py":
        cells = [c for c in CELL_MARKER.split(text) if c.strip()]
        return Submission(path, student, cells=cells, files=modules_beside(path, cells))
    answers = _answer_sheet(shown, text)
    hint = answers.pop("assignment", None)
    return Submission(path, student, answers=answers,
                      assignment_hint=hint if isinstance(hint, str) else None)


def _answer_sheet(shown: str, text: str) -> dict:
    """An answers.toml's values, within the bounds the wire puts on a worker's values."""
    try:
        answers = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SubmissionError(f"{shown}: not valid TOML ({exc}). Check the quoting of formulas "
                              "and the brackets of lists.") from None
    except (ValueError, RecursionError):  # an integer of 5000 digits, brackets 1000 deep
        raise SubmissionError(f"{shown}: too large to check (a number too long or lists nested "
                              "too deeply). Write each answer as a number, a flat or 2-D list, "
                              "or a formula in quotes.") from None
    too_large = _too_large(answers)
    if too_large:
        raise SubmissionError(f"{shown}: too large to check ({too_large}). Write each answer "
                              "as a number, a list of at most a few thousand numbers, or a "
                              "formula in quotes.")
    return answers


def _too_large(answers: dict) -> str | None:
    """What in the sheet is over wire.MAX_DEPTH levels, wire.MAX_ITEMS values or
    wire.MAX_STR characters a string, if anything (walked without recursion)."""
    from graders import wire
    stack, items = [(answers, 0)], 0
    while stack:
        value, depth = stack.pop()
        items += 1
        if depth > wire.MAX_DEPTH:
            return f"nested more than {wire.MAX_DEPTH} levels"
        if items > wire.MAX_ITEMS:
            return f"more than {wire.MAX_ITEMS} values"
        if isinstance(value, str) and len(value) > wire.MAX_STR:
            return f"a string of more than {wire.MAX_STR} characters"
        children = value.values() if isinstance(value, dict) else \
            value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return None


def _from_zip(path: Path) -> Submission:
    """The one notebook, script or answers.toml inside a zip upload (read into memory; the
    unpacked files are removed at once). A problem with the inner file names the zip."""
    import tempfile

    from graders.unzip import UnsafeZip, extract
    shown = display(path)
    with tempfile.TemporaryDirectory(prefix="grader-zip-") as tmp:
        folder = Path(tmp)
        try:
            files = extract(path, folder)
        except UnsafeZip as exc:
            raise SubmissionError(f"{shown}: refused: {exc}. Upload the notebook itself.") \
                from None
        inner = [f for f in files if (f.suffix in (".ipynb", ".py") or f.name == "answers.toml")
                 and not any(p.startswith((".", "__MACOSX")) for p in f.relative_to(folder).parts)]
        notebooks = [f for f in inner if f.suffix == ".ipynb"]
        if len(notebooks) == 1:  # a student's folder zipped: the notebook and its modules
            inner = notebooks
        if len(inner) != 1:
            found = ", ".join(display(f.name) for f in inner) or "none"
            raise SubmissionError(f"{shown}: a zip upload must hold exactly one notebook, script "
                                  f"or answers.toml (found: {found}). Upload the notebook itself.")
        try:
            submission = load(inner[0])
        except SubmissionError as exc:
            inside = f"{shown} ({display(inner[0].relative_to(folder))})"
            raise SubmissionError(str(exc).replace(display(inner[0]), inside, 1)) from None
    submission.path, submission.student, submission.from_zip = path, student_name(path), True
    return submission


def imported_names(sources: list[str]) -> set[str]:
    """Top-level module names the code imports: `import a.b, c as d` gives a and c, `from a
    import x` gives a (a plain line scan: magics and syntax errors do not matter)."""
    names = set()
    for source in sources:
        for line in source.splitlines():
            words = line.strip().replace(",", " , ").split()
            if len(words) >= 2 and words[0] == "from":
                names.add(words[1].split(".")[0])
            elif len(words) >= 2 and words[0] == "import":
                names.update(w.split(".")[0] for i, w in enumerate(words[1:])
                             if i == 0 or words[i] == ",")
    return {n for n in names if IDENTIFIER.fullmatch(n)}


def module_files(path: Path, cells: list[str] | None = None) -> list[Path]:
    """The `.py` files beside `path` that its code (`cells`, read from `path` if not given)
    imports, and those they import in turn; at most MAX_MODULES. Unreadable code imports
    nothing; with no other `.py` beside it, the code is not read at all."""
    if cells is None:
        if not any(p != path for p in path.parent.glob("*.py")):
            return []
        try:
            cells = load(path).cells
        except SubmissionError:
            return []
    found: list[Path] = []
    wanted = imported_names(cells)
    while wanted and len(found) < MAX_MODULES:
        name = wanted.pop()
        candidate = path.parent / f"{name}.py"
        if candidate == path or candidate in found or not candidate.is_file():
            continue
        found.append(candidate)
        try:
            wanted |= imported_names([candidate.read_text("utf-8")[:MAX_MODULE_BYTES]])
        except (OSError, UnicodeDecodeError):
            pass
    return sorted(found)


def modules_beside(path: Path, cells: list[str]) -> dict[str, str]:
    """{name.py: text} of module_files(path, cells); a module that is too large or not UTF-8
    is a SubmissionError naming it."""
    files = {}
    for module in module_files(path, cells):
        shown = display(module)
        if module.stat().st_size > MAX_MODULE_BYTES:
            raise SubmissionError(f"{shown}: over {MAX_MODULE_BYTES // 1024} KiB; a module "
                                  "holds code only. Remove the data from it.")
        try:
            files[module.name] = module.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise SubmissionError(f"{shown}: not UTF-8 text. Save it again as UTF-8.") from None
    return files


def student_name(path: Path) -> str:
    """The student id: the file's stem, or its folder's name for a generic file name; as
    `display` shows it (one printable line)."""
    generic = {"answers", "submission"}
    name = path.parent.name if path.stem.lower() in generic and path.parent.name else path.stem
    return display(name)


def _notebook_cells(shown: str, text: str) -> tuple[list[str], list[str], str | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{shown}: not valid notebook JSON (line {exc.lineno}, column "
                              f"{exc.colno}: {exc.msg}). Download the notebook again from "
                              "Jupyter (File > Download) or restore a checkpoint.") from None
    except (ValueError, RecursionError):  # a number of 5000 digits, brackets 10**5 deep
        raise SubmissionError(f"{shown}: not a notebook Jupyter wrote (its JSON is nested too "
                              "deeply or holds a number too long). Download the notebook again "
                              "from Jupyter (File > Download).") from None
    if not isinstance(data, dict):
        raise SubmissionError(f"{shown}: not a Jupyter notebook (the JSON is a "
                              f"{type(data).__name__}, not an object). Download the notebook "
                              "again from Jupyter (File > Download).")
    import nbformat  # here, not at import: `grader check` starts its worker first (0.1 s)
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for unreadable notebooks
        raise SubmissionError(f"{shown}: not a Jupyter notebook nbformat can read "
                              f"({type(exc).__name__}). Open it in Jupyter and save it "
                              "again.") from None
    return _code_and_markdown(shown, nb.cells, nb.metadata)


def _code_and_markdown(shown: str, cells: list, metadata) -> tuple[list, list, str | None]:
    """(the non-blank code cells' sources, the markdown cells' sources, the assignment the
    metadata names) of a notebook's cells (mappings with "cell_type" and "source")."""
    code = [_source(shown, i, c) for i, c in enumerate(cells) if c.get("cell_type") == "code"]
    code = [c for c in code if c.strip()]
    if not code:
        raise SubmissionError(f"{shown}: the notebook has no code. Check that you submitted "
                              "the notebook with your solutions, saved.")
    markdown = [_source(shown, i, c) for i, c in enumerate(cells)
                if c.get("cell_type") == "markdown"]
    grader = metadata.get("grader")
    hint = grader.get("assignment") if isinstance(grader, dict) else None
    return code, markdown, hint if isinstance(hint, str) else None


def first_look(path: Path) -> Submission | None:
    """`path` as `load` would read it, without nbformat: a script or a notebook of at most
    FIRST_LOOK_BYTES whose JSON is plainly nbformat v4 (the version Jupyter writes: a
    "metadata" object, "cells" a list of objects each with a "metadata" object, a source as
    text or as a list of lines, which nbformat joins). A guess for starting work early,
    never graded: `load` confirms it or not. None where this read cannot vouch for the file
    (another version or form, anything `load` would refuse); never raises."""
    path = Path(path)
    try:
        if path.suffix == ".py":
            return load(path)  # no nbformat in it: the first look is the reading of record
        if path.suffix != ".ipynb" or not path.is_file() or \
                path.stat().st_size > FIRST_LOOK_BYTES:
            return None
        with open(path, "rb") as f:
            raw = f.read(FIRST_LOOK_BYTES + 1)
        notebook = _v4_cells(json.loads(raw.decode("utf-8"))) \
            if len(raw) <= FIRST_LOOK_BYTES else None
        if notebook is None:
            return None
        code, markdown, hint = _code_and_markdown(display(path), *notebook)
        return Submission(path, student_name(path), cells=code, assignment_hint=hint,
                          markdown=markdown, files=modules_beside(path, code))
    except (SubmissionError, OSError, ValueError, RecursionError, MemoryError):
        return None


def _v4_cells(data) -> tuple[list[dict], dict] | None:
    """(the cells, each {"cell_type", "source"} with a list of lines joined, the metadata) of
    a notebook's JSON that is plainly nbformat v4; None where it is not."""
    if not isinstance(data, dict) or data.get("nbformat") != 4 or \
            not isinstance(data.get("metadata"), dict) or not isinstance(data.get("cells"), list):
        return None
    cells = []
    for cell in data["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("metadata"), dict):
            return None
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        cells.append({"cell_type": cell.get("cell_type"), "source": source})
    return cells, data["metadata"]


def _source(shown: str, index: int, cell) -> str:
    """A cell's text (nbformat joins a list of lines already), lone surrogates (JSON can
    write them, no editor does, UTF-8 cannot) as '?'; anything but text is refused."""
    source = cell.get("source")
    if not isinstance(source, str):
        raise SubmissionError(f"{shown}: cell {index + 1} has no source text (its source is "
                              f"{type(source).__name__}). Open the notebook in Jupyter and save "
                              "it again.")
    return source.encode("utf-8", "replace").decode("utf-8")


def discover(paths: list[Path]) -> list[Path]:
    """Submission files among `paths`: files as given, folders searched recursively for
    notebooks, scripts and answers.toml files (checkpoints and hidden folders skipped). Folders
    that cannot be read are passed over, links to folders are not followed (no loops), and
    names that are not UTF-8 are kept as the file system gives them."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            found.append(path)
            continue
        inside = []
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            inside += [Path(folder, name) for name in files if not name.startswith(".")]
        candidates = [f for f in inside if f.suffix in SUFFIXES and f.is_file() and
                      (f.suffix != ".toml" or f.name == "answers.toml")]
        scripts = {f.parent for f in candidates if f.suffix == ".py"}
        modules = {m for f in candidates if f.suffix == ".ipynb" and f.parent in scripts
                   for m in module_files(f)}
        found += sorted(f for f in candidates if f not in modules)
    return found
