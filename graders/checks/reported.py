"""Numbers a student reported from their own runs, read as the tables students write.

A reported table has one or more axes; each axis is keyed by names, counts or widths:

  Names   {canonical: aliases}: a dict keyed by any of them, compared without case, spaces
          or punctuation ("RMSProp+Nesterov", "rmsprop_nesterov" and "RMSprop Nesterov" are
          one key), or a list (or array rows) in the handout's order ("a list in the
          handout's order"). Entries the axis does not name (the student's own, "total", a
          pool layer) are left out; a name given twice is refused.
  Counts  (1, 2, 4, 8) GPUs, (2, 4, ..., 32) copies: a dict keyed by the count as a number
          (2, 2.0, "2") or by text holding it once ("2 GPUs", "M=2", "M = 2"), or a list
          aligned with the counts; with no counts given, a dict keyed by any counts.
  Widths  a network's hidden widths: (16, 128) (a tuple key crosses the wire as its text),
          "16x128", "16-128", 512: every integer in the key, in order.

`table(value, axes)` reads a nested dict/list along the axes: {(key, key, ...): entry}.
A pandas DataFrame does not cross the wire: `df.to_dict("list")` (columns as lists) does.

`ReportedCheck` reads probes as tables, every entry finite numbers (or, where a value may be
missing, None / NaN / text such as "not reached", read as NaN), and hands them to a `judge`
(the rule of one part), which returns the Outcome. Judges here: `positive` (times,
throughputs) and `shares` (accuracies, a fraction or a percent: `scale_of`); both refuse a
table of one repeated number (`all_equal`: runs of their own differ). graders/checks/
curves.py holds the judges of curves. Messages name the entry and the symptom; the numbers
are the student's. `NamedArrayCheck` is an ArrayCheck (a key's counts) whose answer may be a
dict keyed by names (AlexNet's layers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from graders.checks.base import (Check, Outcome, Probe, ProbeResult, as_float_array, join,
                                 type_name)
from graders.checks.forms import key_number
from graders.checks.numeric import ArrayCheck
from graders.wire import Opaque

#: Types a student may hold a table in that the wire does not carry (named in the message).
PANDAS = ("DataFrame", "Series")
#: The form name of a list read along a named axis.
IN_ORDER = "a list in the handout's order"
INTEGER = re.compile(r"\d+")


def normal(name) -> str:
    """A name without case, spaces or punctuation: "RMSProp + Nesterov" -> "rmspropnesterov"."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


@dataclass(frozen=True)
class Names:
    """An axis keyed by names: canonical name -> its other spellings (normalised on use)."""

    names: dict[str, tuple[str, ...]]

    def label(self, key) -> str:
        return str(key)

    def entries(self, value) -> tuple[dict | None, str, str]:
        """({canonical: entry}, form name, "") or (None, "", why)."""
        wanted = list(self.names)
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            value = list(value)  # one row per name: a (5, 200) array of curves
        if isinstance(value, list):
            if len(value) != len(wanted):
                return None, "", (f"expected {len(wanted)} entries ({', '.join(wanted)}), got "
                                  f"a list of {len(value)}")
            return dict(zip(wanted, value)), IN_ORDER, ""
        if not isinstance(value, dict):
            return None, "", f"expected a dict keyed by {', '.join(wanted)}, got {type_name(value)}"
        lookup = {normal(alias): name for name, aliases in self.names.items()
                  for alias in (name, *aliases)}
        out: dict = {}
        for key, item in value.items():
            name = lookup.get(normal(key))
            if name is None:
                continue
            if name in out:
                return None, "", f"two entries for {name}"
            out[name] = item
        missing = [n for n in wanted if n not in out]
        if missing:
            keys = ", ".join(map(str, list(value)[:8]))
            return None, "", f"no entry for {', '.join(missing)} (keys: {keys})"
        return out, "", ""


def count_of(key) -> int | None:
    """A dict key as a count: 2, 2.0, "2", "2 GPUs", "M=2"; None for anything else."""
    number = key_number(key)
    if number is not None:
        return int(number) if float(number).is_integer() else None
    found = INTEGER.findall(key) if isinstance(key, str) else []
    return int(found[0]) if len(found) == 1 else None


