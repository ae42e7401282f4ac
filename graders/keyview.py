"""An answer key for people: as indented text (terminal) and as an HTML page (Jinja2).

The key is walked generically, so every item reference/ computes is shown: numbers and short
arrays as values, formulas as text, histories of shape (steps + 1, series) as plots, and
long arrays summarised by shape and first rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from graders.assignment import Assignment
from graders.report import environment, write_atomic

HISTORY_MIN_STEPS = 10


def _is_history(value) -> bool:
    return isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[0] >= \
        HISTORY_MIN_STEPS and value.shape[1] <= 8 and value.dtype.kind == "f"


def _text(value) -> str:
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=6, threshold=40, edgeitems=3):
            return f"array{list(value.shape)} {np.array2string(value, separator=', ')}"
    if isinstance(value, sp.MatrixBase):
        return str(value.tolist())
    return str(value)


def flatten(data, path=()):
    """(path, value) for every leaf of the nested key; lists of numbers count as leaves."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from flatten(v, path + (str(k),))
    else:
        yield path, data


def key_text(assignment: Assignment) -> str:
    meta = assignment.key.meta
    lines = [f"{assignment.id}: {assignment.config.title}",
             f"key {meta['hash'][:12]}, built in {meta['build_seconds']} s, "
             f"params {meta['params']}, versions {meta['versions']}"]
    for path, value in flatten(assignment.key.data):
        lines.append(f"{' / '.join(path)}: {_text(value)}")
    return "\n".join(lines)


def write_key_html(assignment: Assignment, path: Path) -> Path:
    items = []
    for key_path, value in flatten(assignment.key.data):
        items.append({"path": " / ".join(key_path), "text": _text(value),
                      "history": value if _is_history(value) else None})
    html = environment().get_template("key.html.j2").render(a=assignment, items=items)
    write_atomic(path, html)
    return path
