"""duke-hw4 Lab 2 checks without the sandbox: the STE properties on outputs computed here from
the fixtures (trusted test code), the accuracy bands and relations, the average precision, and
the class page's flag for a value outside its band.

The STE cases are evaluated exactly as the worker's autograd probes would answer them
(STE.apply on a float32 tensor requiring a gradient; dL/dw for L = sum(upstream * wq)).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from graders.assignment import load_assignment
from graders.assignments import quant_lab
from graders.checks import ste
from graders.checks.base import ProbeResult
from graders.classpage import write_class_page
from graders.grading import GradeResult, ProblemResult, _check_result
from reference import quantization as ref
from tests.fixtures.duke_hw4.examples import LAB2_FILLED
from tests.fixtures.duke_hw4.lab2 import MISTAKES, SOLUTION, mistake_path

CASES = ste.cases(2020)
LOST = {"no_beta": "range", "levels_2pow": "levels", "round_first": "rounding",
        "zero_grad": "gradient", "symmetric": "asymmetric"}


def _module(path: Path):
    spec = importlib.util.spec_from_file_location("FP_layers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _answers(apply, cases=CASES) -> dict[str, ProbeResult]:
    """What the worker's autograd probes return for `apply(w, bit)`."""
    out = {}
    for case in cases:
        w = torch.from_numpy(case.w.copy()).requires_grad_(True)
        wq = apply(w, case.bit)
        grad = None
        if isinstance(wq, torch.Tensor) and wq.requires_grad:
            (grad,) = torch.autograd.grad(wq, w, grad_outputs=torch.from_numpy(case.upstream),
                                          allow_unused=True)
        out[case.id] = ProbeResult(True, {
            "value": None if wq is None else np.asarray(wq.detach(), dtype=float),
            "grad": None if grad is None else grad.numpy().astype(float)})
    return out


def _scores(answers, cases=CASES) -> dict[str, float]:
    return {p: ste.QuantiserProperty(p, p, cases).evaluate(answers).fraction
            for p in ste.PROPERTIES}


def test_every_property_holds_for_the_reference_and_the_solved_template():
    for apply in (ref.STE.apply, _module(SOLUTION).STE.apply):
        assert _scores(_answers(apply)) == {p: 1.0 for p in ste.PROPERTIES}


@pytest.mark.parametrize("seed", [0, 1, 2020])
@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_mistake_breaks_exactly_its_property(mistake, seed):
    cases = ste.cases(seed)
    scores = _scores(_answers(_module(mistake_path(mistake)).STE.apply, cases), cases)
    assert scores == {p: float(p != LOST[mistake]) for p in ste.PROPERTIES}


def test_the_message_names_the_property_and_where():
    outcome = ste.QuantiserProperty("levels", "levels", CASES).evaluate(
        _answers(_module(mistake_path("levels_2pow")).STE.apply))
    assert outcome.message.startswith("levels broken") and "bit 1 on a tensor" in outcome.message


def _shifted(w, bit):
    out = ref.STE.apply(w, bit)
    return out + 0.01 * (w.max() - w.min()) if isinstance(bit, int) and bit > 0 else out


GARBAGE = {
    "identity": lambda w, bit: w * 1.0,
    "zeros": lambda w, bit: w * 0.0,
    "constant": lambda w, bit: w * 0.0 + 0.5,
    "noise": lambda w, bit: w + 0.01 * torch.randn_like(w),
    "not a tensor": lambda w, bit: None,
}


@pytest.mark.parametrize("name", GARBAGE)
def test_garbage_earns_nothing(name):
    assert _scores(_answers(GARBAGE[name])) == {p: 0.0 for p in ste.PROPERTIES}


def test_a_quantiser_one_bit_short_or_shifted_loses_rounding_and_range():
    short = _scores(_answers(lambda w, bit: ref.STE.apply(w, bit - 1 if bit and bit > 1 else bit)))
    assert short["rounding"] == 0.0
    shifted = _scores(_answers(_shifted))
    assert shifted["range"] == 0.0 and shifted["rounding"] == 0.0


def test_a_gpu_call_is_said_plainly():
    failed = {c.id: ProbeResult(False, error="AssertionError: Torch not compiled with CUDA "
                                             "enabled") for c in CASES}
    outcome = ste.QuantiserProperty("edge", "edge", CASES).evaluate(failed)
    assert outcome.fraction == 0 and ".cuda()" in outcome.message
    assert "the grading machine has none" in outcome.message


# --- the accuracy table ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def hw4(course):
    return load_assignment(course, "duke-hw4")


