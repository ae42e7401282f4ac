"""Numeric checks: values and arrays, trajectories, exact answers.

Numbers are read in any accepted form (graders/checks/forms.py), shape first; NaN and +inf
are wrong answers, never crashes.
Tolerances follow numpy's isclose: |a - k| <= atol + rtol |k|.
"""

from __future__ import annotations

import numpy as np

from graders.checks import forms, quantities
from graders.checks.base import (Check, Outcome, Plot, Probe, ProbeResult, best_variant, join,
                                 near, show, type_name)


class ArrayCheck(Check):
    """A number or array against the key's variants, element-wise within rtol/atol, in any
    accepted form (graders/checks/forms.py): a value written as text (`3.2M`) matches at the
    precision written instead (graders/checks/quantities.py). With `per_element` the credit is
    the share of matching elements (a table graded cell by cell), else all or nothing."""

    kind = "numeric"

    def __init__(self, id, title, probe: Probe, variants: dict, accepted: list[str],
                 rtol: float, atol: float, per_element: bool = False):
        super().__init__(id, title, [probe])
        self.variants = {k: np.asarray(v, dtype=float) for k, v in variants.items()}
        self.accepted, self.rtol, self.atol = accepted, rtol, atol
        self.per_element = per_element

    def warm(self) -> None:
        _show_keys(self.variants)

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        tolerance = f"rtol {self.rtol:g}, atol {self.atol:g}"

        def score(key: np.ndarray) -> Outcome:
            arr, halves, layout, why = forms.numbers(value, key.shape)
            if arr is None:
                return Outcome(0.0, why, show(value), show(key), tolerance)
            if not np.isfinite(arr).all():
                return Outcome(0.0, "the answer contains inf", show(arr), show(key), tolerance)
            close = (near(arr, key, self.rtol, self.atol)
                     | quantities.covers(arr, halves, key))
            if close.all():
                return Outcome(1.0, "correct", show(arr), show(key), tolerance, layout or None)
            where = tuple(int(i) for i in np.argwhere(~close)[0]) if arr.ndim else ()
            share = float(close.mean()) if self.per_element else 0.0
            message = (f"{int((~close).sum())} of {close.size} values differ; first at index "
                       f"{where}" if arr.ndim else "the value differs from the answer")
            return Outcome(share, message, show(arr), show(key), tolerance,
                           (layout or None) if share else None,
                           detail=f"index {where}: {arr[where]:.6g} vs key {key[where]:.6g}")

        return best_variant(self.variants, self.accepted, score)


def _show_keys(variants: dict[str, np.ndarray]) -> None:
    """The displays of the key's variants, which every outcome shows (show keeps them by
    content; a history's aligned key rows are the whole key for n + 1 rows)."""
    for key in variants.values():
        show(key)


def partial_credit(share: float, minimum: float) -> float:
    """Credit for a history whose `share` of steps match: all of it, the share itself from
    `minimum` up, and nothing below (a different method that agrees on a few early steps
    has not earned a part of the answer)."""
    return share if share >= minimum else 0.0


