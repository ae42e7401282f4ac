"""A formula a worker sent is decoded when a check first reads it (graders.execution.decoded):
a proof recalled by the formula's tree decides without building any sympy object (a fresh
judge, as every `grader check` starts one, built 2.1's W* in ~60 ms before it looked the proof
up); everything else (a proof not found, a tree that does not build, another check reading the
value) goes exactly as an eager decode, and nothing on disk can give marks a proof did not."""

from __future__ import annotations

import pytest
import sympy as sp

from graders import judge, symbolic, wire
from graders.checks import symbolic as symbolic_check
from graders.checks.base import Deferred, Probe
from graders.checks.symbolic import SymbolicCheck
from graders.execution import _decoded, decoded
from graders.grading import _check_result
from graders.sandbox.worker import encode, encode_answer

x, y = sp.symbols("x y")
KEY = sp.Matrix([(x + y) ** 2 / (x - y), x / (1 + y ** 2)])
#: Two variants, as 2.1's update check has: the second is tried where the first fails.
CHECK = SymbolicCheck("f", "a formula", Probe("p", "value", "W"),
                      {"sum": KEY.as_immutable(), "mean": (KEY / 2).as_immutable()},
                      ["sum", "mean"])
RIGHT = [sp.Matrix([(x ** 2 + 2 * x * y + y ** 2) / (x - y), x / (y ** 2 + 1)]),  # expanded
         sp.Matrix([[(x + y) ** 2 / (x - y), x / (1 + y ** 2)]]),  # a row
         KEY / 2]  # the other convention
WRONG = [KEY + sp.Matrix([sp.Rational(1, 1000), 0]),  # shifted slightly
         KEY * sp.Rational(1001, 1000),  # scaled slightly
         sp.Matrix([(x + y) ** 2 / (x + y), x / (1 + y ** 2)]),  # one sign
         sp.Matrix([x / (1 + y ** 2), (x + y) ** 2 / (x - y)]),  # entries swapped
         sp.Matrix([1, 1]),  # constants
         sp.Matrix([x * y, x + y]),  # another problem's answer
         sp.Matrix([(x + y) ** 2 / (x - y), x / (1 + y ** 2) + sp.Symbol("z")])]  # a symbol more
#: Trees that do not build: the probe fails with the reason, deferred or not.
BROKEN = [{"t": "expr", "tree": ["Lambda", ["Symbol", "x"], ["Symbol", "x"]]},
          {"t": "expr", "tree": ["Pow", ["Symbol", "x"], ["Integer", "100000"]]},
          {"t": "expr"},
          {"t": "matrix", "rows": 2, "cols": 1, "items": [["Symbol", "x"]]},
          {"t": "matrix", "rows": 1, "cols": 1, "items": [["Symbol", "bad name"]]}]


