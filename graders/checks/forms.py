"""Accepted forms of a right answer, shared by every check (DESIGN.md rule 9).

An answer arrives decoded from the wire: numpy arrays (float32, float16 and torch tensors
arrive as float64 arrays), lists (tuples arrive as lists), dicts with int, float or string
keys. Every form below is accepted wherever a check reads numbers, and named, so the report
can say which one the student used (the key's own form is not named):

  layout    the key's elements with other singleton axes: a column (5, 1) for a vector (5,),
            a history (n, 5, 1) for (n, 5); or a 2-D history transposed (one column per step)
  history   a key history has n + 1 rows (W^0..W^n). A history of n + 1 rows is compared
            with all of it; one of n rows with rows 0..n-1 ("recorded before each step") or
            rows 1..n ("recorded after each step"), whichever matches better
  log base  log L in base e (the key) or base 10 (the student's values times ln 10)
  written   numbers as text, `3.2M`, `62,378,344`, `2.8x` (graders/checks/quantities.py),
            alone or in lists mixed with plain numbers: each matches at the precision written
  dict key  an entry keyed by the number wanted within 1e-6 relative: 0.1 * 0.2
            (0.020000000000000004) finds 0.02, a float32 key 0.004 (0.0040000002) finds 0.004,
            "0.004" and 4e-3 too (the values a problem sweeps differ by far more); a numpy
            scalar key crosses the wire as its repr, "array(0.004000000189989805)"
"""

from __future__ import annotations

import math
import re
from typing import Iterator

import numpy as np

from graders.checks import quantities
from graders.checks.base import as_float_array, join, type_name

#: Relative tolerance for matching a dict key to the number wanted (float32 rounds at ~6e-8).
KEY_RTOL = 1e-6
#: (name, factor turning the student's log into the natural log); "" is the key's base.
LOG_BASES = (("", 1.0), ("log base 10", math.log(10)))


def shape_text(shape) -> str:
    return "a scalar" if tuple(shape) == () else f"shape {tuple(shape)}"


def lay_out(arr: np.ndarray, shape: tuple) -> tuple[np.ndarray | None, str]:
    """`arr` in the key's `shape` where one of the accepted layouts gives it: (array, name of
    the layout, "" for the key's own), or (None, "") where none does."""
    shape = tuple(shape)
    if arr.shape == shape:
        return arr, ""
    if arr.size == math.prod(shape) and [d for d in arr.shape if d != 1] == \
            [d for d in shape if d != 1]:
        return arr.reshape(shape), "column vectors" if arr.ndim > len(shape) else "flat vectors"
    if arr.ndim == 2 and len(shape) == 2 and arr.shape[::-1] == shape:
        return arr.T, "transposed (one column per step)"
    return None, ""


#: The form name of numbers written as text.
WRITTEN = "written as text (3.2M), at the precision written"


def numbers(value, shape: tuple) -> tuple[np.ndarray | None, np.ndarray, str, str]:
    """(array of `shape`, halves, form name, "") for an accepted form of numbers, or
    (None, halves, "", why). `halves` (same shape) is each value's written precision
    (quantities.py): 0 for a plain number. NaN is a wrong answer with its reason; inf is left
    for the check to judge."""
    written = quantities.read(value)
    if isinstance(written, str):
        return None, np.zeros(shape), "", (f"expected numbers with {shape_text(shape)}, got "
                                           f"{type_name(value)}: {written}")
    arr, halves = written if written is not None else (as_float_array(value), None)
    if arr is None:
        return None, np.zeros(shape), "", (f"expected numbers with {shape_text(shape)}, got "
                                           f"{type_name(value)}")
    fitted, layout = lay_out(arr, shape)
    if fitted is None:
        return None, np.zeros(shape), "", (f"expected {shape_text(shape)}, got "
                                           f"{shape_text(arr.shape)}")
    if np.isnan(fitted).any():
        return None, np.zeros(shape), "", "the answer contains NaN"
    if halves is None:
        return fitted, np.zeros(shape), layout, ""
    return fitted, halves.reshape(shape), join(WRITTEN, layout) or "", ""


#: A numpy scalar key (np.float32(0.004)) arrives as its repr: "array(0.0040000002, ...)".
NUMPY_KEY = re.compile(r"array\(\s*([^,()]+?)\s*(?:,\s*dtype=\w+)?\)")


def key_number(key) -> float | None:
    """A dict key as a number: 5, 5.0, "5", "array(5.0)"; None for anything else."""
    if isinstance(key, bool):
        return None
    if isinstance(key, (int, float)):
        return float(key)
    if isinstance(key, str):
        text = key.strip()
        numpy = NUMPY_KEY.fullmatch(text)
        try:
            return float(numpy.group(1) if numpy else text)
        except ValueError:
            return None
    return None


def pick(value, wanted: float) -> tuple[object, str]:
    """value[k] for the key k of a dict that equals `wanted` as a number (KEY_RTOL), whatever
    its type (5, 5.0, "5", 0.2 * 0.02 for 0.004); (None, why) where there is none."""
    if not isinstance(value, dict):
        return None, f"expected a dict keyed by {wanted:g}, got {type_name(value)}"
    for key, item in value.items():
        number = key_number(key)
        if number is not None and math.isclose(number, wanted, rel_tol=KEY_RTOL, abs_tol=1e-300):
            return item, ""
    return None, f"no entry for {wanted:g} (keys: {', '.join(map(str, list(value)[:8]))})"


def history_rows(key_rows: int) -> str:
    """The accepted row counts of a history, for messages: "201 (or 200)"."""
    return f"{key_rows} rows (or {key_rows - 1}: recorded before or after each step)"


def alignments(rows: int, key_rows: int) -> list[tuple[str, int]]:
    """How a history of `rows` rows lines up with a key of `key_rows` (n + 1) rows: (form
    name, offset) with student row r = key row r + offset; [] where it does not."""
    if rows == key_rows:
        return [("", 0)]
    if rows == key_rows - 1:
        return [(f"history convention: recorded {when} each step ({rows} rows)", offset)
                for when, offset in (("before", 0), ("after", 1))]
    return []


def histories(value, key: np.ndarray) -> Iterator[tuple[str, np.ndarray, np.ndarray]] | str:
    """Every accepted reading of a history against `key` (n + 1, ...): yields (form name,
    student's array, the key rows it is compared with); or the reason there is none (str)."""
    arr = as_float_array(value)
    if arr is None:
        return f"expected a history of numbers, got {type_name(value)}"
    rows, layout, given = key.shape[0], "", arr.shape
    if arr.ndim == 2 and not alignments(arr.shape[0], rows) and alignments(arr.shape[1], rows):
        arr, layout = arr.T, "transposed (one column per step)"
    fitted = None
    if arr.ndim and alignments(arr.shape[0], rows):
        fitted, row_layout = lay_out(arr, arr.shape[:1] + key.shape[1:])
        layout = layout or row_layout
    if fitted is None:
        return (f"expected {history_rows(rows)}, each {shape_text(key.shape[1:])}, got "
                f"{shape_text(given)}")
    if np.isnan(fitted).any():
        return "the answer contains NaN"
    n = len(fitted)
    return iter([(join(form, layout), fitted, key[offset:offset + n])
                 for form, offset in alignments(n, rows)])
