"""Fixed-point layers for Lab 2: a straight-through estimator (STE) and the layers that use it.

Lab 2 (a): complete `STE.forward` (the lines marked TODO). Each comment says what its line must
compute. Everything else in this file is finished; do not rename anything, the notebook and
resnet20.py import these names.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class STE(torch.autograd.Function):
    """Forward: quantise the float weight w to `bit` bits. Backward: pass the gradient through."""

    @staticmethod
    def forward(ctx, w, bit):
        if bit is None:
            # No bit width given: the layer stays in floating point, w is used as it is.
            wq = w.clone()
        elif bit == 0:
            # Zero bits leave nothing to represent a weight with: every weight becomes 0.
            wq = torch.zeros_like(w)
        else:
            # A linear quantiser with dynamic scaling (lecture 14, page 9): the range of this
            # tensor's own weights is cut into evenly spaced levels, and every weight moves to
            # the level closest to it.

            # TODO the bias: the smallest element of w (a 0-dimensional tensor).
            beta = None
            # TODO the scale: how far the largest element of w lies above the smallest one.
            alpha = None
            # TODO shift w down by the bias, then divide by the scale: every element of the
            #      result lies between 0 and 1, the smallest weight at 0, the largest at 1.
            ws = None
            # TODO the number of gaps between neighbouring levels: `bit` bits give 2**bit
            #      levels, and there is one gap fewer than there are levels.
            step = None
            # TODO snap ws to the nearest of the levels 0, 1/step, 2/step, ..., 1: stretch it
            #      so the levels land on whole numbers, round to the nearest whole number, and
            #      shrink it back by the same factor.
            R = None
            # TODO bring R back to the range of w: undo the division by the scale, then undo
            #      the shift by the bias.
            wq = None
        return wq

    @staticmethod
    def backward(ctx, g):
        # Straight through: the gradient with respect to the float weight is taken to be the
        # gradient with respect to its quantised copy. `bit` gets no gradient.
        return g, None


class FP_Linear(nn.Linear):
    """nn.Linear whose weight is quantised to `Nbits` bits (None: float) in every forward pass."""

    def __init__(self, in_features, out_features, bias=True, Nbits=None):
        super().__init__(in_features, out_features, bias=bias)
        self.Nbits = Nbits

    def forward(self, x):
        return F.linear(x, STE.apply(self.weight, self.Nbits), self.bias)


class FP_Conv(nn.Conv2d):
    """nn.Conv2d (no bias by default) whose weight is quantised to `Nbits` bits (None: float)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=False,
                 Nbits=None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         bias=bias)
        self.Nbits = Nbits

    def forward(self, x):
        return self._conv_forward(x, STE.apply(self.weight, self.Nbits), self.bias)
