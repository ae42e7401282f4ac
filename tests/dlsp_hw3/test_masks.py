"""The cutout check (graders/checks/masks.py) on draws made here: reference/augmentation.py's
cutout passes, each way of getting it wrong fails with its symptom."""

from __future__ import annotations

import numpy as np
import pytest

from graders.checks.base import Probe, ProbeResult
from graders.checks.masks import CutoutCheck, clip_probability, square_problem
from reference import augmentation

IMG = np.random.default_rng(0).uniform(0.1, 1.0, (10, 12, 2))
P = Probe("c", "call", "cutout")


def evaluate(draws) -> str:
    check = CutoutCheck("cutout", "t", P, IMG, 4, false_failure=1e-6)
    outcome = check.evaluate({"c": ProbeResult(True, np.asarray(draws))})
    return "pass" if outcome.fraction == 1 else outcome.message


def reference_draws(n=1000, seed=1, size=4):
    rng = np.random.default_rng(seed)
    return [augmentation.cutout(IMG, size, rng) for _ in range(n)]


@pytest.mark.parametrize("seed", range(3))
def test_the_reference_cutout_passes(seed):
    assert evaluate(reference_draws(seed=seed)) == "pass"


def test_clip_probability_matches_sampling():
    rng = np.random.default_rng(2)
    centres = rng.integers(10, size=200_000)
    clipped = np.mean((centres - 2 < 0) | (centres - 2 + 4 > 10))
    assert clip_probability(10, 4) == pytest.approx(clipped, abs=0.01) and \
        clip_probability(10, 4) == 0.3


def test_a_cutout_that_never_clips_fails():
    draws = []
    for cy, cx in np.random.default_rng(3).integers([2, 2], [9, 11], size=(1000, 2)):
        draws.append(IMG * augmentation.cutout_mask(10, 12, 4, (cy, cx))[..., None])
    assert "meets the border along the rows never" in evaluate(draws)


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.__setitem__((0, 0, 0), 5.0), "pixels outside the square were changed"),
    (lambda d: d.__setitem__((slice(None), slice(None), 1), IMG[..., 1]), "some channels only"),
    (lambda d: d.__setitem__(slice(None), IMG), "nothing was zeroed"),
])
def test_wrong_draws_are_named(edit, words):
    draw = IMG * augmentation.cutout_mask(10, 12, 4, (5, 5))[..., None]
    draw[0, 0] = IMG[0, 0]
    edit(draw)
    assert words in square_problem(draw, IMG, 4)[0]


def test_a_wrong_side_and_two_squares_fail():
    small = IMG * augmentation.cutout_mask(10, 12, 3, (5, 5))[..., None]
    assert "a side of 3 pixels" in square_problem(small, IMG, 4)[0]
    two = IMG * (augmentation.cutout_mask(10, 12, 2, (1, 1))
                 & augmentation.cutout_mask(10, 12, 2, (6, 6)))[..., None]
    assert "not one rectangle" in square_problem(two, IMG, 4)[0]


BATCH, LABELS = np.random.default_rng(4).uniform(0.1, 1.0, (3, 10, 12, 2)), np.array([7, 2, 5])


def augment_check(value):
    from graders.checks.masks import BatchAugmentCheck
    check = BatchAugmentCheck("b", "t", P, BATCH, LABELS, 4, 4)
    return check.evaluate({"c": ProbeResult(True, value)})


def test_batch_augmentation_in_either_order_passes_and_is_named():
    images, labels = augmentation.batch_augment(BATCH, LABELS, 4, 4, np.random.default_rng(5))
    adjacent = augment_check([images, labels])
    assert adjacent.fraction == 1 and adjacent.variant == "copies adjacent"
    order = np.arange(12).reshape(3, 4).T.ravel()  # row j B + i holds copy j of sample i
    tiled = augment_check([images[order], labels[order]])
    assert tiled.fraction == 1 and tiled.variant == "batch repeated"


def test_batch_augmentation_mistakes_are_named():
    images, labels = augmentation.batch_augment(BATCH, LABELS, 4, 4, np.random.default_rng(6))
    shared = np.repeat(images[::4], 4, axis=0)
    assert "share one mask" in augment_check([shared, labels]).message
    assert "labels are not" in augment_check([images, labels[::-1]]).message
    assert "copy 2: pixels outside" in augment_check([images, np.tile(LABELS, 4)]).message
    assert "expected 4 x 3 images" in augment_check([images[:6], labels[:6]]).message
    assert "expected (images, labels)" in augment_check(images).message
