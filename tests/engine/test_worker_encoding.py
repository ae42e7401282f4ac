"""The worker's encoding of values (graders/sandbox/worker.encode) within its node budget:
sympy expressions (encode_expr: a subexpression met again is encoded once, yet the tree and
the node budget are exactly those of writing every node out; the oracle below walks the tree
plainly) and containers longer than the budget (too large at once)."""

from __future__ import annotations

import sympy as sp

from graders import wire
from graders.sandbox import worker


def written_out(expr, budget):
    """The plain recursive walk, one budget unit per node written."""
    budget[0] -= 1
    if budget[0] < 0:
        return ["Unsupported", "expression too large"]
    if expr.is_Symbol:
        return ["Symbol", expr.name]
    if expr.is_Integer:
        return ["Integer", str(int(expr))]
    if expr.is_Rational:
        return ["Rational", str(int(expr.p)), str(int(expr.q))]
    return [expr.func.__name__] + [written_out(a, budget) for a in expr.args]


def normal_equations():
    """(X^T X)^-1 X^T y for a symbolic 3 x 3 X, as a student writes 2.1: every entry repeats
    the determinant."""
    X = sp.Matrix(3, 3, sp.symbols("x1:10"))
    return (X.T * X).inv() * X.T * sp.Matrix(sp.symbols("y1:4"))


def test_shared_subexpressions_encode_as_written_out():
    W = normal_equations()
    budget = [10**6]
    encoded = worker.encode(W, budget)
    plain_budget = [10**6]
    assert encoded["items"] == [written_out(W[i, 0], plain_budget) for i in range(3)]
    assert budget[0] == plain_budget[0] - 1  # every repeat costs its nodes; 1 for the matrix
    assert wire.decode(encoded).shape == (3, 1)


def test_the_budget_runs_out_where_writing_out_runs_out():
    W = normal_equations()
    counted = [10**6]
    written_out(W[0, 0], counted)
    total = 10**6 - counted[0]
    for limit in (total, total - 1, total // 2, 50):
        budget, plain_budget = [limit], [limit]
        assert worker.encode_expr(sp, W[0, 0], budget) == written_out(W[0, 0], plain_budget)
        assert budget == plain_budget, limit
    assert "Unsupported" not in str(worker.encode_expr(sp, W[0, 0], [total]))
    assert "Unsupported" in str(worker.encode_expr(sp, W[0, 0], [total - 1]))


def test_a_container_longer_than_the_budget_is_too_large_at_once():
    for value in (list(range(10**7)), tuple(range(5000)), dict.fromkeys(range(5000))):
        assert worker.encode(value, [4000]) == worker.TOO_LARGE
    assert worker.encode([[1.0, 2.0]] * 10, [4000])["t"] == "list"  # within it: encoded
    nested = worker.encode([list(range(3000)), list(range(3000))], [4000])
    assert worker.TOO_LARGE in nested["items"]  # the budget shared by the items still holds
