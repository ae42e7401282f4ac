"""Fixed-point quantisation with a straight-through estimator: duke-hw4 Lab 2 (a), (d)-(e).

STE (Lab 2 (a), lecture 14 p. 9: linear quantiser with dynamic scaling). For a weight tensor w of
any shape and a bit width b >= 1,

    alpha = max(w) - min(w),   beta = min(w),   ws = (w - beta) / alpha   in [0, 1],
    R = round(ws * (2^b - 1)) / (2^b - 1),      wq = alpha * R + beta,

so every element of wq is one of the 2^b evenly spaced levels beta + alpha * k / (2^b - 1),
k = 0..2^b - 1, the nearest one to the element of w. b = None keeps w (full precision), b = 0
gives zeros. The backward pass is the identity: dL/dw := dL/dwq (elementwise, same shape as w).

ResNet-20 for CIFAR-10 (NOTES.md, the course's resnet20.py): a float 3x3 conv 3->16 + BN + ReLU;
three stages of three basic blocks with widths 16, 32, 64 (stride 2 in the first block of stages
2 and 3), each block two 3x3 convs at the stage's precision with BN and ReLU and a residual
shortcut; global average pooling; a float FC 64->10. Where the channel count changes, the
shortcut is either a 1x1 conv at the stage's precision + BN ("conv1x1", the course's code) or
the parameter-free zero-padding shortcut of He et al.'s option A ("zero-pad"). Input
(N, 3, 32, 32) -> logits (N, 10).

Average precision (Lab 2 (e)): with n_i the number of conv/FC weight elements held at b_i bits
(first conv and FC at 32 bits; BN parameters and biases not counted), sum(b_i n_i) / sum(n_i).
"""

from __future__ import annotations

from copy import deepcopy
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

#: Bits a float weight counts as in the average precision (Lab 2 (e)).
FLOAT_BITS = 32
#: ResNet-20 geometry: stage widths, basic blocks per stage, input channels, classes, kernel.
WIDTHS = (16, 32, 64)
BLOCKS_PER_STAGE = 3
IN_CHANNELS = 3
NUM_CLASSES = 10
KERNEL = 3
#: The two shortcut readings for blocks whose channel count changes (NOTES.md).
SHORTCUTS = ("conv1x1", "zero-pad")

#: Precision schemes of Lab 2 (b)-(e) as (Nbits1, Nbits2, Nbits3); None is float (32 bits).
SCHEMES = {
    "mixed_4_4_2": (4, 4, 2),
    "mixed_4_2_4": (4, 2, 4),
    "mixed_2_4_4": (2, 4, 4),
    **{f"uniform_{b}": (b, b, b) for b in (6, 5, 4, 3, 2)},
    "float_32": (None, None, None),
}

#: Published CIFAR-10 test accuracies (%) from one public run of this lab with uniform precision
#: (NOTES.md). Typed in, not computed: the only literal data in this module, meant as plausibility
#: bands for a student's report, never as exact answers.
PUBLISHED_ACCURACY = {
    "source": "published figures from one public run of duke-hw4 Lab 2 (NOTES.md); "
              "typed in, not computed by this module",
    "computed": False,
    "dataset": "CIFAR-10 test set",
    "float": 91.51,
    "uniform": {
        "6": {"before_finetune": 91.45},
        "5": {"before_finetune": 91.12},
        "4": {"before_finetune": 89.72, "after_finetune": 91.35},
        "3": {"before_finetune": 76.62, "after_finetune": 90.74},
        "2": {"before_finetune": 8.99, "after_finetune": 86.00},
    },
}

DEFAULTS = {"seed": 0, "shape": [4, 4], "bits": [None, 0, 1, 2, 3, 4, 5, 6, 7, 8]}


