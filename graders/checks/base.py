"""What every check shares: the probes it needs, its outcome, and conventions as variants.

A check compares one answer with the key in the trusted process. It declares the probes whose
results it reads (`Probe`: read a variable, or call a function on hidden inputs), and returns
an `Outcome`: the fraction of its points earned, a message that says why, displays of the
student's and the key's values, the tolerance, and the key variant the answer matched.

Where the text allows several answers (NOTES.md conventions), the key holds each as a named
variant; a check tries the accepted ones and keeps the best.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Probe:
    """A question for the worker. kind "value": read variable `name`; kind "call": call
    `name(*args)` `repeat` times with the RNGs seeded by `seed` (results stacked)."""

    id: str
    kind: str
    name: str
    args: tuple = ()
    repeat: int = 1
    seed: int = 0

    def wire(self) -> dict:
        return {"id": self.id, "kind": self.kind, "name": self.name, "args": list(self.args),
                "repeat": self.repeat, "seed": self.seed}


@dataclass
class ProbeResult:
    """A probe's decoded value, or why there is none (`error`)."""

    ok: bool
    value: Any = None
    error: str | None = None


@dataclass
class Plot:
    """Curves for the report: the student's and the key's, e.g. log L_i per step."""

    title: str
    ylabel: str
    student: np.ndarray | None
    key: np.ndarray | None
    band: tuple[np.ndarray, np.ndarray] | None = None
    labels: tuple[str, ...] = ()


@dataclass
class Outcome:
    fraction: float
    message: str
    student: str = ""
    expected: str = ""
    tolerance: str = ""
    variant: str | None = None
    plots: list[Plot] = field(default_factory=list)


class Check:
    """Base class: subclasses set `probes` and implement `evaluate(results)`. A failed probe
    scores the check zero with the probe's error, unless its id is in `optional` (then
    `evaluate` sees the failure and copes)."""

    kind = "check"

    def __init__(self, id: str, title: str, probes: list[Probe], optional: frozenset = frozenset()):
        self.id, self.title, self.probes, self.optional = id, title, probes, optional

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        raise NotImplementedError


def best_variant(variants: dict[str, Any], accepted: list[str],
                 score: Callable[[Any], Outcome]) -> Outcome:
    """Score the answer against every accepted variant; return the best, naming it where
    there was a choice."""
    best: Outcome | None = None
    for name in accepted:
        outcome = score(variants[name])
        outcome.variant = name if outcome.fraction > 0 and len(variants) > 1 else None
        if best is None or outcome.fraction > best.fraction:
            best = outcome
        if outcome.fraction >= 1:
            break
    assert best is not None, "a check needs at least one accepted variant"
    return best


def show(value, limit: int = 300) -> str:
    """A short display of a decoded value for reports."""
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=6, threshold=12, edgeitems=3, suppress=False):
            text = f"array{list(value.shape)} " + np.array2string(value, separator=", ")
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def as_float_array(value) -> np.ndarray | None:
    """A numeric answer as a float64 array, or None for anything that is not numbers (a string,
    a function, a ragged list, a symbolic expression)."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float)):
        return np.array(float(value))
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return None
        return value.astype(float)
    if isinstance(value, list):
        try:
            arr = np.array(value, dtype=float)
        except (TypeError, ValueError):
            return None
        return arr
    return None


def type_name(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array of {value.dtype}"
    return type(value).__name__
