"""Curves a student reported from their own training runs (loss or error per epoch).

Runs of 100-200 epochs cannot be repeated per submission: what can be checked is that each
asked-for curve is there and is a training curve (graders/checks/reported.py reads the
table: curves keyed by method or by M):
  - its length: `lengths` points (200 epochs: 200 points, or 201 with epoch 0 recorded);
  - finite values, in [0, 1] (a fraction) or [0, 100] (a percent) where `percent_or_fraction`;
  - falling overall: the mean of its last tenth below the mean of its first tenth
    (tenth = max(1, n // 10) points), which a loss or error of a run that learns does and a
    constant or a rising curve does not.
Credit is the share of curves that pass; the report plots them (the student's, no key).

`epochs_to_reach` judges a table of "epochs to reach an error of at most `target`" against
the student's own curves: the first point at or below the target, counted as the epoch after
which it was recorded (point i of a curve of at most `max_epochs` points is after epoch
i + 1; of max_epochs + 1 points, after epoch i: epoch 0 recorded), or the same index counted
from 0 (a named variant); a curve that never reaches it must be reported as not reached
(None, NaN or text). `final_values` judges the accuracies reported at the end of training
against the curves' last points. An entry whose own curve fails `curve_problem` is wrong in
both: a table consistent with a constant curve is no evidence of a run.
"""

from __future__ import annotations

import numpy as np

from graders.checks.base import Outcome, Plot
from graders.checks.reported import SCALES, Axis, Judge, label, scale_of


def one(value: np.ndarray) -> float:
    """A reported entry as one number (NaN for anything but a single value)."""
    return float(np.ravel(value)[0]) if np.size(value) == 1 else np.nan