class STE(torch.autograd.Function):
    """Linear quantiser with dynamic scaling in the forward pass, identity in the backward pass.

    forward(w, bit) -> wq, same shape and dtype as w (see the module docstring for the math).
    A constant tensor (alpha = max - min = 0) would make ws = 0/0; every element already equals
    the level beta, so it is returned unchanged. Outputs are always new tensors (w is cloned
    where it passes through) so the result never aliases the float weight.
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, bit: int | None) -> torch.Tensor:
        if bit is None:
            return w.clone()
        if bit == 0:
            return torch.zeros_like(w)
        beta = w.min()
        alpha = w.max() - beta
        if alpha == 0:
            return w.clone()
        steps = 2**bit - 1
        ws = (w - beta) / alpha
        R = torch.round(ws * steps) / steps
        return alpha * R + beta

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad_output, None


class FP_Linear(nn.Linear):
    """nn.Linear whose weight (out, in) passes through STE at `Nbits` in every forward pass."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 Nbits: int | None = None):
        super().__init__(in_features, out_features, bias=bias)
        self.Nbits = Nbits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, STE.apply(self.weight, self.Nbits), self.bias)


class FP_Conv(nn.Conv2d):
    """nn.Conv2d (no bias by default) whose weight (out, in, k, k) passes through STE at `Nbits`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = False, Nbits: int | None = None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=padding, bias=bias)
        self.Nbits = Nbits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, STE.apply(self.weight, self.Nbits), self.bias)


class ZeroPadShortcut(nn.Module):
    """Option-A shortcut: subsample by `stride`, then pad the channels with zeros on both sides.
    (N, c_in, H, W) -> (N, c_out, H/stride, W/stride); no weights."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride = stride
        extra = out_channels - in_channels
        self.pad = (0, 0, 0, 0, extra // 2, extra - extra // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::self.stride, ::self.stride], self.pad)


class BasicBlock(nn.Module):
    """relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)); both convs at `Nbits`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, Nbits: int | None,
                 shortcut: str):
        super().__init__()
        self.conv1 = FP_Conv(in_channels, out_channels, KERNEL, stride, padding=1, Nbits=Nbits)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = FP_Conv(out_channels, out_channels, KERNEL, 1, padding=1, Nbits=Nbits)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        elif shortcut == "conv1x1":
            self.shortcut = nn.Sequential(
                FP_Conv(in_channels, out_channels, 1, stride, Nbits=Nbits),
                nn.BatchNorm2d(out_channels))
        elif shortcut == "zero-pad":
            self.shortcut = ZeroPadShortcut(in_channels, out_channels, stride)
        else:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    """CIFAR ResNet-20: stem (float conv 3->16, BN, ReLU), stage1..stage3, avg pool, float fc.
    (N, 3, 32, 32) -> (N, 10)."""

    def __init__(self, Nbits1: int | None, Nbits2: int | None, Nbits3: int | None,
                 shortcut: str = "conv1x1"):
        super().__init__()
        self.stem = nn.Sequential(
            FP_Conv(IN_CHANNELS, WIDTHS[0], KERNEL, padding=1, Nbits=None),
            nn.BatchNorm2d(WIDTHS[0]), nn.ReLU())
        c_in, stages = WIDTHS[0], []
        for s, (c, nbits) in enumerate(zip(WIDTHS, (Nbits1, Nbits2, Nbits3))):
            blocks = [BasicBlock(c_in if i == 0 else c, c, 2 if (i == 0 and s > 0) else 1,
                                 nbits, shortcut) for i in range(BLOCKS_PER_STAGE)]
            stages.append(nn.Sequential(*blocks))
            c_in = c
        self.stage1, self.stage2, self.stage3 = stages
        self.fc = FP_Linear(WIDTHS[-1], NUM_CLASSES, Nbits=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(x.mean(dim=(2, 3)))


def resnet20(Nbits1: int | None = None, Nbits2: int | None = None, Nbits3: int | None = None,
             shortcut: str = "conv1x1") -> ResNet20:
    """ResNet-20 with stage precisions Nbits1..Nbits3 (None = float); see the module docstring."""
    return ResNet20(Nbits1, Nbits2, Nbits3, shortcut)


def weight_counts(shortcut: str = "conv1x1") -> dict[str, dict[str, int]]:
    """Weight elements per part of ResNet-20, from the architecture (no model is built).

    With k = 3, B = 3 blocks per stage, stage widths c_1..c_3 = 16, 32, 64 and c_0 = 16 (the
    stem's output):

        stem:     k^2 * 3 * c_1                                           = 432
        stage s:  conv3x3 = k^2 c_{s-1} c_s + k^2 c_s^2 + (B - 1) * 2 k^2 c_s^2
                  conv1x1 = c_{s-1} c_s if c_{s-1} != c_s and shortcut == "conv1x1", else 0
        fc:       c_3 * 10 (bias excluded)                                = 640

    Each part maps to {"conv3x3", "conv1x1", "total"} (stem and fc: {"total"}).
    """
    if shortcut not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
    k2 = KERNEL * KERNEL
    counts = {"stem": {"total": k2 * IN_CHANNELS * WIDTHS[0]}}
    c_in = WIDTHS[0]
    for s, c in enumerate(WIDTHS, 1):
        conv3x3 = k2 * c_in * c + k2 * c * c + (BLOCKS_PER_STAGE - 1) * 2 * k2 * c * c
        conv1x1 = c_in * c if (c_in != c and shortcut == "conv1x1") else 0
        counts[f"stage{s}"] = {"conv3x3": conv3x3, "conv1x1": conv1x1, "total": conv3x3 + conv1x1}
        c_in = c
    counts["fc"] = {"total": WIDTHS[-1] * NUM_CLASSES}
    return counts


def average_precision(Nbits1: int | None, Nbits2: int | None, Nbits3: int | None,
                      shortcut: str = "conv1x1") -> tuple[Fraction, float]:
    """sum_i b_i n_i / sum_i n_i over stem, stage1..3 and fc (Lab 2 (e)), exact and as a float.

    n_i from `weight_counts(shortcut)`; b_i = 32 for stem and fc, Nbits_s for stage s (a stage
    at None counts as 32).
    """
    counts = weight_counts(shortcut)
    bits = {"stem": None, "stage1": Nbits1, "stage2": Nbits2, "stage3": Nbits3, "fc": None}
    weighted = sum((FLOAT_BITS if bits[p] is None else bits[p]) * counts[p]["total"] for p in bits)
    exact = Fraction(weighted, sum(c["total"] for c in counts.values()))
    return exact, float(exact)


def _precision_entry(nbits: tuple, shortcut: str) -> dict:
    exact, approx = average_precision(*nbits, shortcut=shortcut)
    return {"nbits": list(nbits), "exact": str(exact), "float": approx}


def build_key(params: dict | None = None) -> dict:
    """STE examples, weight counts and average precisions of duke-hw4 Lab 2; no training.

    params: "seed" and "shape" of the example tensor w ~ N(0, 1) (float32, torch.Generator) and
    of an upstream gradient g of the same shape (next draw of the same generator); "bits", the
    bit widths to quantise w at. For each bit: the quantised values STE(w, bit), the number of
    distinct levels used, and dL/dw for L = sum(g * STE(w, bit)) (equal to g: straight through).
    Average precisions are {"exact": "p/q", "float": x} per scheme in SCHEMES and shortcut.
    The published accuracies are typed-in reference figures, not computed here.
    """
    p = deepcopy({**DEFAULTS, **(params or {})})
    gen = torch.Generator().manual_seed(p["seed"])
    w = torch.randn(*p["shape"], generator=gen)
    g = torch.randn(*p["shape"], generator=gen)
    examples = {}
    for bit in p["bits"]:
        wv = w.clone().requires_grad_(True)
        wq = STE.apply(wv, bit)
        (grad,) = torch.autograd.grad(wq, wv, grad_outputs=g)
        examples[str(bit)] = {"values": wq.detach().numpy(),
                              "distinct_levels": int(torch.unique(wq).numel()),
                              "grad": grad.numpy()}
    return {
        "params": p,
        "ste": {"w": w.numpy(), "upstream_grad": g.numpy(), "bits": examples},
        "weight_counts": {sc: weight_counts(sc) for sc in SHORTCUTS},
        "average_precision": {sc: {name: _precision_entry(nbits, sc)
                                   for name, nbits in SCHEMES.items()} for sc in SHORTCUTS},
        "published_accuracy": deepcopy(PUBLISHED_ACCURACY),
    }
