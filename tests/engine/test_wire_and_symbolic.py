"""Untrusted data -> values: arrays from bytes, expressions by whitelist, never by eval."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import sympy as sp

from graders import symbolic, wire
from graders.sandbox.worker import encode


def test_roundtrip_of_the_wire_format():
    value = {"a": np.arange(6.0).reshape(2, 3), "n": 3, "f": float("inf"), "s": "hi",
             "e": sp.Symbol("x") ** 2 / 3 + sp.sin(sp.Symbol("y")), "l": [1, None, True]}
    back = wire.decode(encode(value))
    np.testing.assert_array_equal(back["a"], value["a"])
    assert back["n"] == 3 and back["f"] == float("inf") and back["s"] == "hi"
    assert back["e"] == value["e"] and back["l"] == [1, None, True]


@pytest.mark.parametrize("node", [
    {"t": "array", "dtype": "<f8", "shape": [3], "b64": base64.b64encode(b"\0" * 16).decode()},
    {"t": "array", "dtype": "|O", "shape": [1], "b64": ""},
    {"t": "array", "dtype": "<f8", "shape": [10**9, 10**9], "b64": ""},
    {"t": "int", "v": "9" * 5000},
    {"t": "float", "v": "__import__('os')"},
    {"t": "pickle", "v": "gASV"},
    ["not", "a", "dict"],
])
def test_malformed_values_are_rejected(node):
    with pytest.raises(wire.Malformed):
        wire.decode(node)


@pytest.mark.parametrize("tree", [
    ["__import__", ["Symbol", "os"]],
    ["Symbol", "a b; import os"],
    ["Function", ["Symbol", "x"]],
    ["Integer", "1" * 1000],
    ["Pow", ["Symbol", "x"]],
])
def test_expression_trees_outside_the_whitelist_are_refused(tree):
    with pytest.raises(symbolic.NotAnExpression):
        symbolic.from_tree(tree)


def test_deep_trees_are_refused_without_recursion_errors():
    tree = ["Symbol", "x"]
    for _ in range(1000):
        tree = ["Add", tree, ["Integer", "1"]]
    with pytest.raises(symbolic.NotAnExpression):
        symbolic.from_tree(tree)


def test_text_formulas_parse_by_whitelist():
    x, lam = sp.symbols("x lambda")
    assert symbolic.parse("2*x^2 - lambda/3") == 2 * x**2 - lam / 3
    assert symbolic.parse("[[x, 1], [0, sqrt(4)]]") == sp.Matrix([[x, 1], [0, 2]])
    for hostile in ("__import__('os').system('true')", "x.__class__", "open('/etc/passwd')",
                    "(lambda: 1)()", "[i for i in range(3)]", "x if x else 1"):
        with pytest.raises(symbolic.NotAnExpression):
            symbolic.parse(hostile)


def _nested(depth: int) -> dict:
    node = {"t": "none"}
    for _ in range(depth):
        node = {"t": "list", "items": [node]}
    return node


@pytest.mark.parametrize("node", [
    _nested(wire.MAX_DEPTH + 1),
    {"t": "list", "items": [{"t": "none"}] * (wire.MAX_ITEMS + 1)},
    {"t": "str", "v": "x" * (wire.MAX_STR + 1)},
    {"t": "array", "dtype": "|b1", "shape": [wire.MAX_ARRAY_ITEMS + 1], "b64": ""},
])
def test_values_over_a_bound_are_too_large_to_check_before_any_work(node):
    with pytest.raises(wire.Malformed, match="too large to check"):
        wire.decode(node)


@pytest.mark.parametrize("text", ["2**10**10", "x**1000000", "(x**600)*(x**600)",
                                  "((9**100)**10)**10", "x**(y**z)", "exp(10**400)",
                                  "-" * 40_000 + "1", "1+" * 30_000 + "1"])
def test_formulas_that_would_take_hours_are_refused_at_once(text):
    with pytest.raises(symbolic.NotAnExpression, match="too large to check"):
        symbolic.parse(text)


def test_trees_with_huge_powers_are_refused_before_sympy_computes_them():
    with pytest.raises(symbolic.NotAnExpression, match="too large to check"):
        symbolic.from_tree(["Pow", ["Integer", "2"], ["Integer", "10000000000"]])
    x = sp.Symbol("x")
    assert symbolic.parse("(x + 1)**1000 / 2**1000") == (x + 1)**1000 / 2**1000


def test_lists_become_matrices_entry_by_entry_never_by_sympify(tmp_path):
    x, y = sp.symbols("x y")
    assert symbolic.matrix(["x + 1", 2, 0.5]) == sp.Matrix([x + 1, 2, 0.5])
    assert symbolic.matrix([[1, "y"], [x, 3]]) == sp.Matrix([[1, y], [x, 3]])
    evil = f"__import__('os').system('touch {tmp_path}/pwned')"
    for rows in ([evil], [[evil]], [None], [[1, 2], [3]], [1] * (symbolic.MAX_MATRIX + 1)):
        with pytest.raises(symbolic.NotAnExpression):
            symbolic.matrix(rows)
    assert not (tmp_path / "pwned").exists()
