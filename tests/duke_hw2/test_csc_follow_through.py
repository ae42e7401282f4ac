"""4.2's follow-through credit counts only 4.1 arrays that are a CSC encoding at all."""

from __future__ import annotations

import pytest

from graders.assignments.csc_problems import encoding_problem
from reference import csc

VALUES, REL, PTR = [0] * 18, [0] * 18, [0, 2, 5, 7, 10, 13, 15, 15, 18]


def test_the_keys_own_encoding_is_one():
    key = csc.build_key()["q41"]
    nonzeros = sum(v != 0 for v in key["values"])
    assert encoding_problem(key["values"], key["rel_index"], key["col_ptr"]["n+1"], nonzeros) == ""
    assert encoding_problem(key["values"], key["rel_index"], key["col_ptr"]["n"], nonzeros) == ""


@pytest.mark.parametrize("values, rel, ptr, why", [
    ([], [], [0] * 9, "an array is empty"),
    (VALUES, REL[:-1], PTR, "differ in length"),
    (VALUES[:12], REL[:12], [0, 2, 5, 7, 10, 12, 12, 12, 12], "fewer stored values"),
    (VALUES, REL, [0, 5, 2, 7, 10, 13, 15, 15, 18], "do not start at 0 and rise"),
    (VALUES, REL, [1, 2, 5, 7, 10, 13, 15, 15, 18], "do not start at 0 and rise"),
    (VALUES, REL, [0, 2, 5, 7, 10, 13, 15, 15, 17], "do not start at 0 and rise"),
    (VALUES, REL, PTR[:7], "does not hold 8 or 9 integers"),
    (VALUES, [0.5] * 18, PTR, "not an integer"),
])
def test_degenerate_arrays_are_refused(values, rel, ptr, why):
    assert why in encoding_problem(values, rel, ptr, nonzeros=13)
