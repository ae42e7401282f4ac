"""What makes the trusted side of a warm submission cheap must never change a mark or let one
answer borrow another's: a request's arrays sent beside its JSON (and decoded the same), proofs
named by the exact tree an answer was built from, plots written by numpy, results written
without copying their arrays."""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import asdict

import numpy as np
import pytest
import sympy as sp

from graders import judge, symbolic, wire
from graders.checks import symbolic as symbolic_check
from graders.execution import decoded
from graders.sandbox.worker import encode

x, y = sp.symbols("x y")
KEY = sp.Matrix([(x + y) ** 2 / (x - y), x / (1 + y ** 2)])


# --- the request frame: arrays beside the JSON ------------------------------------------------

def student_values() -> dict:
    """Probe values as a worker sends them, in the forms students' code gives."""
    rng = np.random.default_rng(5)
    recorded = [[rng.normal(size=5), 0.5, np.sign(rng.normal(size=5)) * 0.5]
                for _ in range(40)]  # a swapped quantiser's calls: sent as a rows table
    return {
        "history": rng.normal(size=(201, 5)),
        "float32": rng.normal(size=(51, 3)).astype(np.float32),
        "column": np.arange(7.0).reshape(7, 1),
        "ints": np.arange(12, dtype=np.int64).reshape(3, 4),
        "flags": np.array([True, False]),
        "complex": np.array([1 + 2j]),
        "empty": np.zeros((0, 3)),
        "scalar": np.float64(2.5),
        "list": [1.5, [np.ones(3), "text"], None],
        "dict": {"value": rng.normal(size=(100, 5)), "calls": recorded},
        "formula": KEY,
        "number": 3,
    }


def request_of(values: dict) -> dict:
    probes = {name: {"ok": True, "value": encode(value), "error": None}
              for name, value in values.items()}
    probes["failed"] = {"ok": False, "value": None, "error": "NameError: w is not defined"}
    probes["sheet"] = {"ok": True, "plain": True, "value": {"due": datetime.date(2019, 10, 1)}}
    return {"probes": probes, "audience": "instructor"}


def through_frame(request: dict) -> tuple[dict, wire.Blobs]:
    parts = judge.request_frame(request)
    return judge.read_request(b"".join(parts))


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            a.tobytes() == b.tobytes() and b.flags.writeable
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_a_framed_request_decodes_exactly_as_the_inline_one_and_is_left_unchanged():
    request = request_of(student_values())
    before = json.dumps(request, default=str)
    framed, blobs = through_frame(request)
    assert json.dumps(request, default=str) == before
    assert len(blobs.texts) >= 10  # the arrays did travel apart
    head = judge.request_frame(request)[1]
    assert b'"b64": "' not in head  # ... and not inside the JSON
    for name, payload in request["probes"].items():
        got = framed["probes"][name]
        if not payload["ok"] or payload.get("plain"):
            assert got == json.loads(json.dumps(payload, default=str))
            continue
        inline, apart = decoded(payload["value"]), decoded(got["value"], blobs)
        assert inline.ok and apart.ok and same(inline.value, apart.value), name


def test_framing_a_request_leaves_no_reference_cycle_to_hold_its_arrays():
    """Its array texts (~1 MB a duke-hw2 submission) are freed with the frame, not when the
    collector next comes by (a batch collects the young rarely: batch.frozen_heap)."""
    import gc
    request = request_of(student_values())
    gc.collect()
    gc.disable()
    try:
        parts = judge.request_frame(request)
        assert len(parts) > 10
        del parts
        assert gc.collect() == 0  # nothing unreachable was left for it to find
    finally:
        gc.enable()


def test_a_framed_request_is_scored_as_the_inline_one(hw2):
    """(A judge process reads frames: test_speed's forked and started judges grade a whole
    notebook through them.)"""
    from graders.grading import check_results, recorded_answers
    request = {"probes": {p.id: {"ok": False, "error": "not run"} for p in hw2.probes()},
               "audience": "instructor"}
    histories = [p for p in request["probes"] if p.endswith("logL")]
    for probe_id in histories:  # the loss histories of 2.2 to 3.5: one wrong curve each
        request["probes"][probe_id] = {"ok": True, "value": encode(np.linspace(3, -5, 201))}
    framed, blobs = through_frame(request)
    assert len(histories) >= 2 and blobs.texts
    here, there = check_results(hw2, request), check_results(hw2, framed, blobs)
    assert {k: [(c.points, c.message) for c in v] for k, v in here.items()} == \
        {k: [(c.points, c.message) for c in v] for k, v in there.items()}
    assert recorded_answers(hw2, request) == recorded_answers(hw2, framed, blobs)


