"""What makes grading fast must never change a mark: proofs remembered on disk only for the
very same expressions, recorded calls checked as stacks exactly as one by one, key curves
drawn once, a job's end confirmed before the next job of its slot, a warm shell that holds
nothing of any job."""

from __future__ import annotations

import json
import os
import re
import signal

import numpy as np
import pytest
import sympy as sp

from graders.checks import statistical
from graders.checks import symbolic as symbolic_check
from graders.checks.base import Probe, ProbeResult, as_float_array
from graders.checks.symbolic import compare, fingerprint
from graders import plots
from graders.plots import line_plot
from graders.sandbox.pool import Job, WorkerPool

x, y = sp.symbols("x y")
KEY = sp.Matrix([(x + y) ** 2 / (x - y), x / (1 + y ** 2)])


@pytest.fixture
def proof_cache(tmp_path, monkeypatch):
    """An empty disk cache and an empty memory of proofs."""
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path))
    monkeypatch.setattr(symbolic_check, "_REMEMBERED", {})
    return tmp_path / "proofs"


def forget(monkeypatch):
    monkeypatch.setattr(symbolic_check, "_REMEMBERED", {})


def test_a_proof_is_read_back_from_disk_for_the_same_expressions_only(proof_cache,
                                                                      monkeypatch):
    answer = sp.Matrix([(x ** 2 + 2 * x * y + y ** 2) / (x - y), x / (y ** 2 + 1)])
    first = compare(answer, KEY)
    assert first[0] and len(list(proof_cache.rglob("*.json"))) == 1
    forget(monkeypatch)
    monkeypatch.setattr(symbolic_check, "_compare", lambda *a: pytest.fail("not remembered"))
    assert compare(answer, KEY) == first  # a new process would read the same entry
    stored = json.loads(next(proof_cache.rglob("*.json")).read_text())["value"]
    assert stored[:3] == list(first)


@pytest.mark.parametrize("near", [
    KEY + sp.Matrix([sp.Rational(1, 1000), 0]),  # shifted slightly
    KEY * sp.Rational(1001, 1000),  # scaled slightly
    sp.Matrix([(x + y) ** 2 / (x + y), x / (1 + y ** 2)]),  # one sign
    sp.Matrix([x / (1 + y ** 2), (x + y) ** 2 / (x - y)]),  # entries swapped
    sp.Matrix([1, 1]),  # constants
])
def test_garbage_earns_nothing_even_after_the_right_answer_was_remembered(proof_cache,
                                                                          monkeypatch, near):
    assert compare(KEY, KEY)[0]
    forget(monkeypatch)
    assert not compare(near, KEY)[0]
    forget(monkeypatch)
    assert not compare(near, KEY)[0]  # and its own entry, read back, says the same


@pytest.mark.parametrize("a, b", [
    (sp.Float(0.5), sp.Rational(1, 2)),
    (sp.Float(2.0), sp.Integer(2)),
    (sp.Symbol("x"), sp.Symbol("x", positive=True)),
    (2 * x, x ** 2),
    (x - y, y - x),
    (sp.Matrix([x, y]), sp.Matrix([[x, y]])),
    (sp.Float("0.1", 15), sp.Float("0.1", 30)),
    (sp.Integer(10) ** 20, sp.Integer(10) ** 20 + 1),
])
def test_fingerprints_tell_apart_what_sympy_may_hash_or_print_alike(a, b):
    assert fingerprint(a) != fingerprint(b)


def test_the_same_expression_built_twice_has_one_fingerprint():
    from graders import wire
    from graders.sandbox.worker import encode
    for value in (KEY, (x + y) ** 2 / (x - y) + sp.Rational(1, 3) * sp.Float(0.25)):
        assert fingerprint(value) == fingerprint(wire.decode(encode(value)))


def test_a_malformed_cache_entry_is_a_miss(proof_cache, monkeypatch):
    answer = (x + y) ** 2 / (x - y)
    compare(answer, KEY[0])
    entry = next(proof_cache.rglob("*.json"))
    for junk in ('{"value": ["yes", "x", "", "", ""]}', "not json", '{"value": [true]}'):
        entry.write_text(junk)
        forget(monkeypatch)
        assert compare(answer, KEY[0])[0] and compare(answer + 1, KEY[0])[0] is False


# --- recorded calls: one numpy operation per stack, same verdicts as call by call ----------

