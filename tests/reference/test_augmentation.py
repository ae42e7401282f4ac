"""Checks reference/augmentation.py by simulation against exhaustive enumeration of all centres."""

from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from reference import augmentation


def enumerated_areas(height, width, size):
    """Zeroed area for every one of the H*W equally likely centres, counted pixel by pixel."""
    rows, cols = np.arange(height), np.arange(width)
    areas = []
    for cy in range(height):
        for cx in range(width):
            in_rows = (rows >= cy - size // 2) & (rows < cy - size // 2 + size)
            in_cols = (cols >= cx - size // 2) & (cols < cx - size // 2 + size)
            areas.append(int(in_rows.sum() * in_cols.sum()))
    return areas


def simulated_areas(height, width, size, draws, seed):
    rng, img = np.random.default_rng(seed), np.ones((height, width, 3))
    return np.array([(augmentation.cutout(img, size, rng)[:, :, 0] == 0).sum() for _ in range(draws)])


@pytest.mark.parametrize("height,width,size", [(32, 32, 16), (8, 8, 3), (6, 9, 4), (5, 7, 5), (4, 4, 1)])
def test_expected_area_equals_enumeration(height, width, size):
    areas = enumerated_areas(height, width, size)
    expected = augmentation.expected_cutout_area(height, width, size)
    assert Fraction(int(expected.p), int(expected.q)) == Fraction(sum(areas), len(areas))


def test_cifar_expected_area_by_hand():
    # a = 8, b = 7 along each axis: E[len] = 16 - (8*9/2 + 7*8/2) / 32 = 16 - 2 = 14
    assert augmentation.expected_cutout_area(32, 32, 16) == 196


def test_expected_area_rejects_oversized_square():
    with pytest.raises(ValueError):
        augmentation.expected_cutout_area(8, 8, 9)


@pytest.mark.parametrize("height,width,size", [(8, 8, 4), (6, 9, 3)])
def test_area_distribution_matches_enumeration(height, width, size):
    """Chi-square of simulated areas against the enumerated distribution (fixed seed, loose bound)."""
    draws = 20_000
    exact = Counter(enumerated_areas(height, width, size))
    seen = Counter(simulated_areas(height, width, size, draws, seed=1).tolist())
    assert set(seen) <= set(exact)
    n_cells = height * width
    chi2 = sum((seen[a] - draws * c / n_cells) ** 2 / (draws * c / n_cells) for a, c in exact.items())
    assert chi2 < 3 * len(exact) + 30  # ~ chi-square with len(exact) - 1 degrees of freedom
    mean = float(augmentation.expected_cutout_area(height, width, size))
    assert simulated_areas(height, width, size, draws, seed=2).mean() == pytest.approx(mean, rel=0.01)


def test_centre_is_uniform_over_all_pixels():
    """With size 1 the zeroed pixel is the centre itself; its position should be uniform."""
    height, width, draws = 4, 5, 10_000
    rng, img = np.random.default_rng(3), np.ones((height, width, 1))
    counts = np.zeros((height, width))
    for _ in range(draws):
        counts += augmentation.cutout(img, 1, rng)[:, :, 0] == 0
    expected = draws / (height * width)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert counts.sum() == draws and chi2 < 50  # 19 dof: P(chi2 > 50) ~ 1e-4


def test_cutout_uses_sample_centre_and_mask():
    img = np.random.default_rng(4).random((10, 12, 3)).astype(np.float32)
    centre = augmentation.sample_centre(10, 12, np.random.default_rng(5))
    mask = augmentation.cutout_mask(10, 12, 6, centre)
    out = augmentation.cutout(img, 6, np.random.default_rng(5))
    assert out.dtype == img.dtype and out.shape == img.shape
    np.testing.assert_array_equal(out, img * mask[:, :, None])


def test_mask_is_clipped_square():
    mask = augmentation.cutout_mask(8, 8, 4, (0, 7))  # rows -2..1, cols 5..8 -> rows 0..1, cols 5..7
    expected = np.ones((8, 8), bool)
    expected[0:2, 5:8] = False
    np.testing.assert_array_equal(mask, expected)
    assert (~augmentation.cutout_mask(8, 8, 3, (4, 4))).sum() == 9  # odd side is exact


def test_cutout_leaves_input_untouched():
    img = np.ones((6, 6, 3))
    augmentation.cutout(img, 4, np.random.default_rng(0))
    assert (img == 1).all()


def test_batch_augment():
    b, m, size = 5, 4, 3
    images = np.random.default_rng(6).random((b, 8, 8, 3)) + 1  # all entries >= 1, so zeros are cut
    labels = np.arange(b) * 10
    originals = images.copy()
    out, out_labels = augmentation.batch_augment(images, labels, m, size, np.random.default_rng(7))
    assert out.shape == (m * b, 8, 8, 3)
    np.testing.assert_array_equal(out_labels, np.repeat(labels, m))
    np.testing.assert_array_equal(images, originals)
    for i, copy in enumerate(out):
        kept = copy[:, :, 0] != 0
        np.testing.assert_array_equal(copy[kept], originals[i // m][kept])
        assert 1 <= (~kept).sum() <= size * size
    masks = [tuple((c[:, :, 0] == 0).ravel()) for c in out]
    assert len(set(masks)) > b  # copies of one sample get independent masks


def test_seed_determines_output():
    images, labels = np.ones((3, 8, 8, 1)), np.arange(3)
    first = augmentation.batch_augment(images, labels, 2, 4, np.random.default_rng(11))[0]
    again = augmentation.batch_augment(images, labels, 2, 4, np.random.default_rng(11))[0]
    np.testing.assert_array_equal(first, again)


def test_key():
    key = augmentation.build_key()
    assert key["cifar"]["expected_area"] == 196 and key["cifar"]["max_area"] == 256
    assert key["batch_augmentation"]["augmented_batch"] == [128, 256, 512, 1024, 2048]
    ex = key["example"]
    out = augmentation.cutout(np.ones((ex["image_size"],) * 2 + (1,)), ex["size"],
                              np.random.default_rng(ex["seed"]))
    np.testing.assert_array_equal(out[:, :, 0] != 0, ex["mask"])
    assert ex["area"] == (~ex["mask"]).sum()