def new_process(monkeypatch):
    """A new judge: nothing built or proved in memory (the disk cache stays)."""
    monkeypatch.setattr(symbolic_check, "_REMEMBERED", {})
    monkeypatch.setattr(symbolic, "_BUILT", {})
    monkeypatch.setattr(symbolic, "_NAMES", {})
    monkeypatch.setattr(symbolic, "_ASKED", set())


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty grader cache and a new judge."""
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path))
    new_process(monkeypatch)
    return tmp_path


def scored(node, deferred: bool = True):
    """The check's result on the worker's value `node`, decoded when read (as a judge does)
    or at once (as before)."""
    result = decoded(node) if deferred else _decoded(node, None)
    return _check_result(CHECK, {"p": result}, 12.0, True, None), result


def nothing_is_built(monkeypatch):
    fail = lambda *a: pytest.fail("a sympy object was built")  # noqa: E731
    monkeypatch.setattr(symbolic, "_build", fail)
    monkeypatch.setattr(symbolic, "_matrix_from_trees", fail)
    monkeypatch.setattr(symbolic_check, "_compare", fail)


@pytest.mark.parametrize("answer", RIGHT + WRONG)
def test_a_recalled_proof_decides_without_building_the_formula(cache, monkeypatch, answer):
    first, _ = scored(encode(answer))
    new_process(monkeypatch)
    nothing_is_built(monkeypatch)
    again, result = scored(encode(answer))
    assert isinstance(result, Deferred) and result.decoded is None
    assert again == first


def test_garbage_earns_nothing_from_the_proofs_of_right_answers(cache, monkeypatch):
    for answer in RIGHT:
        assert scored(encode(answer))[0].points == 12.0
    new_process(monkeypatch)
    for answer in WRONG:  # each its own tree, so its own proof (worked out now)
        got, result = scored(encode(answer))
        assert got.points == 0.0 and result.decoded is not None
    new_process(monkeypatch)
    nothing_is_built(monkeypatch)
    assert [scored(encode(a))[0].points for a in RIGHT + WRONG] == \
        [12.0] * len(RIGHT) + [0.0] * len(WRONG)


@pytest.mark.parametrize("node", [encode(a) for a in RIGHT + WRONG] + BROKEN +
                         [encode(x + 1), encode(sp.Matrix([[x]])), encode(sp.Integer(3))])
def test_without_a_proof_a_check_scores_as_with_an_eager_decode(cache, monkeypatch, node):
    decoded(node).value  # built before (where it builds), by no symbolic check: no proof
    new_process(monkeypatch)
    deferred, result = scored(node)
    assert isinstance(result, Deferred) and result.known == (node not in BROKEN)
    new_process(monkeypatch)
    monkeypatch.setenv("GRADER_CACHE", str(cache / "other"))  # no proof, no build record
    eager, plain = scored(node, deferred=False)
    assert deferred == eager
    assert (result.ok, result.error, result.missing) == (plain.ok, plain.error, plain.missing)


@pytest.mark.parametrize("node", BROKEN)
def test_a_tree_that_does_not_build_fails_its_probe_and_is_never_recorded_as_built(cache,
                                                                                  monkeypatch,
                                                                                  node):
    got, result = scored(node)
    assert got.points == 0.0 and got.message.startswith("the value could not be read")
    assert not result.ok and result.value is None
    new_process(monkeypatch)
    assert not symbolic.built_before(result.name)


def test_a_tree_is_known_to_build_in_a_later_process_once_it_built(cache, monkeypatch):
    node = encode(RIGHT[0])
    first = decoded(node)
    assert not first.known and first.ok  # built now, and recorded
    new_process(monkeypatch)
    later = decoded(node)
    assert later.known and later.ok and not later.missing and later.decoded is None
    assert later.value == RIGHT[0] and later.decoded is not None  # built when read


def test_forged_records_on_disk_give_no_marks(cache, monkeypatch):
    """A record that a broken tree builds makes its probe look answered, and still earns
    nothing; a proof stored for one tree is never found under another's."""
    broken = BROKEN[0]
    name = decoded(broken).name
    symbolic.BUILDS.put(symbolic._builds_entry(name), True)
    new_process(monkeypatch)
    got, result = scored(broken)
    assert result.known and got.points == 0.0
    right, wrong = encode(RIGHT[0]), encode(WRONG[0])
    assert scored(right)[0].points == 12.0
    new_process(monkeypatch)
    got, result = scored(wrong)
    assert got.points == 0.0 and result.decoded is not None  # worked out, not recalled


def through_frame(node):
    """`node` as a judge reads it: (the value in the request, the request's texts)."""
    request = {"probes": {"p": {"ok": True, "value": node}}, "audience": "student"}
    framed, blobs = judge.read_request(b"".join(judge.request_frame(request)))
    return framed["probes"]["p"]["value"], blobs


@pytest.mark.parametrize("answer", [RIGHT[0], WRONG[0], x + 1, sp.Integer(3)])
def test_a_formula_sent_apart_is_named_and_scored_as_the_inline_one(cache, monkeypatch,
                                                                   answer):
    node = encode(answer)
    apart, blobs = through_frame(node)
    assert apart["t"] == "formula" and set(apart) == {"t", "text"}  # its tree is not in the JSON
    assert wire.formula_name(apart, blobs) == wire.formula_name(node) is not None
    assert decoded(apart, blobs).value == answer
    new_process(monkeypatch)
    inline, _ = scored(node)
    new_process(monkeypatch)
    nothing_is_built(monkeypatch)  # recalled by the name its text gives
    result = decoded(apart, blobs)
    assert _check_result(CHECK, {"p": result}, 12.0, True, None) == inline