@dataclass(frozen=True)
class Counts:
    """An axis keyed by counts (learners, copies M), named `unit` in messages; with no
    `counts`, a dict keyed by any counts (the ones the student ran)."""

    counts: tuple[int, ...]
    unit: str

    def label(self, key) -> str:
        return f"{self.unit} = {key}"

    def entries(self, value) -> tuple[dict | None, str, str]:
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            value = list(value)
        if isinstance(value, list) and self.counts:
            if len(value) != len(self.counts):
                return None, "", (f"expected {len(self.counts)} entries ({self.unit} = "
                                  f"{', '.join(map(str, self.counts))}), got a list of "
                                  f"{len(value)}")
            return dict(zip(self.counts, value)), f"a list in the order of {self.unit}", ""
        if not isinstance(value, dict):
            return None, "", (f"expected a dict keyed by {self.unit}, got {type_name(value)}")
        out: dict = {}
        for key, item in value.items():
            count = count_of(key)
            if count is not None and (count in self.counts or not self.counts):
                if count in out:
                    return None, "", f"two entries for {self.label(count)}"
                out[count] = item
        missing = [str(c) for c in self.counts if c not in out]
        if missing or not out:
            keys = ", ".join(map(str, list(value)[:8]))
            return None, "", f"no entry for {self.unit} = {', '.join(missing)} (keys: {keys})"
        return out, "", ""


@dataclass(frozen=True)
class Widths:
    """An axis keyed by a network's hidden widths: 512, "512", "16x128", "(16, 128)",
    "16-128-64" (every integer in the key, in order); a dict of the configurations run."""

    unit: str = "configuration"

    def label(self, key) -> str:
        return f"{self.unit} {'x'.join(map(str, key))}"

    def entries(self, value) -> tuple[dict | None, str, str]:
        if not isinstance(value, dict) or not value:
            return None, "", (f"expected a dict keyed by hidden widths (e.g. \"16x128\"), got "
                              f"{type_name(value)}")
        out: dict = {}
        for key, item in value.items():
            number = count_of(key) if not isinstance(key, str) else None
            widths = (number,) if number is not None else tuple(
                int(w) for w in INTEGER.findall(str(key)))
            if not widths:
                return None, "", f"the key {str(key)[:40]!r} names no hidden widths"
            if widths in out:
                return None, "", f"two entries for {self.label(widths)}"
            out[widths] = item
        return out, "", ""


Axis = Names | Counts | Widths


def table(value, axes: tuple[Axis, ...]) -> tuple[dict | None, list[str], str]:
    """({(key, ...): entry} along `axes`, the forms read, "") or (None, [], why)."""
    if not axes:
        return {(): value}, [], ""
    entries, form, why = axes[0].entries(value)
    if entries is None:
        return None, [], why
    out, forms = {}, [form] if form else []
    for key, item in entries.items():
        inner, inner_forms, why = table(item, axes[1:])
        if inner is None:
            return None, [], f"{axes[0].label(key)}: {why}"
        out.update({(key, *rest): v for rest, v in inner.items()})
        forms += [f for f in inner_forms if f not in forms]
    return out, forms, ""


def label(key: tuple, axes: tuple[Axis, ...]) -> str:
    """The entry's name in messages: "adam", "NCCL, GPUs = 4"."""
    return ", ".join(axis.label(k) for axis, k in zip(axes, key))


def numbers(entries: dict, axes: tuple[Axis, ...], missing_ok: bool = False
            ) -> tuple[dict | None, str]:
    """Each entry as a finite float array, or (None, why naming the first that is not). With
    `missing_ok`, an entry None, NaN or text ("not reached") is NaN: a value not obtained."""
    out = {}
    for key, item in entries.items():
        if missing_ok and (item is None or isinstance(item, str)):
            item = float("nan")
        arr = as_float_array(item)
        if missing_ok and arr is not None and arr.shape == () and np.isnan(arr):
            out[key] = arr
            continue
        if arr is None or arr.size == 0 or not np.isfinite(arr).all():
            what = "finite numbers" if arr is not None and arr.size else "numbers"
            return None, f"{label(key, axes)}: expected {what}, got {type_name(item)}"
        out[key] = arr
    return out, ""


#: judge(tables, one per read, each {key tuple: float array}) -> the Outcome.
Judge = Callable[[list[dict]], Outcome]


