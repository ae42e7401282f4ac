"""duke-hw2 4.1-4.3: CSC encoding with a 2-bit relative row index, and its bit accounting.

What the grader reads (student_template/duke-hw2/hw2.ipynb names them):
  4.1  p4_1_values     list: "w0".."w12" (strings or sympy symbols) and 0 for placeholders
       p4_1_rel_index  list of int
       p4_1_col_ptr    list of int: n+1 or n entries (both accepted; the report names which)
  4.2  p4_2_rel_index_bits, p4_2_col_ptr_bits: int; p4_2_compression_rate: float (dense /
       CSC; CSC / dense is read as the same answer and named)
  4.3  p4_3_total_bits sympy expression in M, N, K: the three arrays' bits
       p4_3_max_K      sympy expression in M, N: the largest K that saves space (floor it)

4.2 and 4.3 are scored against the pointer convention of the student's own col_ptr (n or n+1
entries) where it is readable, and against every accepted one otherwise. A 4.2 answer that
is wrong against the key but counts the student's own 4.1 arrays right is accepted as
"follow-through" (the mistake is charged in 4.1 only), provided those arrays are a CSC
encoding at all (`encoding_problem`): empty arrays or a pointer array that contradicts the
others earn nothing. Pointer widths follow grader.toml's
pointer_width (the handout's hint asks for the worst case).
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from graders.assignment import Problem
from graders.assignments.names import graded
from graders.checks.base import (Check, Outcome, Probe, ProbeResult, as_float_array,
                                 best_variant, show)
from graders.checks.numeric import ArrayCheck
from graders.checks.symbolic import SymbolicCheck
from graders.config import AssignmentConfig
from graders.settings import number_in
from reference import csc

TOLERANCES = {"csc_rate_rtol": number_in(0, 0.5, "a relative tolerance in [0, 0.5]")}
CONVENTIONS = {"pointer_entries": list(csc.POINTER_ENTRIES),
               "pointer_width": list(csc.POINTER_WIDTHS)}
SHAPE = (8, 8)


def value(name: str) -> Probe:
    """The probe of graded name `name` ("p4_1_values")."""
    return Probe(name, "value", name)


def plain(expr):
    """The key's formula with assumption-free symbols, as a student's arrives over the wire."""
    return expr.xreplace({s: sp.Symbol(s.name) for s in expr.free_symbols})


def entry_name(item):
    """A stored value as the key writes it: "w3" for the symbol w3, 0 for a zero; None if
    it is neither."""
    if isinstance(item, sp.Symbol) or (isinstance(item, str) and item.strip().startswith("w")):
        return str(item).strip()
    try:
        return 0 if float(str(item)) == 0 else None
    except ValueError:
        return None


class ValuesCheck(Check):
    """4.1's Virtual Weight array: the names in order, placeholders as 0."""

    kind = "exact"

    def __init__(self, key: list):
        super().__init__("values", "Virtual Weight array", [value(graded("4.1", "values"))])
        self.key = key

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        raw = results[self.probes[0].id].value
        items = list(raw) if isinstance(raw, (list, tuple, np.ndarray)) else None
        if items is None:
            return Outcome(0.0, f"expected a list, got {type(raw).__name__}", show(raw),
                           show(self.key), "exact")
        got = [entry_name(i) for i in items]
        shown = show(got)
        if got == self.key:
            return Outcome(1.0, "correct", shown, show(self.key), "exact")
        if 0 not in got and 0 in self.key:
            why = (f"no placeholder zeros in {len(got)} entries: a gap of more than 3 zeros "
                   "needs a placeholder")
            detail = f"the key stores {self.key.count(0)} placeholders"
        elif len(got) != len(self.key):
            why, detail = f"{len(got)} entries: a wrong count", f"the key has {len(self.key)}"
        else:
            i = next(i for i, (a, b) in enumerate(zip(got, self.key)) if a != b)
            why, detail = f"entry {i} ({got[i]!r}) is wrong", f"the key's is {self.key[i]!r}"
        return Outcome(0.0, why, shown, show(self.key), "exact", detail=detail)