def test_a_formula_reference_a_worker_writes_itself_is_an_unknown_tag(cache):
    _, blobs = through_frame(encode(RIGHT[0]))
    stolen = {"blob": 0, "of": blobs.nonce}
    for forged in ({"t": "formula"}, {"t": "formula", "text": {"blob": 0, "of": "guess"}},
                   {"t": "formula", "text": "[\"expr\", [\"Symbol\", \"x\"]]"},
                   {"t": "formula", "text": stolen}):
        again, fresh = through_frame(forged)  # a new nonce: an old reference means nothing
        for result in (decoded(again, fresh), decoded(forged)):
            assert not isinstance(result, Deferred)
            assert not result.ok and "unknown tag 'formula'" in result.error


@pytest.mark.parametrize("answer", [RIGHT[0], WRONG[0], x + 1, sp.Integer(3), KEY / 2])
def test_an_answer_that_is_one_formula_comes_as_its_tree_text_and_scores_as_its_tree(
        cache, monkeypatch, answer):
    node, tree = encode_answer(answer), encode(answer)
    assert node["t"] == "formula" and set(node) == {"t", "tree"}
    assert node["tree"].encode() == symbolic.tree_text(wire._formula_tree(tree))
    assert wire.formula_name(node) == wire.formula_name(tree) is not None
    apart, blobs = through_frame(node)
    assert set(apart) == {"t", "text"} and bytes(blobs.texts[0]) == node["tree"].encode()
    assert wire.formula_name(apart, blobs) == wire.formula_name(tree)
    for sent, where in ((node, None), (apart, blobs)):
        assert decoded(sent, where).value == answer
    new_process(monkeypatch)
    inline, _ = scored(tree)
    new_process(monkeypatch)
    assert scored(node)[0] == inline
    new_process(monkeypatch)
    nothing_is_built(monkeypatch)  # a proof made from the tree is recalled by the text
    assert _check_result(CHECK, {"p": decoded(apart, blobs)}, 12.0, True, None) == inline


def test_other_answers_are_sent_as_before():
    for value in (3.5, [x, x + 1], {"a": x}, None, "x + 1"):
        assert encode_answer(value) == encode(value)


#: What a worker may write as a formula's text, and what a judge makes of it.
FORGED_TEXTS = [
    ("[", "bad formula text"),
    ("x + 1", "bad formula text"),
    ("[" * 100_000 + "]" * 100_000, "bad formula text"),  # nested past json's recursion
    ('["expr", ["Symbol", "x"]]', "bad formula text"),  # not as tree_text writes it
    ('["expr",["Symbol","x"],1]', "bad formula text"),
    ('["matrix",1,1]', "bad formula text"),
    ('["lambda",["Symbol","x"]]', "bad formula text"),
    ('[]', "bad formula text"),
    ('{"expr":1}', "bad formula text"),
    ('["expr",["Lambda",["Symbol","x"],["Symbol","x"]]]', "not an allowed operation"),
    ('["expr",["Pow",["Symbol","x"],["Integer","100000"]]]', "too large"),
    ('["matrix",2,1,[["Symbol","x"]]]', "does not match"),
    ('["expr",["Symbol","\\u00e9"]]', "bad symbol name"),
    ('["expr",["Symbol","x"]]' + " " * wire.MAX_FORMULA_TEXT, "too large to check"),
]


@pytest.mark.parametrize("text, says", FORGED_TEXTS, ids=range(len(FORGED_TEXTS)))
def test_a_formula_text_a_worker_forges_earns_nothing_and_says_why(cache, text, says):
    node = {"t": "formula", "tree": text}
    apart, blobs = through_frame(node)
    for sent, where in ((node, None), (apart, blobs)):
        # named by its text, built when the check reads it (a proof cannot be recalled)
        assert _check_result(CHECK, {"p": decoded(sent, where)}, 12.0, True, None).points == 0
        result = _decoded(sent, where)
        assert not result.ok and says in result.error, (text[:60], result.error)


@pytest.mark.parametrize("node", [{"t": "formula", "tree": ["expr", ["Symbol", "x"]]},
                                  {"t": "formula", "tree": '["expr",["Symbol","\u00e9"]]'},
                                  {"t": "formula", "tree": '["expr",["Symbol","x"]]',
                                   "text": {"blob": 0, "of": "guess"}}])
def test_a_formula_without_a_plain_text_is_an_unknown_tag(cache, node):
    apart, blobs = through_frame(node)
    for sent, where in ((node, None), (apart, blobs)):
        result = _decoded(sent, where)
        assert not result.ok and "unknown tag 'formula'" in result.error