def falls(curve: np.ndarray) -> bool:
    """Mean of the last tenth below the mean of the first tenth (tenth >= 1 point)."""
    tenth = max(1, len(curve) // 10)
    return bool(curve[-tenth:].mean() < curve[:tenth].mean())


def stacked(curves: list[np.ndarray]) -> np.ndarray:
    """(longest, series), shorter curves padded with NaN (a break in the plotted line)."""
    out = np.full((max(len(c) for c in curves), len(curves)), np.nan)
    for j, curve in enumerate(curves):
        out[:len(curve), j] = curve
    return out


def curve_problem(curve: np.ndarray, lengths: range | tuple[int, ...]) -> str:
    """"" for a curve of an accepted length that falls overall, else what is wrong."""
    if curve.ndim != 1:
        return f"expected one value per epoch, got shape {curve.shape}"
    if len(curve) not in lengths:
        low, high = min(lengths), max(lengths)
        return f"{len(curve)} points, expected {low}" + (f" to {high}" if high > low else "")
    if not falls(curve):
        return "does not fall: its last tenth is not below its first"
    return ""


def curves(name: str, axes: tuple[Axis, ...], lengths: range | tuple[int, ...],
           ylabel: str, percent_or_fraction: bool = False) -> Judge:
    """The judge of one table of curves (see the module)."""

    def judge(tables: list[dict]) -> Outcome:
        table = tables[0]
        scale = None
        if percent_or_fraction:
            scale, why = scale_of(list(table.values()))
            if scale is None:
                return Outcome(0.0, f"{name}: {why}")
        wrong = {key: why for key, curve in table.items() if (why := curve_problem(curve, lengths))}
        share = 1 - len(wrong) / len(table)
        names = tuple(label(key, axes) or name for key in table)
        plot = Plot(f"{name} (your runs)", ylabel,
                    stacked([np.atleast_1d(c).ravel() for c in table.values()]), None,
                    labels=names)
        forms = [scale] if scale else []
        if any(len(np.atleast_1d(c)) == max(lengths) for c in table.values()):
            forms.append(f"epoch 0 recorded ({max(lengths)} points)")
        variant = "; ".join(forms) or None
        if not wrong:
            counted = f"{len(table)} curves, each" if len(table) > 1 else "the curve"
            return Outcome(1.0, f"{name}: {counted} of an accepted length, falling",
                           variant=variant, plots=[plot])
        key, why = next(iter(wrong.items()))
        return Outcome(share, f"{name}: {len(wrong)} of {len(table)} curves wrong; "
                       f"{label(key, axes) or 'the curve'}: {why}",
                       variant=variant if share else None, plots=[plot])
    return judge


#: How a reported epoch counts the curve's points (see the module).
EPOCHS = {"epochs counted from 1": 1, "epochs counted from 0": 0}


def first_epochs(curve: np.ndarray, target: float, max_epochs: int) -> dict[str, float]:
    """{counting: the epoch at which `curve` first is <= target} (NaN: never)."""
    reached = np.flatnonzero(curve <= target + 1e-9)
    if not len(reached):
        return {name: np.nan for name in EPOCHS}
    first = int(reached[0])
    if len(curve) == max_epochs + 1:  # point 0 is epoch 0, before training
        return {name: float(first) for name in EPOCHS}
    return {name: float(first + offset) for name, offset in EPOCHS.items()}


def epochs_to_reach(name: str, axes: tuple[Axis, ...], target_percent: float,
                    max_epochs: int, lengths: range) -> Judge:
    """tables = [curves (error per epoch), reported epochs]: each reported epoch the first
    at or below target_percent on its own curve (in the curves' scale), or not reached
    (NaN) where the curve never gets there. Credit: the share of entries consistent."""

    def judge(tables: list[dict]) -> Outcome:
        curves_by_key, reported = tables
        scale, why = scale_of(list(curves_by_key.values()))
        if scale is None:
            return Outcome(0.0, f"{name}: the curves' {why}")
        target = target_percent / 100 * SCALES[scale]
        best = None
        for counting in EPOCHS:
            wrong = []
            for key, curve in curves_by_key.items():
                first = first_epochs(np.ravel(curve), target, max_epochs)[counting]
                said = one(reported[key])
                if curve_problem(curve, lengths) or not (
                        np.isnan(first) and np.isnan(said) or first == said):
                    wrong.append((key, first, said))
            if best is None or len(wrong) < len(best[1]):
                best = (counting, wrong)
        counting, wrong = best
        share = 1 - len(wrong) / len(curves_by_key)
        if not wrong:
            return Outcome(1.0, f"{name}: every entry agrees with your curves", variant=counting)
        key, first, said = wrong[0]
        what = ("its curve is not a training curve" if curve_problem(curves_by_key[key], lengths)
                else "reported as reached, but your curve never gets there" if np.isnan(first) else
                "reported as not reached, but your curve gets there" if np.isnan(said) else
                f"epoch {said:g} reported, your curve first gets there at epoch {first:g}")
        return Outcome(share, f"{name}: {len(wrong)} of {len(curves_by_key)} entries disagree "
                       f"with your curves; {label(key, axes)}: {what}",
                       variant=counting if share else None)
    return judge


def final_values(name: str, axes: tuple[Axis, ...], atol_percent: float,
                 lengths: range) -> Judge:
    """tables = [curves (error per epoch), reported final accuracy]: each accuracy is
    100% minus the curve's last error, within atol_percent points (each table in its own
    scale: a fraction or a percent)."""

    def judge(tables: list[dict]) -> Outcome:
        curves_by_key, accuracy = tables
        (c_scale, why), (a_scale, why_a) = (scale_of(list(curves_by_key.values())),
                                            scale_of(list(accuracy.values())))
        if c_scale is None or a_scale is None:
            return Outcome(0.0, f"{name}: {why or why_a}")
        wrong = [key for key, curve in curves_by_key.items()
                 if curve_problem(curve, lengths) or not abs(100 - np.ravel(curve)[-1] * 100 / SCALES[c_scale]
                        - one(accuracy[key]) * 100 / SCALES[a_scale]) <= atol_percent]
        if not wrong:
            return Outcome(1.0, f"{name}: every entry agrees with your curves' last epoch",
                           variant=a_scale)
        share = 1 - len(wrong) / len(curves_by_key)
        return Outcome(share, f"{name}: {len(wrong)} of {len(curves_by_key)} entries are not "
                       f"100% minus the last error of a falling curve of yours; first at "
                       f"{label(wrong[0], axes)}",
                       variant=a_scale if share else None)
    return judge