def test_a_warmed_judge_scores_as_a_cold_one(hw2, monkeypatch):
    """What a judge does before its first request (judge._warm: the key's displays) is what
    its checks do anyway: the same results, every display included."""
    from graders.checks import base
    from graders.grading import check_results
    request = {"probes": {p.id: {"ok": False, "error": "not run"} for p in hw2.probes()},
               "audience": "instructor"}
    for probe_id in [p for p in request["probes"] if p.endswith("logL")]:
        request["probes"][probe_id] = {"ok": True, "value": encode(np.linspace(3, -5, 201))}
    request["probes"]["p2_1_W_star"] = {"ok": True, "value": encode(np.ones((3, 1)))}

    def shown(checks):
        return {k: [(c.points, c.message, c.student, c.expected, c.variant, c.detail)
                    for c in v] for k, v in checks.items()}
    monkeypatch.setattr(base, "_SHOWN", {})
    cold = shown(check_results(hw2, request))
    monkeypatch.setattr(base, "_SHOWN", {})
    judge._warm(hw2)
    assert len(base._SHOWN) >= 10  # the key's arrays were shown ahead
    assert shown(check_results(hw2, request)) == cold


def test_a_reference_a_worker_writes_itself_is_a_malformed_array():
    value = encode(np.arange(4.0))
    request = request_of({"a": np.arange(4.0)})
    framed, blobs = through_frame(request)
    stolen = framed["probes"]["a"]["value"]["b64"]
    assert set(stolen) == {"blob", "of"}
    for forged in ({"blob": 0}, {"blob": 0, "of": "guess"}, {"blob": -1, "of": blobs.nonce},
                   {"blob": True, "of": blobs.nonce}, dict(stolen)):
        node = {**value, "b64": forged}
        request = {"probes": {"a": {"ok": True, "value": node}}, "audience": "student"}
        again, fresh = through_frame(request)  # a new nonce: an old reference means nothing
        assert fresh.nonce != blobs.nonce
        result = decoded(again["probes"]["a"]["value"], fresh)
        assert not result.ok and "bad array data" in result.error
        assert not decoded(node).ok  # nor outside a judge


def test_what_the_split_does_not_reach_stays_inline_and_decodes_the_same(monkeypatch):
    deep = np.arange(3.0)
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    values = {"deep": deep, "many": [np.full(2 + i % 2, float(i)) for i in range(50)],
              "few": [np.ones(2), {"a": np.zeros(3)}],
              "odd": {"t": "array", "dtype": "<f8", "shape": [1], "b64": "AAAAAAAA8D\u00e9="}}
    monkeypatch.setattr(wire, "SPLIT_NODES", 20)
    request = {"probes": {n: {"ok": True, "value": v if n == "odd" else encode(v)}
                          for n, v in values.items()}, "audience": "student"}
    framed, blobs = through_frame(request)
    assert len(blobs.texts) == 2  # "few"'s: "many" has more items than the split may visit
    many = request["probes"]["many"]["value"]
    assert wire.split_arrays(many, [], "n") is many  # not walked, not copied
    for name, payload in request["probes"].items():
        inline, apart = decoded(payload["value"]), decoded(framed["probes"][name]["value"], blobs)
        assert inline.ok == apart.ok and (not inline.ok or same(inline.value, apart.value))
        assert inline.error == apart.error
    assert "bad array data" in decoded(framed["probes"]["odd"]["value"], blobs).error


def test_array_text_of_the_wrong_length_is_refused_before_it_is_decoded(monkeypatch):
    big = base64.b64encode(b"\0" * (8 << 20)).decode()  # 8 MB of text for one number
    calls = []
    monkeypatch.setattr(wire.binascii, "a2b_base64",
                        lambda *a, **k: calls.append(1) or b"")
    for text in (big, big[:-4], "AAAA"):
        with pytest.raises(wire.Malformed, match="does not match its shape"):
            wire.decode({"t": "array", "dtype": "<f8", "shape": [1], "b64": text})
    assert not calls


