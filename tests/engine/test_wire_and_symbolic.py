"""Untrusted data -> values: arrays from bytes, expressions by whitelist, never by eval."""

from __future__ import annotations

import base64
import warnings

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


# --- long tables (a swapped quantiser's recorded calls) cross as columns -------------------

def _same(a, b) -> bool:
    """Equal values of equal types all the way down (arrays: dtype, shape and bytes)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == b.tobytes())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and (a == b or a != a and b != b)


def _tables():
    rng = np.random.default_rng(0)
    g = [rng.normal(size=3) for _ in range(40)]
    yield "calls f(g, s)", [[x, float(np.max(np.abs(x))), np.sign(x)] for x in g]
    yield "int s, float32 out", [[x, 5, np.sign(x).astype(np.float32)] for x in g]
    yield "tuples, numpy float s", [(x, np.float64(2.5), x * 0) for x in g]
    yield "nan and -0.0", [[x, float("nan"), np.array([-0.0, np.inf, 1.0])] for x in g]
    yield "(2, 3) ints", [[np.arange(6).reshape(2, 3), 1.0, np.ones((2, 3), bool)]] * 20
    yield "0-d arrays and numpy scalars", [[np.array(i / 3), np.float32(i), x] for i, x in
                                           enumerate(g)]


@pytest.mark.parametrize("name,table", list(_tables()))
def test_tables_cross_as_columns_and_decode_as_item_by_item(name, table, monkeypatch):
    from graders.sandbox import worker
    columns = encode(table)
    assert columns["t"] == "rows", name
    monkeypatch.setattr(worker, "ROWS_MIN", 10**9)
    items = encode(table)
    assert items["t"] == "list"
    assert _same(wire.decode(columns), wire.decode(items)), name


@pytest.mark.parametrize("table", [
    [[np.zeros(3), 1.0, np.zeros(3)]] * 15,  # too short to bother
    [[np.zeros(3), 1.0, np.zeros(3 + i % 2)] for i in range(20)],  # shapes differ
    [[np.zeros(3), True, np.zeros(3)]] * 20,  # bools go item by item
    [[np.zeros(3), 1.0]] * 10 + [[np.zeros(3), 1.0, 2.0]] * 10,  # rows of two lengths
    [[np.zeros(3), 2**70, np.zeros(3)]] * 20,  # beyond 64 bits
    [[np.zeros(3), "s", np.zeros(3)]] * 20,
    [[np.zeros(3, np.float32), 1.0]] * 10 + [[np.zeros(3), 1.0]] * 10,  # dtypes differ
])
def test_lists_that_are_not_such_tables_go_item_by_item(table):
    assert encode(table)["t"] == "list"


def _rows(n=20, shape=(20, 3), item="array", dtype="<f8", data=None, **extra):
    count = int(np.prod(shape))
    data = base64.b64encode(b"\0" * (8 * count) if data is None else data).decode()
    return {"t": "rows", "n": n, "columns": [
        {"t": "array", "dtype": dtype, "shape": list(shape), "b64": data, "item": item}],
        **extra}


# --- long lists of one kind (a student's history of losses or weights) cross as one column --

def _histories():
    """Histories as students keep them: arrays, numpy scalars, floats, ints."""
    rng = np.random.default_rng(1)
    W = [rng.normal(size=(5, 1)) for _ in range(200)]
    yield "(5, 1) columns, W.copy()", W
    with warnings.catch_warnings():  # numpy discourages np.matrix; numpy-1 code uses it
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        matrices = [np.matrix(w) for w in W]
    yield "np.matrix columns (numpy-1 code)", matrices
    yield "float32 scalars, losses.append(np.log(L))", [np.log(np.float32(i + 1))
                                                         for i in range(200)]
    yield "floats, losses.append(float(L))", [float(np.sum(w ** 2)) for w in W]
    yield "numpy float64 and float", [np.float64(i / 3) if i % 2 else i / 3 for i in range(20)]
    yield "ints", [i * 7 for i in range(-10, 10)]
    yield "float32 rows", [w.ravel().astype(np.float32) for w in W]
    yield "bool masks", [w.ravel() > 0 for w in W]
    yield "int64 counts", [np.arange(3) * i for i in range(20)]
    yield "a tuple, nan and -0.0", tuple(np.array([-0.0, np.nan, np.inf]) for _ in range(16))
    yield "1-d of one entry each", [np.array([i / 7]) for i in range(16)]


def _torch_history():
    torch = pytest.importorskip("torch")
    return [torch.full((3,), float(i), requires_grad=True) * 2 for i in range(20)]


@pytest.mark.parametrize("name,history", list(_histories()) + [("torch tensors", None)])
def test_histories_cross_as_one_block_and_decode_as_item_by_item(name, history, monkeypatch):
    from graders.sandbox import worker
    history = _torch_history() if history is None else history
    block = encode(history)
    assert block["t"] == "stack" and block["n"] == len(history), name
    assert len(str(block)) < len(str(encode(history[:1]))) * len(history) / 2  # shorter
    nested = encode({"runs": {0.1: history}})  # inside containers, as probes return them
    monkeypatch.setattr(worker, "ROWS_MIN", 10**9)
    items = encode(history)
    assert items["t"] == "list"
    assert _same(wire.decode(block), wire.decode(items)), name
    assert _same(wire.decode(nested)["runs"][0.1], wire.decode(items)), name
    texts: list = []  # to a judge: the block's text travels beside the JSON
    split = wire.split_arrays(block, texts, "n0nce")
    assert len(texts) == 1 and isinstance(split["column"]["b64"], dict)
    assert _same(wire.decode(split, wire.Blobs(texts, "n0nce")), wire.decode(items)), name


@pytest.mark.parametrize("history", [
    [np.zeros((5, 1))] * 15,  # too short to bother
    [np.zeros(3)] * 10 + [np.zeros(4)] * 10,  # shapes differ
    [np.zeros(3, np.float32)] * 10 + [np.zeros(3)] * 10,  # dtypes differ
    [np.zeros(3, np.int64)] * 10 + [np.zeros(3, np.uint64)] * 10,  # would stack as float64
    [np.zeros(3)] * 19 + [[0.0, 0.0, 0.0]],  # a list among the arrays
    [np.array(["a", "b"])] * 20,  # not a wire dtype
    [1.0] * 10 + [1] * 10,  # floats and ints
    [True] * 20,  # bools
    [2**70] * 20,  # beyond 64 bits
])
def test_lists_that_are_not_such_histories_go_item_by_item(history):
    assert encode(history)["t"] == "list"


def test_a_history_past_the_budget_goes_item_by_item_and_says_so(monkeypatch):
    from graders.sandbox import worker
    monkeypatch.setitem(worker.ENCODING_LIMITS, "items", 500)
    node = encode([np.zeros((5, 1))] * 200)  # 200 items and 1000 entries: past 500
    assert node["t"] == "list" and worker.TOO_LARGE in node["items"]


def _stack(n=20, shape=(20, 3), item="array", dtype="<f8", data=None, **extra):
    count = int(np.prod(shape))
    data = base64.b64encode(b"\0" * (8 * count) if data is None else data).decode()
    return {"t": "stack", "n": n, "column": {"t": "array", "dtype": dtype, "shape": list(shape),
                                            "b64": data, "item": item}, **extra}


@pytest.mark.parametrize("node", [
    _rows(n=19),  # the count disagrees with the block
    _rows(data=b"\0" * 8),  # too few bytes
    _rows(item="pickle"),
    _rows(shape=(20,), item="float", dtype="<i8"),
    _rows(shape=(20, 2), item="int", dtype="<i8"),
    _rows(dtype="|O"),
    _rows(n=-1),
    _rows(n=True),
    {"t": "rows", "n": 20, "columns": []},
    {"t": "rows", "n": 20, "columns": ["x"]},
    _stack(n=19),  # the count disagrees with the block
    _stack(shape=()),  # a block of no rows
    _stack(data=b"\0" * 8),  # too few bytes
    _stack(dtype="|O"),
    _stack(item="pickle"),
    _stack(shape=(20, 2), item="float"),  # a float column of rows
    _stack(shape=(20,), item="float", dtype="<i8"),
    {"t": "stack", "n": 2, "column": {"t": "list", "items": [], "item": "array"}},
    _stack(n=-1),
    _stack(n=True),
    {"t": "stack", "n": 2, "column": [1, 2]},
    {"t": "stack", "n": 2},
])
def test_malformed_tables_and_histories_are_rejected(node):
    with pytest.raises(wire.Malformed):
        wire.decode(node)


@pytest.mark.parametrize("build, levels", [(_rows, 2), (_stack, 1)])  # items lie that deeper
def test_tables_and_histories_over_a_bound_are_too_large_to_check_before_any_work(build,
                                                                                 levels):
    with pytest.raises(wire.Malformed, match="too large to check"):  # items, before decoding
        wire.decode(build(n=wire.MAX_ITEMS, shape=(wire.MAX_ITEMS, 3), data=b""))
    with pytest.raises(wire.Malformed, match="too large to check"):  # array entries
        wire.decode(build(n=1000, shape=(1000, wire.MAX_ARRAY_ITEMS), data=b""))
    deep = build()
    for _ in range(wire.MAX_DEPTH - levels):  # its items lie at MAX_DEPTH: decoded
        deep = {"t": "list", "items": [deep]}
    assert wire.decode(deep)
    with pytest.raises(wire.Malformed, match="too large to check"):  # one level deeper
        wire.decode({"t": "list", "items": [deep]})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_draws_of_few_values_cross_paletted_and_decode_bit_for_bit():
    """A ternary quantiser's 10,000 draws (values 0, -0.0 and s sign(g_j), a NaN too) go as
    their values and a byte per entry; arrays of many values, or small ones, go whole."""
    rng = np.random.default_rng(0)
    g = np.array([0.3, -2.0, 0.0, 1.1])
    draws = 2.0 * np.sign(g) * (rng.random((10000, 4)) < np.abs(g) / 2.0)  # -0.0 where g < 0
    draws[5, 2] = np.nan
    node = encode(draws)
    assert "palette" in node and len(node["b64"]) < draws.size * 2
    back = wire.decode(node)
    assert back.dtype == np.float64 and back.shape == draws.shape
    assert np.array_equal(back.view(np.uint64), draws.view(np.uint64))  # -0.0, NaN as sent
    for whole in (rng.normal(size=(2000, 3)), draws[:100], np.zeros(5000, dtype=np.int64)):
        assert "palette" not in encode(whole)
        assert np.array_equal(wire.decode(encode(whole)), whole, equal_nan=True)
    late = draws.copy()
    late[-1, 0] = 7.0  # a value first seen after the entries the palette is drawn from
    assert "palette" not in encode(late) and np.array_equal(wire.decode(encode(late)), late,
                                                            equal_nan=True)
    texts: list = []  # to a judge: the indices travel beside the JSON, the palette inline
    split = wire.split_arrays(node, texts, "n0nce")
    assert np.array_equal(wire.decode(split, wire.Blobs(texts, "n0nce")).view(np.uint64),
                          draws.view(np.uint64))


@pytest.mark.parametrize("palette, index, dtype, shape", [
    (np.array([0.0, 1.0]).tobytes(), bytes([0, 1, 2]), "<f8", [3]),      # an index past it
    (np.zeros(17).tobytes(), bytes([0, 1, 2]), "<f8", [3]),               # too many values
    (b"\0" * 12, bytes([0, 0, 0]), "<f8", [3]),                           # not float64s
    (b"", bytes([0, 0, 0]), "<f8", [3]),                                  # no values
    (np.array([0.0, 1.0]).tobytes(), bytes([0, 1]), "<f8", [3]),          # too few indices
    (np.array([0.0, 1.0]).tobytes(), bytes([0, 1, 1]), "<i8", [3]),       # not a float array
])
def test_malformed_palettes_are_rejected(palette, index, dtype, shape):
    node = {"t": "array", "dtype": dtype, "shape": shape, "palette": b64(palette),
            "b64": b64(index)}
    with pytest.raises(wire.Malformed):
        wire.decode(node)
    with pytest.raises(wire.Malformed):
        wire.decode({**node, "palette": 12345})