def _table(name: str) -> dict:
    """The solution's value of `name` (LAB2_FILLED), parsed as the worker would send it."""
    import ast
    line = next(v for v in LAB2_FILLED.values() if v.startswith(name + " ="))
    return ast.literal_eval(line.split("=", 1)[1].split("#")[0].strip())


SOLUTION_VALUES = {name: _table(name) for name in
                   ("lab2_b_accuracy", "lab2_c_finetuned", "lab2_d_before", "lab2_d_after",
                    "lab2_e_bits_442", "lab2_e_bits_424", "lab2_e_bits_244")}


def _lab2(hw4, values: dict) -> dict[str, tuple[float, str]]:
    """{"L2.x/check": (fraction, message)} for the table/number checks of (b)-(e)."""
    probes = {name: ProbeResult(True, value) for name, value in values.items()}
    out = {}
    for problem in hw4.problems:
        if problem.id in ("L2.b", "L2.c", "L2.d", "L2.e"):
            for check in problem.checks:
                result = _check_result(check, probes, 1.0, True, None)
                out[f"{problem.id}/{check.id}"] = (result.points, result.message)
    return out


def test_the_solution_table_earns_every_point(hw4):
    assert all(points == 1.0 for points, _ in _lab2(hw4, SOLUTION_VALUES).values())


def test_a_value_far_outside_loses_its_share_and_the_message_holds_no_reference(hw4):
    values = {**SOLUTION_VALUES, "lab2_b_accuracy": {**SOLUTION_VALUES["lab2_b_accuracy"],
                                                     "float": 40.0}}
    scored = _lab2(hw4, values)
    points, message = scored["L2.b/float"]
    assert points == 0.0 and "float" in message and "outside" in message
    runs = hw4.key.data["runs"]["results"]
    assert f"{runs['float']['accuracy']:g}" not in message


STABLE = ("L2.b/float", "L2.c/finetuned", "L2.d/after")


@pytest.mark.parametrize("garbage", ["constant", "neighbour", "shifted"])
def test_garbage_tables_earn_nothing_on_the_bands(hw4, garbage):
    """A constant table, (d)'s two columns swapped, a table shifted by 10 points. The
    accuracies before finetuning with a 2-bit stage have wide bands (they collapse differently
    in every run): a shifted table still meets those, and loses every other band."""
    sol = SOLUTION_VALUES
    if garbage == "constant":
        values = {k: ({e: 50.0 for e in v} if isinstance(v, dict) else 3.0)
                  for k, v in sol.items()}
    elif garbage == "neighbour":
        values = {**sol, "lab2_d_before": sol["lab2_d_after"],
                  "lab2_d_after": sol["lab2_d_before"],
                  "lab2_e_bits_442": 3.73, "lab2_e_bits_424": 4.01, "lab2_e_bits_244": 2.60}
    else:
        values = {k: ({e: x - 10 for e, x in v.items()} if isinstance(v, dict) else v + 0.1)
                  for k, v in sol.items()}
    scored = _lab2(hw4, values)
    assert scored["L2.d/after"][0] == 0
    assert scored["L2.d/stage"][0] == (1 if garbage == "shifted" else 0)  # a relation: shifts keep it
    assert all(scored[f"L2.e/{m}"][0] == 0 for m in quant_lab.MIXED)
    if garbage != "neighbour":
        assert all(scored[k][0] == 0 for k in STABLE)
        bits = next(c for p in hw4.problems if p.id == "L2.b" for c in p.checks
                    if c.id == "bits")
        wide = [e for e, (_, h) in bits.bands.items() if h > hw4.config.tolerances["lab2_band"]]
        assert scored["L2.b/bits"][0] <= len(wide) / len(bits.bands)  # the wide entries only
    if garbage == "constant":
        assert scored["L2.d/before"][0] == 0 and scored["L2.b/bits"][0] == 0


def test_relations_fail_when_the_lab_findings_are_reversed(hw4):
    sol = SOLUTION_VALUES
    rising = dict(zip(sol["lab2_b_accuracy"], sorted(sol["lab2_b_accuracy"].values())))
    worse = {e: sol["lab2_b_accuracy"][e] - 5 for e in sol["lab2_c_finetuned"]}
    other = {"4,4,2": 90.0, "4,2,4": 70.0, "2,4,4": 80.0}
    scored = _lab2(hw4, {**sol, "lab2_b_accuracy": rising, "lab2_c_finetuned": worse,
                         "lab2_d_before": other})
    assert scored["L2.b/falls"][0] == 0 and scored["L2.c/recovers"][0] == 0
    assert scored["L2.d/stage"][0] == 0 and "unlike the reference runs" in scored["L2.d/stage"][1]


