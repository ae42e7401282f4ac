"""The grader's cache folder, and small JSON caches of trusted results in it. TRUSTED side.

Everything cached here is computed by the grader itself (keys, proofs) and stored as JSON,
one file per entry, named by the sha256 of everything that can change the result (the inputs'
content, the settings, the code that computes it): an entry can only ever be read back for
the same question. Entries are written atomically (a temporary file, then a rename), so two
graders sharing the folder never see half an entry; an entry that cannot be read or is not
of the expected shape is a miss, never an error. Nothing is unpickled or evaluated.

The folder is GRADER_CACHE, else ~/.cache/course-grader; sandboxed jobs never see it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def root() -> Path:
    """The grader's cache folder (keys/, envs/, proofs/ ... live under it)."""
    return Path(os.environ.get("GRADER_CACHE") or Path.home() / ".cache" / "course-grader")


def digest(*parts) -> str:
    """sha256 of the parts written as canonical JSON (str() for what JSON lacks)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class JsonCache:
    """root()/<name>/<digest[:2]>/<digest>.json holding one JSON value each."""

    def __init__(self, name: str):
        self.name = name

    def _path(self, key: str) -> Path:
        return root() / self.name / key[:2] / f"{key}.json"

    def get(self, key: str):
        """The value stored under `key`, or None (missing, unreadable, not JSON)."""
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))["value"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, value) -> None:
        """Store `value` (plain JSON) under `key`; a folder that cannot be written is skipped
        (the cache only saves time)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False,
                                             suffix=".tmp", encoding="utf-8") as tmp:
                json.dump({"value": value}, tmp)
            os.replace(tmp.name, path)
        except OSError:
            pass
