"""Who a submission belongs to: a stable student id from the layout an instructor has.

For each folder given to `grader grade` (its "root"), a submission's id comes from its own
path under that root, the roster, or the LMS's metadata, and nothing else, so adding or
removing other files never changes it:

  roster       --roster CSV with columns `file` and `id` (optional `name`): `file` is a path
               relative to the root (or absolute). A roster covers every file it is given
               for: a file it does not list is refused.
  gradescope   ROOT/submission_<n>/... with ROOT/submission_metadata.yml (Gradescope's
               export): the first submitter's `:sid:`, else their email; name from `:name:`.
  folder       ROOT/<student>/...: the folder's name (a folder per student).
  canvas       ROOT/<name>_[late_]<user id>_<file id>_<original name> (Canvas's export):
               id "canvas-<user id>", name <name>.
  file         ROOT/<stem>.<ext>, or a file given by itself: the stem.

Two submissions with one id (`alice/hw2.ipynb` and `alice.ipynb`, say) are refused with both
paths named: a mark must never land on another student. `plan` gives a batch its files, each
with its id and output folder (a function of the id alone).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from graders.submission import discover, display

#: Files and folders of a batch's output folder that no student's folder may take.
RESERVED = {"gradebook.csv", "grader.log", "index.html", "gradebook.sqlite",
            "gradebook.sqlite-wal", "gradebook.sqlite-shm", "keys", "check"}
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 80
CANVAS = re.compile(r"^(?P<name>[A-Za-z0-9-]+?)(?:_late)?_(?P<user>\d+)_(?P<file>\d+)_(?P<original>.+)$",
                    re.IGNORECASE)
GRADESCOPE_FOLDER = re.compile(r"^submission_\d+$")
GRADESCOPE_METADATA = "submission_metadata.yml"


def folder_name(student: str) -> str:
    """A student id as the name of its output folder: letters, digits, '.', '_' and '-' only,
    no leading dots or dashes (or spreadsheet formula signs), at most MAX_NAME characters,
    never a name the batch itself writes."""
    name = UNSAFE.sub("_", display(student)).lstrip(".-_=+@")[:MAX_NAME].rstrip(".")
    name = name or "submission"
    return f"{name}_" if name.lower() in RESERVED else name


class IdentityError(ValueError):
    """Submissions whose ids cannot be told apart, or a roster that does not fit."""


@dataclass(frozen=True)
class Identity:
    id: str
    name: str
    layout: str


def identify(roots: dict[Path, list[Path]], roster: Path | None = None) -> dict[Path, Identity]:
    """Each file's Identity; `roots` maps each given folder (or a lone file's parent) to its
    files. Raises IdentityError for collisions and files a roster does not list."""
    by_file = _read_roster(roster) if roster is not None else None
    found: dict[Path, Identity] = {}
    for root, files in roots.items():
        metadata = _gradescope(root)
        for path in files:
            found[path] = (_from_roster(by_file, root, path) if by_file is not None
                           else _from_path(root, path, metadata))
    _refuse_collisions(found)
    return found


def _from_path(root: Path, path: Path, metadata: dict[str, dict] | None) -> Identity:
    parts = tuple(display(part) for part in path.relative_to(root).parts)
    if metadata is not None and len(parts) > 1 and GRADESCOPE_FOLDER.match(parts[0]):
        who = metadata.get(parts[0])
        if who is None:
            raise IdentityError(f"{path}: {parts[0]} is not in {root / GRADESCOPE_METADATA}; "
                                "export the submissions again from Gradescope.")
        return who
    if len(parts) > 1:
        return Identity(parts[0], parts[0], "folder")
    match = CANVAS.match(parts[-1])
    if match:
        return Identity(f"canvas-{match['user']}", match["name"], "canvas")
    stem = display(path.stem)
    return Identity(stem, stem, "file")


def _read_roster(path: Path) -> dict[str, Identity]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IdentityError(f"{path}: cannot read the roster ({exc}); give a CSV with "
                            "columns file and id.") from None
    if not rows or not {"file", "id"} <= set(rows[0]):
        raise IdentityError(f"{path}: a roster needs the columns file and id (and may have "
                            "name); found " + ", ".join(rows[0] if rows else []) + ".")
    by_file: dict[str, Identity] = {}
    for line, row in enumerate(rows, start=2):
        file, student = (row.get("file") or "").strip(), (row.get("id") or "").strip()
        if not file or not student:
            raise IdentityError(f"{path}, line {line}: file and id must both be filled in.")
        if file in by_file:
            raise IdentityError(f"{path}, line {line}: {file} is listed twice; keep one line "
                                "per file.")
        by_file[file] = Identity(student, (row.get("name") or "").strip() or student, "roster")
    return by_file


def _from_roster(by_file: dict[str, Identity], root: Path, path: Path) -> Identity:
    for key in (path.relative_to(root).as_posix(), str(path), str(path.resolve())):
        if key in by_file:
            return by_file[key]
    raise IdentityError(f"{path}: not in the roster; add a line `{path.relative_to(root)},ID` "
                        "or remove the file from the batch.")


def _gradescope(root: Path) -> dict[str, Identity] | None:
    """Gradescope's submission_metadata.yml as {folder name: Identity}, if the root has one."""
    path = root / GRADESCOPE_METADATA
    if not path.is_file():
        return None
    import yaml
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise IdentityError(f"{path}: cannot read it ({type(exc).__name__}); export the "
                            "submissions again from Gradescope.") from None
    out = {}
    for folder, entry in (data or {}).items():
        submitters = entry.get(":submitters") if isinstance(entry, dict) else None
        first = submitters[0] if isinstance(submitters, list) and submitters else {}
        student = str(first.get(":sid") or first.get(":email") or "").strip()
        if not student:
            raise IdentityError(f"{path}: {folder} names no submitter with an sid or email.")
        out[str(folder)] = Identity(student, str(first.get(":name") or student), "gradescope")
    return out


def _refuse_collisions(found: dict[Path, Identity]) -> None:
    seen: dict[str, Path] = {}
    for path, who in found.items():
        key = who.id.casefold()
        if key in seen:
            raise IdentityError(f"two submissions for student {who.id!r}: {seen[key]} and "
                                f"{path}. Remove one, or give a --roster that tells them apart.")
        seen[key] = path


@dataclass
class Plan:
    files: list[Path]
    identities: dict[Path, Identity]
    folders: dict[Path, str]


def plan(paths: list[Path], roster: Path | None = None) -> Plan:
    """The submissions in `paths` (folders are searched), each with its student id and its
    output folder. IdentityError when two submissions share an id or a folder name."""
    roots: dict[Path, list[Path]] = {}
    for path in paths:
        if path.is_dir():
            roots.setdefault(path, []).extend(discover([path]))
        else:
            roots.setdefault(path.parent, []).append(path)
    files = [f for found in roots.values() for f in found]
    identities = identify(roots, roster)
    folders: dict[Path, str] = {}
    taken: dict[str, Path] = {}
    for path in files:
        folder = folder_name(identities[path].id)
        if folder.lower() in taken:
            raise IdentityError(f"students {identities[taken[folder.lower()]].id!r} and "
                                f"{identities[path].id!r} would share the output folder "
                                f"{folder} ({taken[folder.lower()]}, {path}); give a --roster "
                                "with distinct ids.")
        taken[folder.lower()] = path
        folders[path] = folder
    return Plan(files, identities, folders)