def outside_one_by_one(records) -> str:
    """The check's former loop (the reference for the stacked one)."""
    for record in records:
        if not isinstance(record, list) or len(record) < 3:
            continue
        g, s, out = (as_float_array(v) for v in record[:2] + record[-1:])
        if g is None or s is None or out is None:
            return "something other than numbers"
        try:
            inside = statistical.ternary(out, g, s)
        except ValueError:
            return "an array not shaped like its gradient"
        if not inside.all():
            return "values outside {0, s sign(g)}"
    return ""


def bias_one_by_one(records, delta) -> str:
    r, z = [], []
    for record in records:
        if not isinstance(record, list) or len(record) != 3:
            continue
        g, s, out = (as_float_array(v) for v in record)
        if g is None or s is None or out is None:
            continue
        try:
            g, s, out = np.broadcast_arrays(g, s, out)
        except ValueError:
            continue
        usable = (s > 0) & (np.abs(g) <= s) & (g != 0) & np.isfinite(out)
        ratio = np.abs(g[usable]) / s[usable]
        r.append(ratio)
        z.append(np.sign(g[usable]) * out[usable] / s[usable] - ratio)
    if not r:
        return ""
    r, z = np.concatenate(r), np.concatenate(z)
    for name, part in (("small", r < 0.5), ("large", r >= 0.5)):
        n = int(part.sum())
        if n and abs(z[part].mean()) > np.sqrt(np.log(8 / delta) / (2 * n)):
            return name
    return ""


def quantised(rng, keep=lambda r: r):
    """One recorded call [g, s, out] of a TernGrad-like quantiser (g of 3 or 5 elements, s
    scalar, as lists or arrays the way a worker's records decode)."""
    g = rng.normal(size=rng.choice([3, 5]))
    s = float(np.max(np.abs(g)))
    out = s * np.sign(g) * (rng.random(g.shape) < keep(np.abs(g) / s))
    return [g, s, out]


def run_check(records):
    return statistical.outside_support(records)


def test_stacked_support_and_bias_agree_with_the_call_by_call_reading():
    rng = np.random.default_rng(3)
    honest = [quantised(rng) for _ in range(400)]
    biased = [quantised(rng, keep=lambda r: np.full_like(r, 0.5)) for _ in range(400)]
    off = [list(c) for c in honest]
    off[17][2] = off[17][2] * 1.01  # outside the support
    wrong_shape = [list(c) for c in honest]
    wrong_shape[9] = [wrong_shape[9][0], wrong_shape[9][1], np.zeros(4)]
    wrong_shape[30][2] = wrong_shape[30][2] * 2
    not_numbers = [list(c) for c in honest]
    not_numbers[40] = [not_numbers[40][0], "s", not_numbers[40][2]]
    lists = [[g.tolist(), s, o.tolist()] for g, s, o in honest]
    for records in (honest, biased, off, wrong_shape, not_numbers, lists, [], [[1.0]],
                    [[np.zeros((2, 3)), np.ones((2, 1)), np.zeros((2, 3))]]):
        assert run_check(records) == outside_one_by_one(records)
        value = {"records": records}
        assert statistical.training_bias(ProbeResult(True, value), 1e-6) == \
            bias_one_by_one(records, 1e-6)
    assert run_check(off).startswith("values outside")
    assert run_check(wrong_shape).startswith("an array not shaped")  # the first problem
    assert statistical.training_bias(ProbeResult(True, {"records": biased}), 1e-6)


def test_tables_of_one_shape_stack_by_column_as_call_by_call():
    rng = np.random.default_rng(5)
    g = [rng.normal(size=3) for _ in range(300)]
    honest = [[x, float(np.max(np.abs(x))), None] for x in g]
    for record in honest:
        record[2] = record[1] * np.sign(record[0]) * (rng.random(3) < np.abs(record[0]) /
                                                     record[1])
    biased = [[x, s, s * np.sign(x) * (rng.random(3) < 0.5)] for x, s, _ in honest]
    off = [list(c) for c in honest]
    off[17][2] = off[17][2] * 1.01
    bool_s = [list(c) for c in honest]
    bool_s[5][1] = True  # not numbers
    array_s = [[x, np.array([s]), out] for x, s, out in honest]  # s as a (1,) array
    four = [[x, s, "extra", out] for x, s, out in honest]  # f(g, s, something)
    int_s = [[x * 5, 5, 5 * np.sign(x) * (rng.random(3) < np.abs(x))] for x, _, _ in honest]
    assert statistical._one_group(honest) is not None
    assert statistical._one_group(bool_s) is None and statistical._one_group(four) is not None
    assert statistical._one_group(int_s) is not None
    for records in (honest, biased, off, bool_s, array_s, four, int_s):
        memo = {}
        assert run_check(records) == outside_one_by_one(records)
        result = ProbeResult(True, {"records": records})
        assert statistical.training_bias(result, 1e-6) == bias_one_by_one(records, 1e-6)
        stacks, _ = statistical.recorded_calls(records, memo)
        assert statistical.recorded_calls(records, memo)[0] is stacks  # built once
    assert run_check(off).startswith("values outside") and not run_check(honest)
    assert statistical.training_bias(ProbeResult(True, {"records": biased}), 1e-6)