class RelIndexCheck(Check):
    """4.1's Relative Row Index array, with the symptoms of the usual mistakes."""

    kind = "exact"

    def __init__(self, key: list, col_ptr: list, bits: int):
        super().__init__("rel_index", "Relative Row Index array",
                         [value(graded("4.1", "rel_index"))])
        self.key, self.col_ptr, self.top = key, col_ptr, 2**bits - 1

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        raw = results[self.probes[0].id].value
        arr = as_float_array(raw)
        if arr is None or arr.ndim != 1:
            return Outcome(0.0, "expected a list of integers", show(raw), show(self.key),
                           "exact")
        got = [int(v) if float(v).is_integer() else float(v) for v in arr]
        if got == self.key:
            return Outcome(1.0, "correct", show(got), show(self.key), "exact")
        firsts = [self.key[i] for i in self.col_ptr[:-1] if i < len(self.key)]
        if len(got) != len(self.key):
            why = f"{len(got)} entries: a wrong count"
        else:
            why = f"entry {next(i for i, (a, b) in enumerate(zip(got, self.key)) if a != b)} differs"
        if any(v > self.top or v < 0 for v in got):
            why += (f"; an index outside 0-{self.top} does not fit in the index bits: a longer "
                    "gap needs a placeholder")
        elif got[:1] == firsts[:1] and got[:len(firsts)] != self.key[:len(firsts)]:
            why += ("; each column's first index is right but later ones are not: zeros "
                    "counted from the column start instead of from the previous stored entry?")
        return Outcome(0.0, why, show(got), show(self.key), "exact",
                       detail=f"the key has {len(self.key)} entries")


def encoding_problem(values: list, rel_index: list, col_ptr: list, nonzeros: int) -> str:
    """Why the student's 4.1 arrays are no CSC encoding of an 8 x 8 matrix with `nonzeros`
    nonzeros ("" if they are one): each array nonempty, as many indices as values, at least
    one stored value per nonzero, integer indices (a too large one is 4.1's mistake, not
    4.2's), and n or n+1 integer pointers starting at 0, never decreasing, ending within the
    values (n+1: at their end)."""
    if not (values and rel_index and col_ptr):
        return "an array is empty"
    if len(values) != len(rel_index):
        return "values and relative indices differ in length"
    if len(values) < nonzeros:
        return "fewer stored values than the matrix has nonzeros"

    def integers(xs) -> bool:
        return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in xs)

    if not integers(rel_index):
        return "a relative index is not an integer"
    if len(col_ptr) not in (SHAPE[1], SHAPE[1] + 1) or not integers(col_ptr):
        return f"the column pointer does not hold {SHAPE[1]} or {SHAPE[1] + 1} integers"
    if col_ptr[0] != 0 or any(b < a for a, b in zip(col_ptr, col_ptr[1:])) \
            or col_ptr[-1] > len(values) \
            or (len(col_ptr) == SHAPE[1] + 1 and col_ptr[-1] != len(values)):
        return "the column pointers do not start at 0 and rise to the end of the values"
    return ""


class BitsCheck(Check):
    """One 4.2 number against the key's accounting under the student's pointer convention
    (read from their p4_1_col_ptr), or their own arrays' accounting (follow-through)."""

    kind = "numeric"

    def __init__(self, id, title, name: str, field: str, key: dict, accepted: list[str],
                 rtol: float, widths: list[str], nonzeros: int):
        arrays = [value(graded("4.1", name)) for name in ("values", "rel_index", "col_ptr")]
        super().__init__(id, title, [value(name), *arrays], frozenset(p.id for p in arrays))
        self.field, self.key, self.accepted, self.rtol, self.widths = field, key, accepted, \
            rtol, widths
        self.nonzeros = nonzeros

    def _own(self, results) -> dict:
        """Variants computed from the student's own 4.1 arrays, where they are an encoding."""
        got = [results.get(p.id) for p in self.probes[1:]]
        if not all(r is not None and r.ok and isinstance(r.value, (list, tuple, np.ndarray))
                   for r in got):
            return {}
        values, rel_index, col_ptr = (list(r.value) for r in got)
        if encoding_problem(values, rel_index, col_ptr, self.nonzeros):
            return {}
        return {f"follow-through from your 4.1 arrays ({w})": csc.size_bits(
            values, rel_index, np.asarray(col_ptr, dtype=int), SHAPE, value_bits=8,
            index_bits=2, width=w) for w in self.widths}

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        answer = as_float_array(results[self.probes[0].id].value)
        ptr = results.get(self.probes[3].id)
        n_ptr = len(ptr.value) if ptr is not None and ptr.ok and isinstance(
            ptr.value, (list, tuple, np.ndarray)) else None
        own = "n+1" if n_ptr == SHAPE[1] + 1 else ("n" if n_ptr == SHAPE[1] else None)
        conventions = [own] if own in self.accepted else self.accepted
        variants = {f"{pe} pointers, {w}": self.key[pe][w] for pe in conventions
                    for w in self.widths}
        fields = [self.field] + (["size_ratio"] if self.field == "compression_rate" else [])

        def score(sizes: dict) -> Outcome:
            if answer is None or answer.shape != ():
                return Outcome(0.0, "expected a number", show(answer), "", "")
            expected = [float(sizes[f]) for f in fields]
            for f, target in zip(fields, expected):
                if np.isclose(float(answer), target, rtol=self.rtol, atol=0):
                    note = " (read as CSC / dense)" if f == "size_ratio" else ""
                    return Outcome(1.0, "correct" + note, show(float(answer)), show(target),
                                   f"rtol {self.rtol:g}")
            return Outcome(0.0, "not the answer", show(float(answer)),
                           show(expected[0]), f"rtol {self.rtol:g}",
                           detail=f"the key's is {expected[0]:g}")

        variants.update(self._own(results))
        outcome = best_variant(variants, list(variants), score)
        if outcome.fraction < 1 and self.field == "col_ptr":
            this = {self.key[pe]["this-matrix"]["col_ptr"] for pe in conventions}
            if answer is not None and answer.shape == () and float(answer) in this:
                outcome.message = ("pointer width taken from this matrix's entries; the hint "
                                   "asks for the worst case of an 8 x 8 matrix")
        return outcome


