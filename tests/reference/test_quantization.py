"""Checks of reference.quantization, each by a route independent of the code under test."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from reference.quantization import (
    FLOAT_BITS, SCHEMES, SHORTCUTS, STE, FP_Conv, FP_Linear, average_precision, build_key,
    resnet20, weight_counts,
)


def _weights(seed: int = 0, shape=(6, 5)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bit", range(1, 9))
def test_ste_forward_is_nearest_of_evenly_spaced_levels(bit):
    w = _weights(bit)
    wq = STE.apply(w, bit).numpy().astype(np.float64)
    x = w.numpy().astype(np.float64)
    levels = np.linspace(x.min(), x.max(), 2**bit)
    dist = np.abs(x[..., None] - levels)
    tol = 1e-5 * (x.max() - x.min())
    # every output is (up to float32 rounding) one of the levels ...
    assert np.all(np.abs(wq[..., None] - levels).min(axis=-1) < tol)
    # ... and a nearest one to its input (ties may go either way)
    assert np.all(np.abs(wq - x) <= dist.min(axis=-1) + tol)
    assert len(np.unique(wq)) <= 2**bit
    assert wq.shape == x.shape


def test_ste_one_bit_keeps_only_min_and_max():
    w = _weights()
    wq = STE.apply(w, 1)  # alpha * 1 + beta equals max(w) up to float32 rounding
    extremes = torch.stack([w.min(), w.max()])
    nearest = (wq[..., None] - extremes).abs().argmin(dim=-1)
    assert torch.allclose(wq, extremes[nearest], atol=1e-6)
    assert set(nearest.unique().tolist()) == {0, 1}


def test_ste_none_and_zero_bits():
    w = _weights()
    assert torch.equal(STE.apply(w, None), w)
    assert torch.equal(STE.apply(w, 0), torch.zeros_like(w))


def test_ste_constant_tensor_is_kept():
    w = torch.full((3, 3), 0.7)
    assert torch.equal(STE.apply(w, 3), w)


@pytest.mark.parametrize("bit", [None, 0, 1, 2, 4, 8])
def test_ste_backward_is_identity(bit):
    w = _weights().requires_grad_(True)
    g = _weights(seed=1)
    (grad,) = torch.autograd.grad(STE.apply(w, bit), w, grad_outputs=g)
    assert torch.equal(grad, g)


def test_fp_layers_use_quantised_weights():
    conv, fc = FP_Conv(3, 4, 3, padding=1, Nbits=2), FP_Linear(5, 3, Nbits=3)
    x, v = _weights(2, (1, 3, 6, 6)), _weights(3, (2, 5))
    wq = STE.apply(conv.weight.detach(), 2)
    assert torch.allclose(conv(x), torch.nn.functional.conv2d(x, wq, padding=1), atol=1e-6)
    wq = STE.apply(fc.weight.detach(), 3)
    assert torch.allclose(fc(v), v @ wq.T + fc.bias, atol=1e-6)
    assert conv.bias is None


def _model_counts(model) -> tuple[dict, int]:
    """Weight numel per top-level part, and sum(Nbits * numel), from the model's own modules."""
    counts, weighted = {}, 0
    for name, m in model.named_modules():
        if isinstance(m, (FP_Conv, FP_Linear)):
            part = name.split(".")[0]
            counts[part] = counts.get(part, 0) + m.weight.numel()
            weighted += (FLOAT_BITS if m.Nbits is None else m.Nbits) * m.weight.numel()
    return counts, weighted


@pytest.mark.parametrize("shortcut", SHORTCUTS)
def test_weight_counts_match_built_model(shortcut):
    counts, _ = _model_counts(resnet20(4, 2, 3, shortcut=shortcut))
    assert counts == {part: c["total"] for part, c in weight_counts(shortcut).items()}


@pytest.mark.parametrize("shortcut", SHORTCUTS)
@pytest.mark.parametrize("nbits", SCHEMES.values(), ids=SCHEMES.keys())
def test_average_precision_matches_model_modules(nbits, shortcut):
    counts, weighted = _model_counts(resnet20(*nbits, shortcut=shortcut))
    exact, approx = average_precision(*nbits, shortcut=shortcut)
    assert exact == Fraction(weighted, sum(counts.values()))
    assert approx == pytest.approx(weighted / sum(counts.values()))


@pytest.mark.parametrize("shortcut", SHORTCUTS)
def test_resnet20_forward_shape(shortcut):
    model = resnet20(4, 4, 2, shortcut=shortcut).eval()
    x = _weights(0, (2, 3, 32, 32))
    with torch.no_grad():
        assert model(x).shape == (2, 10)
        h = model.stem(x)
        for stage, shape in zip((model.stage1, model.stage2, model.stage3),
                                ((16, 32, 32), (32, 16, 16), (64, 8, 8))):
            h = stage(h)
            assert h.shape == (2, *shape)


def test_build_key_entries():
    key = build_key()
    assert set(key["ste"]["bits"]) == {"None", "0", *map(str, range(1, 9))}
    for entry in key["ste"]["bits"].values():
        assert np.array_equal(entry["grad"], key["ste"]["upstream_grad"])
    assert key["ste"]["bits"]["3"]["distinct_levels"] <= 8
    ap = key["average_precision"]["conv1x1"]["mixed_4_4_2"]
    assert Fraction(ap["exact"]) == average_precision(4, 4, 2)[0]
    assert key["published_accuracy"]["computed"] is False
