"""Unpacking a .zip upload safely. TRUSTED side: zip headers are read, nothing is executed.

Refused: more than MAX_MEMBERS entries, more than MAX_TOTAL bytes unpacked, a member whose
compression ratio exceeds MAX_RATIO (a zip bomb), absolute paths or `..` (path traversal),
symbolic links, and anything that is not a regular file or folder. Sizes are enforced while
reading, not trusted from the headers.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 200
MAX_TOTAL = 50 * 2**20
MAX_RATIO = 200


class UnsafeZip(ValueError):
    """The archive breaks one of the rules; str() says which member and why."""


def extract(archive: Path, dest: Path) -> list[Path]:
    """Unpack `archive` into `dest`; return the files written."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeZip(f"not a readable zip archive ({exc})") from None
    written: list[Path] = []
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise UnsafeZip(f"{len(members)} entries, more than the {MAX_MEMBERS} allowed")
        total = 0
        for info in members:
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
                raise UnsafeZip(f"entry {info.filename!r} points outside the archive's folder")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeZip(f"entry {info.filename!r} is a symbolic link")
            if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise UnsafeZip(f"entry {info.filename!r} is not a regular file")
            target = dest.joinpath(*name.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise UnsafeZip(f"entry {info.filename!r} expands {info.file_size // info.compress_size}"
                                f" times (a zip bomb?); the limit is {MAX_RATIO}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as sink:
                while chunk := source.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_TOTAL:
                        raise UnsafeZip(f"unpacks to more than {MAX_TOTAL // 2**20} MiB")
                    sink.write(chunk)
            written.append(target)
    return written