def test_a_frame_whose_parts_do_not_add_up_is_refused():
    parts = judge.request_frame(request_of({"a": np.arange(4.0)}))
    whole = b"".join(parts)
    for broken in (whole[:-1], whole + b"A"):
        with pytest.raises(ValueError, match="do not add up"):
            judge.read_request(broken)


# --- proofs named by the tree an answer was built from ----------------------------------------

@pytest.fixture
def proofs(tmp_path, monkeypatch):
    """An empty disk cache and an empty memory of proofs and of built trees."""
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path))
    monkeypatch.setattr(symbolic_check, "_REMEMBERED", {})
    monkeypatch.setattr(symbolic, "_BUILT", {})
    monkeypatch.setattr(symbolic, "_NAMES", {})
    return tmp_path / "proofs"


def forget(monkeypatch):
    """A new judge process: no proofs in memory, no trees built."""
    monkeypatch.setattr(symbolic_check, "_REMEMBERED", {})
    monkeypatch.setattr(symbolic, "_BUILT", {})
    monkeypatch.setattr(symbolic, "_NAMES", {})


def from_worker(value):
    return wire.decode(encode(value))


def no_fingerprint_of_answers(monkeypatch):
    """Fingerprinting is allowed for the key only (remembered once per process)."""
    real = symbolic_check.fingerprint
    allowed = {symbolic.identity(KEY.as_immutable())}

    def guarded(value):
        assert symbolic.identity(value) in allowed, "an answer was fingerprinted"
        return real(value)
    monkeypatch.setattr(symbolic_check, "fingerprint", guarded)
    monkeypatch.setattr(symbolic_check, "_FINGERPRINTS", {})


def test_a_tree_built_answer_is_named_by_its_tree_and_read_back_from_disk(proofs,
                                                                         monkeypatch):
    answer = sp.Matrix([(x ** 2 + 2 * x * y + y ** 2) / (x - y), x / (y ** 2 + 1)])
    key = KEY.as_immutable()
    no_fingerprint_of_answers(monkeypatch)
    first = symbolic_check.judged(from_worker(answer), key)
    assert first[0] and len(list(proofs.rglob("*.json"))) == 1
    forget(monkeypatch)
    monkeypatch.setattr(symbolic_check, "_compare", lambda *a: pytest.fail("not remembered"))
    assert symbolic_check.judged(from_worker(answer), key) == first


@pytest.mark.parametrize("near", [
    KEY + sp.Matrix([sp.Rational(1, 1000), 0]),  # shifted slightly
    KEY * sp.Rational(1001, 1000),  # scaled slightly
    sp.Matrix([(x + y) ** 2 / (x + y), x / (1 + y ** 2)]),  # one sign
    sp.Matrix([x / (1 + y ** 2), (x + y) ** 2 / (x - y)]),  # entries swapped
    sp.Matrix([(x + y) ** 2 / (x - y), x / (1 + y ** 2), 0]),  # a row too many
    sp.Matrix([1, 1]),  # constants
    sp.Matrix([x * y, x + y]),  # another problem's answer
])
def test_garbage_built_from_trees_earns_nothing_after_the_key_was_remembered(proofs,
                                                                            monkeypatch, near):
    key = KEY.as_immutable()
    assert symbolic_check.judged(from_worker(KEY), key)[0]
    assert not symbolic_check.judged(from_worker(near), key)[0]
    forget(monkeypatch)
    assert symbolic_check.judged(from_worker(KEY), key)[0]  # from disk
    assert not symbolic_check.judged(from_worker(near), key)[0]  # its own entry


def test_a_matrix_changed_after_it_was_built_is_no_longer_named_by_its_tree(proofs):
    answer = from_worker(KEY)
    name = symbolic.built_from(answer)
    assert name is not None and symbolic.built_from(answer.as_immutable()) == name
    assert symbolic.built_from(answer.T) is None  # same entries, another shape
    assert symbolic_check.judged(answer, KEY.as_immutable())[0]
    answer[0, 0] = sp.Integer(0)  # the student's matrix is ours to change
    assert symbolic.built_from(answer) is None
    assert not symbolic_check.judged(answer, KEY.as_immutable())[0]
    assert symbolic.built_from(from_worker(KEY)) == name  # the tree still names its own


