"""Plausibility bands and relations: numbers a student measured (training accuracies) against
reference runs on the same data, where no exact answer exists.

A student's table (one probe's value, or several probes' values merged) is read by a
`reader` into {entry: value} (with the form it recognised) or a message saying what is wrong
with it. Then:

  Band      entry e passes when |x_e - r_e| <= h_e (reference r_e, half-width h_e); the check
            earns the share of its entries that pass. Kind "band": a loss is flagged on the
            class page, with bands and references beside it (Outcome.detail, instructors only).
            A table of one value repeated earns nothing where the references differ by more
            than `distinct` (it is no measurement, whichever bands it meets).
  Ordering  pairs (hi, lo): the student's x_hi >= x_lo - slack for each, all or nothing (a
            relation the reference shows, e.g. accuracy falls as precision falls).
  Leader    the student's entries of largest value among `entries` (all of them, where several
            tie) must be among `accepted` (those the reference puts first, within its ties),
            all or nothing.

Messages name entries and relations, never a reference value or a band.
"""

from __future__ import annotations

from typing import Callable

from graders.checks.base import Check, Outcome, Probe, ProbeResult

#: reader(*values) -> ({entry: float}, form name or None) or a message (str) saying what is
#: wrong; one value per probe of the check
Reader = Callable[[object], "tuple[dict[str, float], str | None] | str"]


class _TableCheck(Check):
    """A check on the table of one probe (or of several), read by `reader`; subclasses
    implement `judge`."""

    def __init__(self, id: str, title: str, probe: Probe | list[Probe], reader: Reader,
                 needs: list[str]):
        super().__init__(id, title, probe if isinstance(probe, list) else [probe])
        self.reader, self.needs = reader, needs

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        read = self.reader(*(results[p.id].value for p in self.probes))
        if isinstance(read, str):
            return Outcome(0.0, read)
        values, form = read
        missing = [e for e in self.needs if e not in values]
        if missing:
            return Outcome(0.0, f"no value for {', '.join(missing)} in "
                                f"{' or '.join(p.name for p in self.probes)}",
                           student=_shown(values))
        outcome = self.judge(values)
        outcome.student, outcome.variant = _shown({e: values[e] for e in self.needs}), form
        return outcome

    def judge(self, values: dict[str, float]) -> Outcome:
        raise NotImplementedError


class Band(_TableCheck):
    """Entries within reference +- half-width (module doc)."""

    kind = "band"

    def __init__(self, id: str, title: str, probe: Probe | list[Probe], reader: Reader,
                 bands: dict[str, tuple[float, float]], distinct: float, unit: str = "%"):
        super().__init__(id, title, probe, reader, list(bands))
        self.bands, self.distinct, self.unit = bands, distinct, unit

    def judge(self, values: dict[str, float]) -> Outcome:
        references = [r for r, _ in self.bands.values()]
        if len(self.bands) > 1 and len({values[e] for e in self.bands}) == 1 and \
                max(references) - min(references) > self.distinct:
            return Outcome(0.0, "every value is the same: not a measurement of these models",
                           detail="one value for every entry; references "
                                  + ", ".join(f"{r:g}" for r in references))
        outside = [e for e, (r, h) in self.bands.items() if not abs(values[e] - r) <= h]
        lines = [f"{e}: {values[e]:.4g} (reference {r:.4g}, band {r - h:.4g} to {r + h:.4g}"
                 f"{self.unit})" for e, (r, h) in self.bands.items()]
        expected = "; ".join(f"{e} {r:.4g} +- {h:g}{self.unit}"
                             for e, (r, h) in self.bands.items())
        share = 1 - len(outside) / len(self.bands)
        tolerance = "plausibility band around the reference run on the same data"
        if not outside:
            return Outcome(1.0, "every value lies in its plausible range", expected=expected,
                           tolerance=tolerance)
        return Outcome(share, f"outside the plausible range for the reference runs: "
                              f"{', '.join(outside)} (flagged for the instructor)",
                       expected=expected, tolerance=tolerance,
                       detail="outside: " + "; ".join(
                           line for line in lines if line.split(":")[0] in outside))


class Ordering(_TableCheck):
    """x_hi >= x_lo - slack for every pair (module doc)."""

    kind = "relation"

    def __init__(self, id: str, title: str, probe: Probe | list[Probe], reader: Reader,
                 pairs: list[tuple[str, str]], slack: float, relation: str):
        super().__init__(id, title, probe, reader, sorted({e for p in pairs for e in p}))
        self.pairs, self.slack, self.relation = pairs, slack, relation

    def judge(self, values: dict[str, float]) -> Outcome:
        broken = [(hi, lo) for hi, lo in self.pairs if values[hi] < values[lo] - self.slack]
        tolerance = f"slack {self.slack:g}"
        if broken:
            hi, lo = broken[0]
            return Outcome(0.0, f"{self.relation} does not hold: {lo} is above {hi}",
                           tolerance=tolerance,
                           detail=f"{lo} = {values[lo]:g} > {hi} = {values[hi]:g} + "
                                  f"{self.slack:g}")
        return Outcome(1.0, f"{self.relation}: holds", tolerance=tolerance)


class Leader(_TableCheck):
    """The student's largest entry among `entries` is one of `accepted` (module doc)."""

    kind = "relation"

    def __init__(self, id: str, title: str, probe: Probe | list[Probe], reader: Reader,
                 entries: list[str], accepted: list[str], relation: str):
        super().__init__(id, title, probe, reader, entries)
        self.accepted, self.relation = accepted, relation

    def judge(self, values: dict[str, float]) -> Outcome:
        top = max(values[e] for e in self.needs)
        leaders = [e for e in self.needs if values[e] == top]
        expected = " or ".join(self.accepted)
        if all(e in self.accepted for e in leaders):
            return Outcome(1.0, f"{self.relation}: as in the reference runs", expected=expected)
        return Outcome(0.0, f"{self.relation}: your table puts {', '.join(leaders)} first, "
                            "unlike the reference runs", expected=expected)


def _shown(values: dict[str, float]) -> str:
    return ", ".join(f"{e}: {v:g}" for e, v in values.items())
