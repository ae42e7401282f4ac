"""Numbers as people write them: `3.2M`, `150K`, `1.11 billion`, `62,378,344`, `2.8x`, `35%`.

A whitelist parser (one regular expression, no eval) turns such a string into a `Quantity`:
its value and the precision it was written at, half a unit of its last significant digit
times its multiplier. An answer written as text matches a key value k when

    value - half <= k < value + half        (`3.2M` covers [3.15M, 3.25M): 3,211,264 yes;
                                              `3.3M` covers [3.25M, 3.35M): 3,211,264 no)

Grammar (surrounding spaces allowed, one space before a suffix or word):
  sign      an optional - or +
  mantissa  digits, optionally in comma groups of three (62,378,344), with an optional
            decimal part (3.2, .5); an optional exponent e-3 / E+06 (at most 3 digits)
  then at most one of
    K k M B G T               kilo, mega, billion = giga, tera: powers of ten (K = 1e3, not
                              1024: the handout writes 150K for 150,528 and 800K for 802,816)
    thousand million billion trillion   (any case)
    x X                       a ratio (2.8x is 2.8)
    %                         a percentage (35% is 0.35)

Significant digits. Every digit after a decimal point counts (`3.20M`: half = 0.005M). An
integer mantissa with a multiplier has its trailing zeros not significant (`800K` is 8e5 at
one digit: [750K, 850K); `150K`: [145K, 155K)), as the handout's table writes them; an integer
without a multiplier counts every digit (`62,378,344`, `1000`: half = 0.5), since a student who
writes every digit of a count means that count.

Refused (`NotAQuantity`, with the reason): anything else (`3.2MM`, `3.2 M K`, `2**30`,
`eval(...)`, `1,23`), text over MAX_TEXT characters, and values that are not finite (`1e400`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

MAX_TEXT = 64
#: Multipliers by suffix or word (lowercase words; single letters as written, k also lower).
MULTIPLIERS = {"K": 1e3, "k": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12,
               "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
               "x": 1.0, "X": 1.0, "%": 1e-2}
PATTERN = re.compile(
    r"(?P<sign>[-+]?)"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+|(?=\.\d))(?:\.(?P<frac>\d+))?"
    r"(?:[eE](?P<exp>[-+]?\d{1,3}))?"
    r"(?:\ ?(?P<suffix>[KkMBGTxX%]|(?i:thousand|million|billion|trillion)))?")


class NotAQuantity(ValueError):
    """The text is not a number as the grammar above writes one; the message says why."""


@dataclass(frozen=True)
class Quantity:
    """A number read from text: `value`, and `half` the half-width of the interval its
    written digits stand for (value - half <= true < value + half)."""

    value: float
    half: float

    def covers(self, key: float) -> bool:
        return self.value - self.half <= key < self.value + self.half


def parse(text: str) -> Quantity:
    """The Quantity a string writes; NotAQuantity where it is not one (see the module)."""
    if not isinstance(text, str):
        raise NotAQuantity(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise NotAQuantity(f"too long to be a number ({len(text)} characters)")
    match = PATTERN.fullmatch(text.strip())
    if match is None:
        raise NotAQuantity(f"{text.strip()[:MAX_TEXT]!r} is not a number (write e.g. "
                           "1234567, 1,234,567, 1.2M, 1.5e6, 1.2 billion, 2.5x or 35%)")
    whole, frac = match["int"].replace(",", ""), match["frac"] or ""
    suffix = match["suffix"] or ""
    multiplier = MULTIPLIERS[suffix if len(suffix) == 1 else suffix.lower()] if suffix else 1.0
    exponent = int(match["exp"] or 0)
    if frac:
        unit_exponent = -len(frac)
    elif suffix and suffix not in "xX%":
        unit_exponent = len(whole) - len(whole.rstrip("0")) if whole.strip("0") else 0
    else:
        unit_exponent = 0
    scale = multiplier * 10.0 ** exponent if abs(exponent) < 400 else math.inf
    value = float(f"{match['sign']}{whole or 0}.{frac or 0}") * scale
    half = 0.5 * 10.0 ** unit_exponent * scale
    if not (math.isfinite(value) and math.isfinite(half)):
        raise NotAQuantity(f"{text.strip()!r} is not a finite number")
    return Quantity(value, half)


def read(value) -> tuple[np.ndarray, np.ndarray] | str | None:
    """Numbers some of which are written as text: (values, halves) as float arrays of the
    answer's shape (half 0 for a plain number), the reason one string is not a number, or
    None where the answer holds no string (plain numbers keep their usual reading)."""
    if not _has_text(value):
        return None
    try:
        pairs = _read(value)
    except NotAQuantity as exc:
        return str(exc)
    try:
        arr = np.array(pairs, dtype=float)
    except (TypeError, ValueError):
        return "expected numbers in rows of equal length"
    return arr[..., 0], arr[..., 1]


def _has_text(value, depth: int = 0) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, list) and depth < 8 and any(_has_text(v, depth + 1) for v in value)


def _read(value):
    """Nested lists of [value, half] pairs; NotAQuantity for anything but text and numbers."""
    if isinstance(value, str):
        q = parse(value)
        return [q.value, q.half]
    if isinstance(value, list):
        return [_read(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value), 0.0]
    raise NotAQuantity(f"expected numbers, got {type(value).__name__}")


def covers(values: np.ndarray, halves: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Element-wise: the written interval [value - half, value + half) holds the key (False
    where half is 0: a plain number is compared with the check's rtol/atol instead)."""
    return (halves > 0) & (values - halves <= key) & (key < values + halves)