def test_names_last_only_as_long_as_the_built_trees(proofs, monkeypatch):
    monkeypatch.setattr(symbolic, "_BUILT_AT_MOST", 2)
    first = from_worker(KEY)
    assert symbolic.built_from(first) is not None
    from_worker(x + 1), from_worker(x + 2)  # the memory is full: cleared
    assert symbolic.built_from(first) is None
    assert symbolic_check.judged(first, KEY.as_immutable())[0]  # by its fingerprint
    again = from_worker(KEY)
    symbolic._BUILT.clear()  # a name whose build is gone (its ids free again) names nothing
    assert symbolic._NAMES and symbolic.built_from(again) is None


def test_tree_names_and_fingerprints_agree_on_every_verdict(proofs, monkeypatch):
    key = KEY.as_immutable()
    for answer in (KEY, KEY.T, 2 * KEY, sp.Matrix([x, y])):
        built = from_worker(answer)
        assert symbolic.built_from(built) is not None
        by_tree = symbolic_check.judged(built, key)
        forget(monkeypatch)
        assert symbolic.built_from(answer) is None
        assert symbolic_check.judged(answer, key) == by_tree  # named by its fingerprint


# --- plots and results --------------------------------------------------------------------------

def test_points_are_written_as_one_decimal_numbers_would_be():
    from graders.plots import _points
    rng = np.random.default_rng(3)
    xs = np.concatenate([[0.0, 0.04, 9.96, 99.94, 100.0, 999.9], rng.uniform(0, 999.9, 2000)])
    ys = np.concatenate([[999.9, 5.0, 10.0, 0.96, 56.0, 0.0], rng.uniform(0, 999.9, 2000)])
    expected = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs.tolist(), ys.tolist()))
    written = _points(xs, ys)
    differ = [(a, b) for a, b in zip(written.split(), expected.split()) if a != b]
    assert len(written.split()) == len(xs) and not differ
    assert _points(np.array([]), np.array([])) == ""


def test_student_curves_are_drawn_per_pixels_and_only_the_keys_are_kept_per_array():
    """A student's curve is written anew unless one on the same pixels was (a class's right
    answers): then the same text, never another curve's."""
    from graders import plots
    steps = np.arange(60.0)
    key = np.stack([np.log1p(steps), np.sqrt(steps)], axis=1)
    plots.line_plot("t", "y", key + 0.01, key)
    kept = plots._key_series.cache_info().currsize
    drawn = {str(plots.line_plot("t", "y", key + 0.01 * i, key)) for i in range(1, 9)}
    assert len(drawn) == 8 and plots._key_series.cache_info().currsize == kept
    hits = plots._polylines.cache_info().hits
    again = str(plots.line_plot("t", "y", key * (1 + 1e-12) + 0.01, key))  # same pixels
    assert again == str(plots.line_plot("t", "y", key + 0.01, key))
    assert plots._polylines.cache_info().hits > hits


def test_a_result_as_json_is_what_asdict_gives_without_the_plots():
    from graders.checks.base import Plot
    from graders.execution import CellRecord
    from graders.policies import Deduction
    from tests.reports.results import result as sample
    curve = np.linspace(1.0, 0.0, 20).reshape(10, 2)
    result = sample("ada", cells=[CellRecord(0, False, "boom", source_head="x = 1")],
                    deductions=[Deduction("late", 0.1, "2 days late")],
                    limits_hit=["cell 1 exceeded 30 s"])
    result.problems[1].checks[0].plots = [Plot("log L", "log L_i", curve, curve + 1,
                                               (curve, curve + 2), ("w1", "w2"))]
    expected = asdict(result)
    for problem in expected["problems"]:
        for check in problem["checks"]:
            check.pop("plots")
    got = result.as_json()
    for name in ("total", "earned", "auto_points", "manual_pending"):
        assert got.pop(name) == getattr(result, name)
    assert got == expected