@pytest.mark.parametrize("key,entry", [(6, "6"), ("6-bit", "6"), ("6 bits", "6"),
                                       ("FP32", "float"), ("float", "float"), (32, "float"),
                                       ("[4, 4, 2]", "442"), ("4,4,2", "442"), ("442", "442")])
def test_table_keys_in_the_forms_students_write(key, entry):
    assert quant_lab.canonical(key) == entry


def test_fractions_and_epoch_lists_are_read():
    read = quant_lab.reader("lab2_c_finetuned", "finetuned ")
    values, form = read({4: np.array([0.93, 0.95]), "3": 0.94, 2: 0.9})
    assert values == pytest.approx({"finetuned 4-bit": 95.0, "finetuned 3-bit": 94.0,
                                    "finetuned 2-bit": 90.0})
    assert "fractions of 1" in form and "highest of the epochs" in form
    assert isinstance(read({4: "high"}), str) and isinstance(read([1, 2]), str)


def test_average_precision_variants_match_an_independent_count():
    """(e)'s key against counting the reference network's own conv/FC weights (torch)."""
    for shortcut in ref.SHORTCUTS:
        for nbits in ((4, 4, 2), (4, 2, 4), (2, 4, 4)):
            net = ref.resnet20(*nbits, shortcut=shortcut)
            bits = weights = 0
            for module in net.modules():
                if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                    nb = getattr(module, "Nbits", None)
                    bits += (32 if nb is None else nb) * module.weight.numel()
                    weights += module.weight.numel()
            assert float(ref.average_precision(*nbits, shortcut=shortcut)[0]) == \
                pytest.approx(bits / weights, abs=1e-12)


# --- the class page ----------------------------------------------------------------------------

def test_a_band_loss_is_flagged_on_the_class_page_with_band_and_reference(hw4, tmp_path):
    values = {**SOLUTION_VALUES, "lab2_d_after": {**SOLUTION_VALUES["lab2_d_after"],
                                                  "2,4,4": 10.0}}
    probes = {name: ProbeResult(True, value) for name, value in values.items()}
    problem = next(p for p in hw4.problems if p.id == "L2.d")
    checks = [_check_result(c, probes, hw4.points("L2.d", c.id), True, None)
              for c in problem.checks]
    result = GradeResult(student="alice", file="alice.ipynb", assignment=hw4.id,
                         title=hw4.config.title, audience="instructor", isolation="test",
                         max_points=100.0)
    result.problems = [ProblemResult("L2.d", problem.title, checks, [], None)]
    clean = replace(result, student="bob",
                    problems=[ProblemResult("L2.d", problem.title,
                                            [replace(c, points=c.max_points) for c in checks],
                                            [], None)])
    page = write_class_page([result, clean], tmp_path, "duke-hw4").read_text()
    flagged = page[page.index('id="flagged"'):page.index('id="problems"')]
    reference = hw4.key.data["runs"]["results"]["mixed"]["mixed_2_4_4"]["after_finetune"]
    assert "alice" in flagged and "bob" not in flagged
    assert "finetuned mixed 2,4,4: 10" in flagged and f"reference {reference:.4g}" in flagged
    assert "band" in flagged


def test_a_cell_that_asks_for_the_gpu_says_so_plainly():
    from graders.execution import _cell_record
    from graders.sandbox.pool import Limits
    for error in ("AssertionError: Torch not compiled with CUDA enabled",
                  "RuntimeError: Found no NVIDIA driver on your system."):
        record = _cell_record(0, {"ok": False, "error": error}, Limits(), ["net = net.cuda()"])
        assert not record.ok and "the grading machine has none" in record.error
        assert error in record.error
    plain = _cell_record(0, {"ok": False, "error": "NameError: x"}, Limits(), ["x"])
    assert plain.error == "NameError: x"


def test_average_precision_names_the_shortcut_reading(hw4):
    """Both readings of the shortcut are accepted; the report names the one matched (at two
    decimals they coincide: 1x1 shortcut convs hold under 0.2% of the weights)."""
    check = next(c for p in hw4.problems if p.id == "L2.e" for c in p.checks if c.id == "442")
    exact = {sc: ref.average_precision(4, 4, 2, shortcut=sc)[1] for sc in ref.SHORTCUTS}
    for value, variant in ((exact["conv1x1"], "conv1x1"), (exact["zero-pad"] + 0.004,
                                                           "zero-pad")):
        result = _check_result(check, {"lab2_e_bits_442": ProbeResult(True, value)}, 2.0,
                               True, None)
        assert result.points == 2.0 and result.variant == variant
    wrong = _check_result(check, {"lab2_e_bits_442": ProbeResult(True, exact["conv1x1"]
                                                                 + 0.01)}, 2.0, True, None)
    assert wrong.points == 0
