"""Several checks scored as one: a history and its loss together, or a sweep over the values
of a parameter (lambda, a threshold) of which the problem wants every one or any one.

`GroupCheck(groups, need)`: `groups` maps a label (e.g. "lam=0.5") to the checks of that
value; a group earns the mean of its checks' credit. need="all": the credit is the mean over
the groups; need="one" (the student picks one value): the best group's credit.
"""

from __future__ import annotations

from graders.checks.base import Check, Outcome, ProbeResult


class GroupCheck(Check):
    def __init__(self, id: str, title: str, groups: dict[str, list[Check]], need: str = "all"):
        if need not in ("all", "one"):
            raise ValueError(f"need must be 'all' or 'one', got {need!r}")
        probes = {p.id: p for checks in groups.values() for c in checks for p in c.probes}
        optional = frozenset().union(*(c.optional for cs in groups.values() for c in cs))
        super().__init__(id, title, list(probes.values()), optional)
        self.groups, self.need = groups, need
        self.kind = next(iter(groups.values()))[0].kind

    def warm(self) -> None:
        for checks in self.groups.values():
            for check in checks:
                check.warm()

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        scored = {label: [(c.title, c.evaluate(results)) for c in checks]
                  for label, checks in self.groups.items()}
        credit = {label: sum(o.fraction for _, o in outs) / len(outs)
                  for label, outs in scored.items()}
        if self.need == "one":
            best = max(credit, key=credit.get)
            shown, fraction = {best: scored[best]}, credit[best]
        else:
            shown, fraction = scored, sum(credit.values()) / len(credit)
        prefix = (lambda label: f"{label} ") if len(self.groups) > 1 else (lambda label: "")
        parts = [f"{prefix(label)}{title}: {o.message}" for label, outs in shown.items()
                 for title, o in outs if o.fraction < 1]
        if not parts:
            parts = [f"all {len(shown)} values match" if len(shown) > 1 else
                     "; ".join(o.message for _, o in next(iter(shown.values())))]
        message = "; ".join(parts)
        if self.need == "one" and len(self.groups) > 1:
            message = f"chosen {best}: {message}"
        outcomes = [o for outs in shown.values() for _, o in outs]
        variants = sorted({o.variant for o in outcomes if o.variant})
        detail = "; ".join(f"{prefix(label)}{title}: {o.detail}" for label, outs in shown.items()
                           for title, o in outs if o.detail)
        return Outcome(fraction, message, "; ".join(o.student for o in outcomes[:2]),
                       "; ".join(o.expected for o in outcomes[:2]), outcomes[0].tolerance,
                       ", ".join(variants) or None, [plot for o in outcomes for plot in o.plots],
                       detail)
