"""Cutout (DeVries & Taylor, 2017) checked from many draws of the student's function.

The probe calls cutout(img, s) `n` times on one hidden image img (H, W, C) with no zero
entry; the draws arrive stacked (n, H, W, C). Each draw must be img with one square of side s
zeroed, clipped at the border (reference/augmentation.py):
  - every pixel either unchanged or zero in all its channels;
  - the zeroed pixels exactly fill one rectangle of rows [r0, r1) and columns [c0, c1);
  - each side is s, or shorter only where the square meets the border (r0 = 0 or r1 = H).
The centre is uniform over all H x W pixels, so a side is clipped with a probability p that
`clip_probability` counts exactly. The share of draws clipped along
each axis must lie within Hoeffding's bound of p, eps = sqrt(ln(4 / delta) / (2 n)), so an
honest cutout fails with probability below delta (`false_failure`, both axes together); a
cutout whose centres never reach the border (never clipped) fails.
"""

from __future__ import annotations

import math

import numpy as np

from graders.checks.base import Check, Outcome, Probe, ProbeResult, as_float_array, show


def clip_probability(length: int, size: int) -> float:
    """P(the square's span along an axis of `length` is clipped) for a centre c uniform on
    0..length-1: the span [c - size//2, c - size//2 + size) leaves [0, length)."""
    clipped = sum(1 for c in range(length)
                  if c - size // 2 < 0 or c - size // 2 + size > length)
    return clipped / length


def square_problem(draw: np.ndarray, img: np.ndarray, size: int) -> tuple[str, tuple[bool, bool]]:
    """("", (rows clipped, columns clipped)) for a draw that is img with one clipped square
    of side `size` zeroed, else (what is wrong, ...)."""
    changed = ~np.isclose(draw, img, rtol=0, atol=1e-6)
    zero = np.isclose(draw, 0, rtol=0, atol=1e-6)
    if (changed & ~zero).any():
        return "pixels outside the square were changed", (False, False)
    pixels = changed.any(axis=-1)
    if (pixels & ~zero.all(axis=-1)).any():
        return "a pixel was zeroed in some channels only", (False, False)
    if not pixels.any():
        return "nothing was zeroed", (False, False)
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if pixels.sum() != (r1 - r0) * (c1 - c0):
        return "the zeroed pixels are not one rectangle", (False, False)
    height, width = pixels.shape
    clipped = []
    for low, high, length in ((r0, r1, height), (c0, c1, width)):
        side, at_border = high - low, low == 0 or high == length
        if side > size or (side < size and not at_border):
            return f"a side of {side} pixels (expected {size}, or less at the border)", \
                (False, False)
        clipped.append(side < size)
    return "", (clipped[0], clipped[1])


class CutoutCheck(Check):
    kind = "statistical"

    def __init__(self, id, title, probe: Probe, img: np.ndarray, size: int,
                 false_failure: float):
        super().__init__(id, title, [probe])
        self.img, self.size, self.delta = np.asarray(img, dtype=float), size, false_failure

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        draws = as_float_array(results[self.probes[0].id].value)
        shape = self.img.shape
        if draws is None or draws.shape[1:] != shape:
            return Outcome(0.0, f"expected images of shape {shape}, got "
                           f"{show(results[self.probes[0].id].value, 80)}")
        clipped = np.zeros((len(draws), 2), dtype=bool)
        for i, draw in enumerate(draws):
            why, clipped[i] = square_problem(draw, self.img, self.size)
            if why:
                return Outcome(0.0, f"draw {i + 1}: {why}", tolerance="every draw")
        eps = math.sqrt(math.log(4 / self.delta) / (2 * len(draws)))
        tolerance = f"clipped share within {eps:.3f} of the uniform centre's"
        for axis, name in enumerate(("rows", "columns")):
            share = float(clipped[:, axis].mean())
            expected = clip_probability(shape[axis], self.size)
            if abs(share - expected) > eps:
                side = "never" if share == 0 else ("too rarely" if share < expected
                                                   else "too often")
                return Outcome(0.0, f"the square meets the border along the {name} {side}: "
                               "centres are not uniform over the whole image",
                               f"{share:.3f} of {len(draws)} draws clipped", tolerance=tolerance,
                               detail=f"expected {expected:.3f}")
        return Outcome(1.0, "every draw is one clipped square; centres uniform",
                       tolerance=tolerance)


#: How the M copies of B samples may be ordered: source sample of output row r.
ORDERS = {"copies adjacent": lambda r, b, m: r // m, "batch repeated": lambda r, b, m: r % b}


class BatchAugmentCheck(Check):
    """Batch augmentation (Hoffer et al.): batch_augment(images (B, H, W, C), labels (B,), m,
    s) returns (images (m B, H, W, C), labels (m B,)): m copies of each sample, each copy
    cut out on its own (`square_problem`) and labelled as its sample. Copies may be adjacent
    (rows i m .. i m + m - 1 from sample i) or the batch repeated m times (row j B + i);
    the report names which. Every sample's copies sharing one mask is the known mistake
    (an honest draw does it with probability below 1e-20 here)."""

    kind = "statistical"

    def __init__(self, id, title, probe: Probe, images: np.ndarray, labels: np.ndarray,
                 m: int, size: int):
        super().__init__(id, title, [probe])
        self.images, self.labels = np.asarray(images, dtype=float), np.asarray(labels)
        self.m, self.size = m, size

    def evaluate(self, results: dict[str, ProbeResult]) -> Outcome:
        value = results[self.probes[0].id].value
        b, m = len(self.images), self.m
        parts = [as_float_array(v) for v in value] if isinstance(value, list) else []
        if len(parts) != 2 or any(p is None for p in parts):
            return Outcome(0.0, f"expected (images, labels), got {show(value, 80)}")
        images, labels = parts
        if images.shape != (m * b, *self.images.shape[1:]) or labels.shape != (m * b,):
            return Outcome(0.0, f"expected {m} x {b} images and labels, got shapes "
                           f"{images.shape} and {labels.shape}")
        rows = np.arange(m * b)
        for order, source in ORDERS.items():
            src = source(rows, b, m)
            if not np.array_equal(labels, self.labels[src]):
                continue
            for r in rows:
                why, _ = square_problem(images[r], self.images[src[r]], self.size)
                if why:
                    return Outcome(0.0, f"copy {r + 1}: {why}", variant=order)
            copies = [images[src == i] for i in range(b)]
            if all((c == c[0]).all() for c in copies):
                return Outcome(0.0, "every sample's copies share one mask: each copy needs "
                               "its own", variant=order)
            return Outcome(1.0, f"{m} copies of each sample, each cut out on its own, "
                           "labels repeated", variant=order)
        return Outcome(0.0, "the labels are not each sample's label repeated (copies "
                       "adjacent or the batch repeated)")