def test_each_stacked_call_keeps_its_own_tolerance():
    g = np.array([[1.0, -1.0], [1e-6, -1e-6]])
    s = np.array([[1.0], [1e-6]])
    out = np.array([[1.0, 0.0], [1e-6, -1e-6 + 5e-10]])  # 5e-10: within 1e-9 of 1, not of s
    assert statistical.ternary(out, g, s, calls=True).all()
    assert statistical.ternary(out[1], g[1], s[1]).all() == \
        statistical.ternary(out, g, s, calls=True)[1].all()


# --- plots: the key's curve drawn once, the student's always -------------------------------

def test_a_key_curve_is_reused_only_for_the_same_values_and_axes():
    steps = np.arange(50.0)
    key = np.stack([np.log1p(steps), np.sqrt(steps)], axis=1)
    student = key + 0.01
    first = line_plot("t", "y", student, key)
    again = line_plot("t", "y", student, key)
    other = line_plot("t", "y", student + 0.001, key)
    dashed = lambda svg: re.findall(r'<polyline[^>]*stroke-dasharray="5,3"/>', svg)  # noqa
    solid = lambda svg: re.findall(r'<polyline[^>]*[^3]"/>', svg)  # noqa: E731
    assert first == again and len(dashed(first)) == 2 and len(solid(first)) == 2
    assert dashed(other) == dashed(first) and solid(other) != solid(first)  # same axes
    assert dashed(line_plot("t", "y", student, key + 0.5)) != dashed(first)


def test_nan_breaks_a_line_and_values_are_clipped_to_the_axes():
    values = np.array([1.0, 2.0, np.nan, 3.0, 4.0])
    svg = str(line_plot("t", "y", values.reshape(-1, 1), None))
    assert svg.count("<polyline") == 2
    assert "nan" not in svg.lower().replace("noplot", "")


def test_a_point_on_the_line_between_its_neighbours_is_left_out_and_the_line_is_the_same():
    steps = np.arange(201.0)
    curves = np.stack([np.exp(-steps / 8), np.minimum(steps, 60) / 10 - 1,
                       np.where(steps % 50 == 7, 9.0, 0.5)], axis=1)  # tail, ramp, spikes
    curves[100:103, 0] = np.nan  # a break: both stretches end where they end
    svg = str(line_plot("t", "y", curves, None))
    lines = [np.array([[float(v) for v in point.split(",")] for point in drawn.split()])
             for drawn in re.findall(r'points="([^"]*)"', svg)]
    assert len(lines) == 4  # the first curve in two stretches, then the other two
    lo, hi = plots._axis(float(np.nanmin(curves)), float(np.nanmax(curves)))
    x, y = plots._coordinates(np.where(np.isfinite(curves), curves, lo), lo, hi, 201)
    every = plots._tenths(x[:, None], y) / 10  # the points before any is left out
    wholes = [every[:100, 0], every[103:, 0], every[:, 1], every[:, 2]]
    for drawn, whole in zip(lines, wholes):
        assert len(drawn) < len(whole)  # the flat and straight stretches lost points
        assert np.array_equal(drawn[[0, -1]], whole[[0, -1]])  # ends kept
        assert np.allclose(np.interp(whole[:, 0], *drawn.T), whole[:, 1], rtol=0, atol=1e-9)
    assert len(lines[3]) >= 4 * 3  # each spike keeps its rise, top and fall
    assert len(lines[0]) + len(lines[1]) < 0.6 * 198  # the decayed tail is two points


def test_a_point_that_doubles_back_on_its_line_is_kept():
    tenths = np.array([[[0, 0]], [[0, 50]], [[0, 20]], [[1, 21]], [[2, 22]], [[3, 23]]])
    finite = np.ones((6, 1), bool)
    needed = [True, True, True, False, False, True]  # up 50, back down 30: all three kept
    assert plots._needed(tenths, finite)[:, 0].tolist() == needed
    finite[5, 0] = False  # the last value is not finite: the point before it ends a line
    assert plots._needed(tenths, finite)[:, 0].tolist() == needed[:4] + [True, True]