class ReportedCheck(Check):
    """Tables a student reported (`reads`: a probe and its axes each), every entry finite
    numbers (or, for the probes named in `missing_ok`, a value not obtained: NaN), judged by
    `judge`. The forms read are named in the outcome's variant."""

    kind = "consistency"

    def __init__(self, id, title, reads: list[tuple[Probe, tuple[Axis, ...]]], judge: Judge,
                 missing_ok: frozenset[str] = frozenset()):
        super().__init__(id, title, [probe for probe, _ in reads])
        self.reads, self.judge, self.missing_ok = reads, judge, missing_ok

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        tables, forms = [], []
        for probe, axes in self.reads:
            value = results[probe.id].value
            if isinstance(value, Opaque) and value.type in PANDAS:
                return Outcome(0.0, f"{probe.name}: a pandas {value.type} does not reach the "
                               "grader; hand in df.to_dict(\"list\") or plain dicts and lists")
            entries, read_forms, why = table(value, axes)
            values, why = (numbers(entries, axes, probe.id in self.missing_ok)
                           if entries is not None else (None, why))
            if values is None:
                return Outcome(0.0, f"{probe.name}: {why}")
            tables.append(values)
            forms += [f for f in read_forms if f not in forms]
        outcome = self.judge(tables)
        if outcome.fraction > 0 and forms:
            outcome.variant = "; ".join([*forms, *([outcome.variant] if outcome.variant else [])])
        return outcome


def positive(name: str, axes: tuple[Axis, ...]) -> Judge:
    """Every entry of the one table positive (a time, a throughput)."""

    def judge(tables: list[dict]) -> Outcome:
        bad = [key for key, arr in tables[0].items() if not (arr > 0).all()]
        if bad:
            return Outcome(0.0, f"{name}: {label(bad[0], axes)} is not positive")
        if all_equal(tables[0]):
            return Outcome(0.0, f"{name}: {SAME}")
        return Outcome(1.0, f"{name}: every entry present and positive")
    return judge


SAME = "every entry is the same number, where runs of their own give different ones"


def all_equal(entries: dict) -> bool:
    """More than two entries, all one number: a constant passed off as measurements."""
    values = np.concatenate([np.ravel(a) for a in entries.values()])
    return values.size > 2 and bool(np.all(values == values[0]))


#: How an accuracy or an error rate may be written: as a fraction or in percent.
SCALES = {"fraction": 1.0, "percent": 100.0}


def scale_of(arrays: list[np.ndarray]) -> tuple[str | None, str]:
    """("fraction" | "percent", "") for values all in [0, 1] or all in [0, 100] with one
    above 1 (a percent curve never stays below 1%), else (None, why)."""
    values = np.concatenate([a.ravel() for a in arrays])
    if values.size and values.min() >= 0 and values.max() <= 1:
        return "fraction", ""
    if values.size and values.min() >= 0 and values.max() <= 100:
        return "percent", ""
    return None, "values outside [0, 1] (a fraction) and [0, 100] (a percent)"


def shares(name: str, axes: tuple[Axis, ...]) -> Judge:
    """Every entry of the one table an accuracy: a fraction, or a percent (named)."""

    def judge(tables: list[dict]) -> Outcome:
        scale, why = scale_of(list(tables[0].values()))
        if scale is None:
            return Outcome(0.0, f"{name}: {why}")
        if all_equal(tables[0]):
            return Outcome(0.0, f"{name}: {SAME}")
        return Outcome(1.0, f"{name}: every entry present, as a {scale}", variant=scale)
    return judge


class NamedArrayCheck(ArrayCheck):
    """An ArrayCheck whose answer may also be a dict keyed by names (`axis`, e.g. AlexNet's
    layers): read in the axis's order, the form named ("a dict keyed by name")."""

    def __init__(self, axis: Names, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.axis = axis

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        probe = self.probes[0]
        value = results[probe.id].value
        if not isinstance(value, dict):
            return super().evaluate(results)
        entries, _, why = self.axis.entries(value)
        if entries is None:
            return Outcome(0.0, f"{probe.name}: {why}")
        outcome = super().evaluate({probe.id: ProbeResult(True, list(entries.values()))})
        if outcome.fraction > 0:
            outcome.variant = join(outcome.variant, "a dict keyed by name")
        return outcome
