"""Unpacking a .zip upload safely. TRUSTED side: zip headers are read, nothing is executed.

Refused: more than MAX_MEMBERS entries, more than MAX_TOTAL bytes unpacked, a member whose
compression ratio exceeds MAX_RATIO (a zip bomb), absolute paths or `..` (path traversal),
symbolic links, anything that is not a regular file or folder, encrypted members, names with
control characters or a part over MAX_NAME bytes, and damaged archives (bad headers, CRC
errors, truncated data, unknown compression). Sizes are enforced while reading, not trusted
from the headers. Every problem is an `UnsafeZip`, never another exception.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 200
MAX_TOTAL = 50 * 2**20
MAX_RATIO = 200
MAX_NAME = 255  # bytes per part of a member's name (the file system's limit)
#: What zipfile raises on a damaged archive or member.
DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, ValueError)


class UnsafeZip(ValueError):
    """The archive breaks one of the rules; str() says which member and why."""


def extract(archive: Path, dest: Path) -> list[Path]:
    """Unpack `archive` into `dest`; return the files written."""
    try:
        zf = zipfile.ZipFile(archive)
    except (*DAMAGED, OSError) as exc:  # ValueError: a name flagged UTF-8 that is not
        raise UnsafeZip(f"not a readable zip archive ({type(exc).__name__}: {exc})") from None
    written: list[Path] = []
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise UnsafeZip(f"{len(members)} entries, more than the {MAX_MEMBERS} allowed")
        total = 0
        for info in members:
            name = _checked_name(info)
            target = dest.joinpath(*name.parts)
            if info.is_dir():
                _unpack(info, lambda: target.mkdir(parents=True, exist_ok=True))
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise UnsafeZip(f"entry {info.filename!r} expands {info.file_size // info.compress_size}"
                                f" times (a zip bomb?); the limit is {MAX_RATIO}")
            total = _unpack(info, lambda: _copy(zf, info, target, total))
            written.append(target)
    return written


def _checked_name(info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's name, refused for traversal, links, devices, encryption, control
    characters or a part longer than MAX_NAME bytes."""
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
        raise UnsafeZip(f"entry {info.filename!r} points outside the archive's folder")
    if any(ord(c) < 32 or ord(c) == 127 for c in info.filename):
        raise UnsafeZip(f"entry {info.filename!r} has control characters in its name")
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME for part in name.parts):
        raise UnsafeZip(f"entry {info.filename[:60]!r}... has a name over {MAX_NAME} bytes")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeZip(f"entry {info.filename!r} is a symbolic link")
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UnsafeZip(f"entry {info.filename!r} is not a regular file")
    if info.flag_bits & 0x1:
        raise UnsafeZip(f"entry {info.filename!r} is encrypted (password-protected)")
    return name


def _unpack(info: zipfile.ZipInfo, step):
    """step(), with a damaged member or one that cannot be written as an `UnsafeZip`."""
    try:
        return step()
    except UnsafeZip:
        raise
    except DAMAGED as exc:
        raise UnsafeZip(f"entry {info.filename!r} is damaged ({type(exc).__name__}: {exc})") \
            from None
    except NotImplementedError as exc:
        raise UnsafeZip(f"entry {info.filename!r} cannot be unpacked ({exc})") from None
    except OSError as exc:  # a file and a folder of the same name
        raise UnsafeZip(f"entry {info.filename!r} cannot be unpacked ({exc.strerror})") \
            from None


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, total: int) -> int:
    """Write one member to `target`; the running total of bytes unpacked, within MAX_TOTAL."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as source, open(target, "wb") as sink:
        while chunk := source.read(1 << 20):
            total += len(chunk)
            if total > MAX_TOTAL:
                raise UnsafeZip(f"unpacks to more than {MAX_TOTAL // 2**20} MiB")
            sink.write(chunk)
    return total
