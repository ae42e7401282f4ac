"""Checks reference/cnn.py against networks built and run in torch (an independent route)."""

from collections import OrderedDict

import pytest
import sympy as sp
import torch
from torch import nn

from reference import cnn

KEY = cnn.build_key()


def record_outputs(model: nn.Module, x: torch.Tensor, types: tuple) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Run `model` on `x`, returning (name, module, output) for every submodule of `types`."""
    seen = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, name=name: seen.append((name, mod, out)))
        for name, m in model.named_modules()
        if isinstance(m, types)
    ]
    model(x)
    for h in hooks:
        h.remove()
    return seen


def hwc(out: torch.Tensor) -> list[int]:
    """(1, C, H, W) or (1, C) output as [H, W, C]."""
    return list(out.shape[2:]) + [out.shape[1]] if out.dim() == 4 else [1, 1, out.shape[1]]


@pytest.mark.parametrize("h,f,s,p,groups", [(227, 11, 4, 0, 1), (27, 5, 1, 2, 2), (13, 3, 1, 1, 2), (9, 3, 2, 0, 1)])
def test_layer_helpers_match_torch_conv(h, f, s, p, groups):
    conv = nn.Conv2d(4 * groups, 6 * groups, f, stride=s, padding=p, groups=groups)
    out = conv(torch.zeros(1, 4 * groups, h, h))
    assert cnn.conv_output_size(h, f, s, p) == out.shape[-1]
    assert cnn.conv_params(f, 4 * groups, 6 * groups, groups) == sum(q.numel() for q in conv.parameters())
    assert cnn.conv_params(f, 4 * groups, 6 * groups, groups, bias=False) == conv.weight.numel()
    macs = out.numel() * conv.weight[0].numel()
    assert cnn.conv_macs(out.shape[2], out.shape[3], f, 4 * groups, 6 * groups, groups) == macs


def test_conv_output_size_rejects_non_tiling_window():
    with pytest.raises(ValueError):
        cnn.conv_output_size(224, 11, 4)  # AlexNet conv1 on 224x224: 54.25


# --------------------------------------------------------------------------- AlexNet

def torch_alexnet(groups: int, bias: bool) -> nn.Sequential:
    def conv(c_in, c_out, f, **kw):
        return nn.Conv2d(c_in, c_out, f, bias=bias, device="meta", **kw)

    def fc(n_in, n_out):
        return nn.Linear(n_in, n_out, bias=bias, device="meta")

    return nn.Sequential(OrderedDict(
        conv1=conv(3, 96, 11, stride=4), relu1=nn.ReLU(), pool1=nn.MaxPool2d(3, 2),
        conv2=conv(96, 256, 5, padding=2, groups=groups), relu2=nn.ReLU(), pool2=nn.MaxPool2d(3, 2),
        conv3=conv(256, 384, 3, padding=1), relu3=nn.ReLU(),
        conv4=conv(384, 384, 3, padding=1, groups=groups), relu4=nn.ReLU(),
        conv5=conv(384, 256, 3, padding=1, groups=groups), relu5=nn.ReLU(), pool5=nn.MaxPool2d(3, 2),
        flatten=nn.Flatten(),
        fc6=fc(9216, 4096), relu6=nn.ReLU(), fc7=fc(4096, 4096), relu7=nn.ReLU(), fc8=fc(4096, 1000),
    ))


@pytest.mark.parametrize("groups,bias,variant", [
    (2, True, "two-gpu-grouped/with-bias"),
    (2, False, "two-gpu-grouped/no-bias"),
    (1, True, "single-tower/with-bias"),
    (1, False, "single-tower/no-bias"),
])
def test_alexnet_params_and_shapes_match_torch(groups, bias, variant):
    model = torch_alexnet(groups, bias)
    key = KEY["alexnet"]
    entry = key["variants"][variant]
    assert entry["total"] == sum(q.numel() for q in model.parameters())

    outputs = record_outputs(model, torch.empty(1, 3, 227, 227, device="meta"),
                             (nn.Conv2d, nn.MaxPool2d, nn.Linear))
    assert [name for name, _, _ in outputs] == key["layers"]
    for name, module, out in outputs:
        assert entry["params"][name] == sum(q.numel() for q in module.parameters()), name
        assert key["output_shapes"][name] == hwc(out), name
    assert key["input_size"] == [227, 227, 3]


# --------------------------------------------------------------------------- VGG19

def torch_vgg19() -> nn.Sequential:
    layers, c_in = [], 3
    for c_out in [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                  512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]:
        if c_out == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False, device="meta"), nn.ReLU()]
            c_in = c_out
    layers.append(nn.Flatten())
    for n_in, n_out in [(7 * 7 * 512, 4096), (4096, 4096), (4096, 1000)]:
        layers += [nn.Linear(n_in, n_out, bias=False, device="meta"), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def test_vgg19_table_matches_torch():
    model = torch_vgg19()
    outputs = record_outputs(model, torch.empty(1, 3, 224, 224, device="meta"),
                             (nn.Conv2d, nn.MaxPool2d, nn.Linear))

    def row_name(m):
        return {nn.Conv2d: lambda: f"CONV3-{m.out_channels}", nn.MaxPool2d: lambda: "POOL2",
                nn.Linear: lambda: "FC"}[type(m)]()

    names = ["INPUT"] + [row_name(m) for _, m, _ in outputs]
    activations = [224 * 224 * 3] + [out.numel() for _, _, out in outputs]
    weights = [0] + [sum(q.numel() for q in m.parameters()) for _, m, _ in outputs]

    key = KEY["vgg19"]
    assert key["layers"] == names
    assert key["activations"] == activations
    assert key["weights"] == weights
    assert key["total_activations"] == sum(activations)
    assert key["total_weights"] == sum(q.numel() for q in model.parameters())


# --------------------------------------------------------------------------- receptive field

def impulse_extent(n: int, f: int) -> int:
    """Side of the input region that one output pixel of N stacked F x F convs depends on."""
    convs = [nn.Conv2d(1, 1, f, bias=False, dtype=torch.float64) for _ in range(n)]
    for c in convs:
        nn.init.ones_(c.weight)  # positive weights: no cancellation hides a dependency
    side = n * f + 3
    x = torch.zeros(1, 1, side, side, dtype=torch.float64, requires_grad=True)
    out = nn.Sequential(*convs)(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = x.grad[0, 0].abs().sum(dim=1).nonzero()
    cols = x.grad[0, 0].abs().sum(dim=0).nonzero()
    assert rows.max() - rows.min() == cols.max() - cols.min()
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("f", [1, 3, 5, 7])
def test_receptive_field_matches_impulse_response(n, f):
    measured = impulse_extent(n, f)
    assert KEY["receptive_field"]["formula"].subs({cnn.N: n, cnn.F: f}) == measured
    assert cnn.receptive_field(n, f) == measured


def test_receptive_field_of_three_5x5_convs():
    assert KEY["receptive_field"]["n3_f5"] == impulse_extent(3, 5) == 13
    assert sp.expand(KEY["receptive_field"]["formula"] - (cnn.N * cnn.F - cnn.N + 1)) == 0


# --------------------------------------------------------------------------- inception

class TorchInception(nn.Module):
    """Parallel branches (stride 1, same padding) concatenated along channels."""

    def __init__(self, branches: dict[str, list[tuple[str, nn.Module]]]):
        super().__init__()
        self.branches = nn.ModuleDict({b: nn.Sequential(OrderedDict(layers)) for b, layers in branches.items()})

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches.values()], dim=1)


def torch_inception(kind: str, c_in: int, n: dict) -> TorchInception:
    def conv(ci, co, f):
        return nn.Conv2d(ci, co, f, padding=f // 2)

    def pool():
        return "maxpool", nn.MaxPool2d(3, stride=1, padding=1)

    if kind == "naive":
        return TorchInception({
            "1x1": [("1x1", conv(c_in, n["1x1"], 1))],
            "3x3": [("3x3", conv(c_in, n["3x3"], 3))],
            "5x5": [("5x5", conv(c_in, n["5x5"], 5))],
            "pool": [pool()],
        })
    return TorchInception({
        "1x1": [("1x1", conv(c_in, n["1x1"], 1))],
        "3x3": [("3x3_reduce", conv(c_in, n["3x3_reduce"], 1)), ("3x3", conv(n["3x3_reduce"], n["3x3"], 3))],
        "5x5": [("5x5_reduce", conv(c_in, n["5x5_reduce"], 1)), ("5x5", conv(n["5x5_reduce"], n["5x5"], 5))],
        "pool": [pool(), ("pool_proj", conv(c_in, n["pool_proj"], 1))],
    })


GOOGLENET_3A = {"inception": {
    "input_size": [28, 28, 192],
    "naive": {"1x1": 64, "3x3": 128, "5x5": 32},
    "dimension_reduction": {"1x1": 64, "3x3_reduce": 96, "3x3": 128, "5x5_reduce": 16, "5x5": 32, "pool_proj": 32},
}}


@pytest.mark.parametrize("params", [None, GOOGLENET_3A])
def test_inception_outputs_and_macs_match_torch(params):
    key = cnn.build_key(params)["inception"]
    h, w, c = key["params"]["input_size"]
    totals = {}
    for kind in ("naive", "dimension_reduction"):
        module = torch_inception(kind, c, key["params"][kind])
        with torch.no_grad():
            outputs = record_outputs(module, torch.zeros(1, c, h, w), (nn.Conv2d, TorchInception))
        layer_macs, branch_macs = {}, dict.fromkeys(module.branches, 0)
        for name, m, out in outputs:
            if isinstance(m, TorchInception):
                assert key[kind]["output_size"] == hwc(out)
                continue
            _, branch, layer = name.split(".")
            layer_macs[layer] = out.numel() * m.weight[0].numel()  # weight[0]: F*F*C_in/groups
            branch_macs[branch] += layer_macs[layer]
        assert key[kind]["layer_macs"] == layer_macs
        assert key[kind]["branch_macs"] == branch_macs
        assert key[kind]["total_macs"] == totals.setdefault(kind, sum(branch_macs.values()))

    saving = key["saving"]
    assert saving["difference"] == totals["naive"] - totals["dimension_reduction"]
    assert saving["ratio"] == pytest.approx(totals["naive"] / totals["dimension_reduction"])
    assert saving["fraction_saved"] == pytest.approx(1 - totals["dimension_reduction"] / totals["naive"])


def test_build_key_rejects_unknown_parameter():
    with pytest.raises(KeyError):
        cnn.build_key({"inception": {"naive": {"7x7": 10}}})