class TrajectoryCheck(Check):
    """A history (steps + 1, series) or (steps + 1,) against the key's, step by step, in any
    accepted form (forms.histories: 201 rows, or 200 recorded before or after each step;
    layouts; with `log`, base e or 10). Values below `floor` on either side count as `floor`
    (an exact optimum gives log L = -inf, and below about -50 only rounding is left).

    Credit. A step matches when every series is within rtol/atol of the key. The key
    "moves" at step k while row k is not within that tolerance of its own last row; the other
    steps are "settled". Credit = (moving steps that match) / (moving steps + settled steps
    that do not match), given from `partial_from` on (partial_credit). Why: a history's work
    is its moving phase, so only moving steps earn; a settled step can only take away. An
    answer held constant at the optimum matches only settled steps and earns 0; a history
    right through most of the moving phase earns that share; one right while moving that
    breaks off after settling loses in proportion to the broken steps. A key that never
    moves counts every step as moving.
    """

    kind = "trajectory"

    def __init__(self, id, title, probe: Probe, variants: dict, accepted: list[str],
                 rtol: float, atol: float, floor: float, ylabel: str, labels: tuple[str, ...],
                 partial_from: float, select: float | None = None, log: bool = False):
        super().__init__(id, title, [probe])
        self.select, self.partial_from = select, partial_from
        self.variants = {k: np.asarray(v, dtype=float) for k, v in variants.items()}
        self.accepted, self.rtol, self.atol, self.floor = accepted, rtol, atol, floor
        self.ylabel, self.labels = ylabel, labels
        self.bases = forms.LOG_BASES if log else forms.LOG_BASES[:1]

    def warm(self) -> None:
        _show_keys(self.variants)

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        if self.select is not None:
            value, missing = forms.pick(value, self.select)
            if missing:
                return Outcome(0.0, missing, show(results[self.probes[0].id].value))
        tolerance = f"per step: rtol {self.rtol:g}, atol {self.atol:g}; floor {self.floor:g}"

        def score(key: np.ndarray) -> Outcome:
            readings = forms.histories(value, key)
            if isinstance(readings, str):
                plot = Plot(self.title, self.ylabel, None, np.maximum(key, self.floor),
                            labels=self.labels)
                return Outcome(0.0, readings, show(value), show(key), tolerance, plots=[plot])
            kept = None  # the first best reading; a full match ends the search
            for form, arr, part in readings:
                for base, factor in self.bases:
                    outcome = self._reading(form, base, factor, arr, part, tolerance)
                    if kept is None or outcome.fraction > kept[0].fraction:
                        kept = (outcome, arr, part)
                    if outcome.fraction >= 1:
                        break
                if kept[0].fraction >= 1:
                    break
            best, arr, part = kept
            best.student, best.expected = show(arr), show(part)  # the kept reading's only
            return best

        return best_variant(self.variants, self.accepted, score)

    def _reading(self, form: str, base: str, factor: float, arr: np.ndarray, key: np.ndarray,
                 tolerance: str) -> Outcome:
        """One reading of the answer (history form, log base) against the aligned key rows,
        without the displays of `arr` and `key` (the caller shows the reading it keeps)."""
        a = np.maximum(arr * factor, self.floor)
        k = np.maximum(key, self.floor)
        plot = Plot(self.title, self.ylabel, a, k, labels=self.labels)
        rows = lambda x: x.reshape(len(x), -1)  # noqa: E731
        close = lambda x, y: near(x, y, self.rtol, self.atol)  # noqa: E731
        step_ok = close(rows(a), rows(k)).all(axis=1) & ~np.isposinf(rows(arr)).any(axis=1)
        name = join(form, base)
        if step_ok.all():
            return Outcome(1.0, f"all {len(step_ok)} steps match", "", "", tolerance, name,
                           [plot])
        moving = ~close(rows(k), rows(k)[-1]).all(axis=1)
        if not moving.any():
            moving = np.ones_like(moving)
        settled = ~moving
        share = int(step_ok[moving].sum()) / (int(moving.sum()) +
                                              int((~step_ok[settled]).sum()))
        first = int(np.argmin(step_ok))
        message = (f"{int(step_ok.sum())} of {len(step_ok)} steps match; first mismatch at "
                   f"step {first}")
        detail = (f"step {first}: {show(arr[first])} vs key {show(key[first])}; "
                  f"{int(step_ok[moving].sum())} of the key's {int(moving.sum())} moving steps "
                  f"match, {int(step_ok[settled].sum())} of {int(settled.sum())} settled")
        return Outcome(partial_credit(share, self.partial_from), message, "", "", tolerance,
                       name, [plot], detail=detail)


class ExactCheck(Check):
    """An answer that must equal the key exactly: a boolean (True/False questions), an integer
    (a count, a bit size) or a string, compared by value and type (True is not 1)."""

    kind = "exact"

    def __init__(self, id, title, probe: Probe, variants: dict, accepted: list[str]):
        super().__init__(id, title, [probe])
        self.variants, self.accepted = variants, accepted

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value.item()  # a numpy scalar crosses the wire as a 0-d array

        def score(key) -> Outcome:
            if isinstance(key, bool) != isinstance(value, bool) or not isinstance(
                    value, (bool, int, str)) or isinstance(key, str) != isinstance(value, str):
                return Outcome(0.0, f"expected {type(key).__name__}, got {type_name(value)}",
                               show(value), show(key), "exact")
            same = value == key
            return Outcome(float(same), "correct" if same else f"{value!r} is not the answer",
                           show(value), show(key), "exact")

        return best_variant(self.variants, self.accepted, score)
