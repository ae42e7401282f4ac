"""duke-hw4 Lab 2: fixed-point quantisation of ResNet-20 (handout: (a) 10, (b) 4, (c) 6, (d) 6,
(e) 9, (f) 5 points).

  L2.a  the student's STE (FP_layers.py), probed in the worker per property
        (graders/checks/ste.py): edge cases, levels, range, rounding, gradient, asymmetry
  L2.b  accuracies of the float model and at 6..2 bits (`lab2_b_accuracy`): plausibility bands
        around the reference runs on the same data (graders/checks/bands.py) and "accuracy
        falls with precision"
  L2.c  the best accuracy finetuning 4, 3, 2 bits (`lab2_c_finetuned`): bands and "finetuning
        recovers accuracy"; the comment is graded by hand
  L2.d  mixed {4,4,2}, {4,2,4}, {2,4,4} before and after finetuning (`lab2_d_before`,
        `lab2_d_after`): bands, and which stage tolerates 2 bits best, as in the reference
  L2.e  the average precision of each scheme (`lab2_e_bits_442`, `..._424`, `..._244`) against
        reference.quantization.average_precision within an atol, the shortcut reading a named
        convention (1x1 conv shortcuts counted at the stage's precision, or zero-padding
        shortcuts); the working ("Your answer (L2.e)" cell) is graded by hand
  L2.f  the trade-off and the least important stage: by hand

Accuracy tables are dicts, read in the forms students write: keys 6, "6", "6-bit", "6 bits";
"float", "fp32", 32; (4, 4, 2), "4,4,2", "442"; values in percent or as fractions of 1 (all
at most 1), numbers, numpy or torch scalars; a list of per-epoch accuracies counts as its
highest (the handout reports the highest during finetuning).

Bands: reference +- `lab2_band` points, +- `lab2_band_degraded` for an accuracy before
finetuning that the reference shows collapsing (a 2-bit stage, or more than twice
`lab2_band` below the float model): such values swing widely between runs.
"""

from __future__ import annotations

import numpy as np

from graders.assignment import Problem
from graders.assignments.names import graded
from graders.checks import ste
from graders.checks.bands import Band, Leader, Ordering
from graders.checks.base import Probe, as_float_array
from graders.checks.numeric import ArrayCheck
from graders.config import AssignmentConfig
from graders.settings import NONNEGATIVE, SEED, Setting

TOLERANCES = {
    "lab2_band": Setting("number", above=0, maximum=100,
                         help="half-width of an accuracy band, in points (e.g. 3)"),
    "lab2_band_degraded": Setting("number", above=0, maximum=100,
                                  help="half-width for a collapsing accuracy (e.g. 25)"),
    "lab2_slack": NONNEGATIVE,
    "lab2_bits_atol": NONNEGATIVE,
    "lab2_probe_seed": SEED,
}
CONVENTIONS = {"shortcut": ["conv1x1", "zero-pad"]}

UNIFORM = ("6", "5", "4", "3", "2")
FINETUNED = ("4", "3", "2")
MIXED = ("442", "424", "244")


def label(entry: str) -> str:
    """"float" -> "float", "6" -> "6-bit", "442" -> "mixed 4,4,2"."""
    if entry == "float":
        return entry
    return f"{entry}-bit" if len(entry) == 1 else "mixed " + ",".join(entry)


def canonical(key) -> str | None:
    """A table key as an entry: "float" (float, fp32, 32), a bit width "6", or a scheme "442"."""
    text = str(key).lower()
    if "float" in text or "fp" in text or text.strip() == "32":
        return "float"
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits or None


def number(value) -> tuple[float | None, str | None]:
    """(an accuracy, the form) of one table value: a number, or the highest of a list."""
    arr = as_float_array(value)
    if arr is None:
        return None, None
    if arr.ndim == 0 or arr.size == 1:
        return float(arr.reshape(-1)[0]), None
    if arr.ndim == 1 and arr.size:
        return float(arr.max()), "the highest of the epochs' accuracies"
    return None, None


def reader(name: str, prefix: str = ""):
    """A bands.Reader for the dict `name`: {label(entry): percent} and the forms found."""

    def read(value):
        if not isinstance(value, dict):
            return f"{name} is not a dict of accuracies (it is {type(value).__name__})"
        values, forms = {}, set()
        for key, item in value.items():
            entry, (x, form) = canonical(key), number(item)
            if entry is None or x is None or not np.isfinite(x):
                return f"{name}[{key!r}] is not an accuracy (a number in percent)"
            values[entry] = x
            forms.add(form)
        if values and all(0 <= x <= 1 for x in values.values()):
            values = {e: 100 * x for e, x in values.items()}
            forms.add("fractions of 1")
        found = "; ".join(sorted(f for f in forms if f)) or None
        return {prefix + label(e): x for e, x in values.items()}, found

    return read


def merged(*readers):
    """One reader over several probes' tables (their entries' labels kept apart by prefix)."""

    def read(*values):
        out, forms = {}, []
        for read_one, value in zip(readers, values):
            got = read_one(value)
            if isinstance(got, str):
                return got
            out.update(got[0])
            forms.append(got[1])
        return out, "; ".join(f for f in forms if f) or None

    return read


