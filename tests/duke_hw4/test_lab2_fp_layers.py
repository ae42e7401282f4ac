"""duke-hw4 Lab 2 (a): the solved FP_layers.py fixture matches reference.quantization.STE
exactly, each known mistake differs from it, and the student's resnet20.py builds the
reference network once FP_layers is solved."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from graders import ROOT
from reference import quantization as ref
from tests.fixtures.duke_hw4.lab2 import MISTAKES, SOLUTION, mistake_path

TEMPLATE = ROOT / "student_template" / "duke-hw4"
BITS = (None, 0, 1, 2, 3, 4, 6, 8)


def _load(path: Path, name: str = "FP_layers"):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tensors(seed: int):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen) * scale + shift
            for shape, scale, shift in (((16, 3, 3, 3), 0.2, 0.0), ((10, 64), 1.0, 0.3),
                                        ((32, 16, 1, 1), 0.05, -0.01))]


def _forward_and_grad(module, w: torch.Tensor, bit):
    w = w.clone().requires_grad_(True)
    out = module.STE.apply(w, bit)
    g = torch.linspace(-1, 1, w.numel()).view_as(w)
    (grad,) = torch.autograd.grad(out, w, grad_outputs=g)
    return out.detach(), grad


@pytest.mark.parametrize("seed", range(3))
def test_solution_matches_the_reference_ste_exactly(seed):
    solution = _load(SOLUTION)
    for w in _tensors(seed):
        for bit in BITS:
            out, grad = _forward_and_grad(solution, w, bit)
            ref_out, ref_grad = _forward_and_grad(ref, w, bit)
            assert torch.equal(out, ref_out) and torch.equal(grad, ref_grad), bit


@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_mistake_differs_from_the_reference(mistake):
    module = _load(mistake_path(mistake))
    differs = False
    for w in _tensors(0):
        for bit in (2, 3, 4):
            out, grad = _forward_and_grad(module, w, bit)
            ref_out, ref_grad = _forward_and_grad(ref, w, bit)
            differs |= not (torch.allclose(out, ref_out, atol=1e-6)
                            and torch.allclose(grad, ref_grad, atol=1e-6))
    assert differs


def test_template_leaves_only_the_quantiser_to_the_student():
    template = _load(TEMPLATE / "FP_layers.py")
    w = _tensors(0)[0]
    assert torch.equal(template.STE.apply(w, None), w)
    assert torch.equal(template.STE.apply(w, 0), torch.zeros_like(w))
    assert template.STE.apply(w, 4) is None  # the student's part
    assert "TODO" in (TEMPLATE / "FP_layers.py").read_text()


def test_student_resnet20_is_the_reference_network(monkeypatch):
    monkeypatch.setitem(sys.modules, "FP_layers", _load(SOLUTION))
    student = _load(TEMPLATE / "resnet20.py", "resnet20").resnet20(4, 2, 3).eval()
    torch.manual_seed(0)
    reference = ref.resnet20(4, 2, 3).eval()
    student.load_state_dict(reference.state_dict())  # the same names and shapes
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(student(x), reference(x), atol=1e-5)
    nbits = [m.Nbits for m in student.modules() if hasattr(m, "Nbits")]
    assert nbits == [m.Nbits for m in reference.modules() if hasattr(m, "Nbits")]