# --- the sandbox: a job's end confirmed before the next, a warm shell empty of jobs --------

def test_the_next_job_waits_for_the_last_ones_end_and_survives_a_lost_worker(course, hw2,
                                                                           environment):
    from graders.sandbox.isolation import detect
    with WorkerPool(1, ["numpy"], detect(), environment=environment(course)) as pool:
        worker = pool._workers[0]
        first = pool.run(Job(["import os\nleft = 1"], [], course.limits))
        assert first[-2]["ev"] == "done" and worker._ending is not None
        lost = worker.proc.pid
        os.killpg(lost, signal.SIGKILL)  # the zygote dies before confirming the end
        probe = {"id": "x", "kind": "value", "name": "x", "args": [], "repeat": 1, "seed": 0}
        second = pool.run(Job(["x = 'left' in dir()"], [probe], course.limits))
        ends = [e for e in second if e["ev"] == "probe_end"]
        assert ends and ends[0]["ok"] and ends[0]["value"] == {"t": "bool", "v": False}
        assert worker.proc.pid != lost  # replaced, and the job ran on the fresh zygote


def test_a_warm_shell_holds_nothing_of_the_job_before(pool, course):
    from graders.execution import execute
    plant = ["secret = 42\nget_ipython().user_ns['planted'] = 1\n"
             "import builtins\nbuiltins.planted_builtin = 1"]
    execute(pool, plant, [], course.limits)
    execute(pool, plant, [], course.limits)  # both slots
    look = [Probe("seen", "value", "seen")]
    seen = execute(pool, ["seen = [n for n in ('secret', 'planted', 'planted_builtin') "
                          "if n in dir() or hasattr(__builtins__, n)]"], look, course.limits)
    assert seen.probes["seen"].value == []


def test_the_judges_of_an_assignment_are_those_of_its_settings(hw2):
    from graders.judge import judges_for, judges_of
    assert judges_for(hw2) is judges_of(hw2.config)


def test_a_tree_built_again_is_the_same_expression_and_a_matrix_a_fresh_copy():
    from graders import symbolic, wire
    from graders.sandbox.worker import encode
    tree = encode(KEY)
    first = wire.decode(tree)
    first[0, 0] = sp.Integer(0)  # the student's matrix is ours to change
    again = wire.decode(tree)
    assert again == KEY and again is not first
    expr = encode((x + y) ** 3)["tree"]
    assert symbolic.from_tree(expr) is symbolic.from_tree(expr)  # immutable: shared
    huge = ["Pow", ["Symbol", "x"], ["Integer", "100000"]]
    for _ in range(2):  # what could not be built is refused every time
        with pytest.raises(symbolic.NotAnExpression):
            symbolic.from_tree(huge)


def test_a_forked_judge_answers_as_a_started_one_and_is_replaced_when_late(hw2, pool,
                                                                          course):
    import threading

    from graders.execution import execute
    from graders.judge import Judges, JudgeTimeout, _Forked
    from graders.submission import load
    from tests.fixtures.duke_hw2.examples import EXAMPLES
    ran = execute(pool, load(EXAMPLES / "wrong-sign.ipynb").cells, hw2.probes(),
                  course.limits, decode=False)
    request = {"probes": {pid: {"ok": r.ok, "value": r.value, "error": r.error}
                          for pid, r in ran.probes.items()}, "audience": "instructor"}
    started, forked = Judges(hw2.config), Judges(hw2.config)
    started.warm()
    forked.warm(1, hw2)
    if threading.active_count() == 1:
        assert isinstance(forked._all[0].proc, _Forked)
    as_text = lambda answer: json.dumps(answer, default=np.ndarray.tolist)  # noqa: E731
    expected = as_text(started.ask(request, 60))
    assert '"ref"' not in expected  # key arrays arrive as numbers, not references
    assert as_text(forked.ask(request, 60)) == expected
    assert as_text(forked.ask(request, 60)) == expected  # the second time by reference
    assert forked._all[0].arrays and all(not a.flags.writeable
                                         for a in forked._all[0].arrays.values())
    with pytest.raises(JudgeTimeout):
        forked.ask(request, 1e-4)
    assert as_text(forked.ask(request, 60)) == expected  # a fresh judge took over
    for judges in (started, forked):
        judges.close()