class MaxKCheck(Check):
    """4.3's largest K, a formula in M and N, evaluated at the key's example sizes."""

    kind = "symbolic"

    def __init__(self, examples: dict, accepted: list[str], widths: list[str]):
        super().__init__("max_k", "highest K that saves space", [value(graded("4.3", "max_K"))])
        self.examples, self.accepted, self.widths = examples, accepted, widths

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        from graders.checks.symbolic import as_sympy
        answer, why = as_sympy(results[self.probes[0].id].value)
        M, N = sp.Symbol("M"), sp.Symbol("N")

        def score(variant: tuple[str, str]) -> Outcome:
            pe, width = variant
            wanted = {label: ex[pe][width] for label, ex in self.examples.items()}
            if answer is None:
                return Outcome(0.0, why, "", show(wanted))
            extra = {s.name for s in answer.free_symbols} - {"M", "N"}
            if extra:
                return Outcome(0.0, f"uses symbols other than M, N: {', '.join(sorted(extra))}",
                               formula_text(answer), show(wanted))
            for label, target in wanted.items():
                m, n = (int(part.split("=")[1]) for part in label.split(","))
                got = answer.xreplace({M: m, N: n})
                if not (got.is_number and got == target):
                    return Outcome(0.0, f"wrong at {label} (it gives {got})",
                                   formula_text(answer), show(wanted), "exact at each size",
                                   detail=f"the key gives {target}")
            return Outcome(1.0, f"right at {len(wanted)} sizes ({', '.join(wanted)})",
                           formula_text(answer), show(wanted), "exact at each size")

        variants = {f"{pe} pointers, {w}": (pe, w) for pe in self.accepted for w in self.widths}
        return best_variant(variants, list(variants), score)


@functools.lru_cache(maxsize=256)
def formula_text(answer: sp.Basic) -> str:
    """A formula as the report shows it (its first 300 characters), printed once per
    distinct formula (sympy's printer takes milliseconds; a class's answers repeat)."""
    return str(answer)[:300]


def problems(key: dict, cfg: AssignmentConfig) -> list[Problem]:
    """4.1-4.3 from the csc topic of the key."""
    q41, q42, q43 = key["q41"], key["q42"], key["q43"]
    entries = cfg.conventions["pointer_entries"]
    widths = cfg.conventions["pointer_width"]
    rtol = cfg.tolerances["csc_rate_rtol"]
    bits = dict(key=q42, accepted=entries, rtol=rtol, widths=widths,
                nonzeros=sum(v != 0 for v in q41["values"]))
    return [
        Problem("4.1", "CSC encoding with a 2-bit relative row index", [
            ValuesCheck(q41["values"]),
            RelIndexCheck(q41["rel_index"], q41["col_ptr"]["n+1"], 2),
            ArrayCheck("col_ptr", "Column Pointer array", value(graded("4.1", "col_ptr")),
                       {f"{pe} pointers": q41["col_ptr"][pe] for pe in entries},
                       [f"{pe} pointers" for pe in entries], rtol=0, atol=0),
        ]),
        Problem("4.2", "Bits of the index and pointer arrays; compression rate", [
            BitsCheck("rel_index_bits", "Relative Row Index bits", graded("4.2", "rel_index_bits"),
                      "rel_index", **bits),
            BitsCheck("col_ptr_bits", "Column Pointer bits", graded("4.2", "col_ptr_bits"),
                      "col_ptr", **bits),
            BitsCheck("compression_rate", "compression rate (dense / CSC)",
                      graded("4.2", "compression_rate"), "compression_rate", **bits),
        ]),
        Problem("4.3", "CSC size for 2^M x 2^N, K entries per column (extra credit)", [
            SymbolicCheck("total_bits", "total bits of the three arrays",
                          value(graded("4.3", "total_bits")),
                          {f"{pe} pointers, {w}": plain(q43["total_bits"][pe][w])
                           for pe in entries for w in widths},
                          [f"{pe} pointers, {w}" for pe in entries for w in widths]),
            MaxKCheck(q43["examples"], entries, widths),
        ]),
    ]