def problems(key: dict, cfg: AssignmentConfig, manual: dict[str, dict[str, str]]) -> list[Problem]:
    """Lab 2's problems from the key (its "runs" and "quantization" topics)."""
    tol = cfg.tolerances
    runs = key["runs"]["results"]
    value = lambda part, stem: Probe(graded(part, stem), "value", graded(part, stem))  # noqa
    b, c = value("L2.b", "accuracy"), value("L2.c", "finetuned")
    d_before, d_after = value("L2.d", "before"), value("L2.d", "after")
    read_b, read_c = reader(b.name), reader(c.name, "finetuned ")
    read_before, read_after = reader(d_before.name), reader(d_after.name, "finetuned ")
    reference = {"float": runs["float"]["accuracy"],
                 **{label(u): runs["uniform"][u]["before_finetune"] for u in UNIFORM},
                 **{"finetuned " + label(u): runs["uniform"][u]["after_finetune"]
                    for u in FINETUNED},
                 **{label(m): runs["mixed"][_run(m)]["before_finetune"] for m in MIXED},
                 **{"finetuned " + label(m): runs["mixed"][_run(m)]["after_finetune"]
                    for m in MIXED}}

    def bands(entries: list[str]) -> dict:
        """Band's bands and `distinct` (a constant table earns nothing beyond the slack)."""
        return dict(bands={e: (reference[e], _half_width(e, reference, tol)) for e in entries},
                    distinct=tol["lab2_slack"])

    def held(pairs):
        """The pairs (hi, lo) the reference itself shows, within the slack."""
        return [(hi, lo) for hi, lo in pairs if reference[hi] >= reference[lo] - tol["lab2_slack"]]

    chain = ["float", *map(label, UNIFORM)]
    cases = ste.cases(int(tol["lab2_probe_seed"]))
    precision = key["quantization"]["average_precision"]
    accepted = cfg.conventions["shortcut"]
    return [
        Problem("L2.a", "STE: a linear quantiser with dynamic scaling (FP_layers.py)",
                [ste.QuantiserProperty(p, p, cases) for p in ste.PROPERTIES]),
        Problem("L2.b", "Accuracy of the float model and at 6, 5, 4, 3, 2 bits", [
            Band("float", "float model accuracy", b, read_b, **bands(["float"])),
            Band("bits", "accuracy at 6..2 bits", b, read_b, **bands(chain[1:])),
            Ordering("falls", "accuracy falls with precision", b, read_b,
                     held(list(zip(chain, chain[1:]))), tol["lab2_slack"],
                     "accuracy falls (or stays) as the precision falls"),
        ], manual.get("L2.b", {})),
        Problem("L2.c", "Finetuning at 4, 3, 2 bits: the best test accuracy", [
            Band("finetuned", "finetuned accuracy at 4, 3, 2 bits", c, read_c,
                 **bands(["finetuned " + label(u) for u in FINETUNED])),
            Ordering("recovers", "finetuning recovers accuracy", [b, c],
                     merged(read_b, read_c),
                     held([("finetuned " + label(u), label(u)) for u in FINETUNED]),
                     tol["lab2_slack"], "finetuning recovers (or keeps) the accuracy"),
        ], manual.get("L2.c", {})),
        Problem("L2.d", "Mixed precision {4,4,2}, {4,2,4}, {2,4,4}, before and after finetuning", [
            Band("before", "mixed precision before finetuning", d_before, read_before,
                 **bands([label(m) for m in MIXED])),
            Band("after", "mixed precision after finetuning", d_after, read_after,
                 **bands(["finetuned " + label(m) for m in MIXED])),
            Leader("stage", "which stage tolerates 2 bits best (before finetuning)", d_before,
                   read_before, [label(m) for m in MIXED],
                   _leaders([label(m) for m in MIXED], reference, tol["lab2_slack"]),
                   "the scheme with the best accuracy before finetuning"),
        ], manual.get("L2.d", {})),
        Problem("L2.e", "Average precision of each mixed scheme", [
            ArrayCheck(m, f"average precision of {label(m)} (bits)", value("L2.e", f"bits_{m}"),
                       {v: precision[v][_run(m)]["float"] for v in CONVENTIONS["shortcut"]},
                       accepted, rtol=0.0, atol=tol["lab2_bits_atol"])
            for m in MIXED
        ], manual.get("L2.e", {})),
        Problem("L2.f", "The best accuracy-precision trade-off; the least important stage",
                [], manual.get("L2.f", {})),
    ]


def _run(scheme: str) -> str:
    """"442" -> "mixed_4_4_2" (the key's and the runs' name)."""
    return "mixed_" + "_".join(scheme)


def _half_width(entry: str, reference: dict, tol: dict) -> float:
    """lab2_band, or lab2_band_degraded before finetuning where the reference collapses."""
    before = not entry.startswith("finetuned") and entry != "float"
    two_bit = "2" in entry.replace("finetuned", "")
    collapsed = reference[entry] < reference["float"] - 2 * tol["lab2_band"]
    return tol["lab2_band_degraded"] if before and (two_bit or collapsed) else tol["lab2_band"]


def _leaders(entries: list[str], reference: dict, slack: float) -> list[str]:
    """The entries within `slack` of the reference's best."""
    top = max(reference[e] for e in entries)
    return [e for e in entries if reference[e] >= top - slack]
