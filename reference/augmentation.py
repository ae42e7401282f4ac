"""dlsp-hw3 Problem 4: cutout (DeVries & Taylor, 2017) and batch augmentation (Hoffer et al., 2019).

Images are (H, W, C) arrays, batches (B, H, W, C). Randomness comes only from the numpy
Generator passed in, so a seed fixes every mask.

Cutout, as in the authors' code (uoguelph-mlrg/Cutout, util/cutout.py): draw a centre
(cy, cx) uniformly over all H * W pixels, zero the square of side s whose rows are
cy - s//2 ... cy - s//2 + s - 1 (columns likewise), clipped at the border. The centre may lie
near an edge, so the zeroed area is s^2 or less. (The authors' code spans
[c - s//2, c + s//2), one pixel short for odd s; here the side is exactly s. The two agree for
even s, e.g. s = 16 on CIFAR-10.) The authors apply the mask after normalisation, so "zero" is
whatever value the caller's array holds at 0.
"""

import numpy as np
import sympy as sp


def sample_centre(height: int, width: int, rng: np.random.Generator) -> tuple[int, int]:
    """Centre (cy, cx), uniform over all pixels: cy ~ U{0..H-1}, then cx ~ U{0..W-1}."""
    return int(rng.integers(height)), int(rng.integers(width))


def _span(centre: int, size: int, length: int) -> tuple[int, int]:
    """Clipped half-open range [start, stop) of the square along one axis."""
    start = centre - size // 2
    return max(start, 0), min(start + size, length)


def cutout_mask(height: int, width: int, size: int, centre: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask, False on the clipped square of side `size` at `centre`, True elsewhere."""
    (y0, y1), (x0, x1) = _span(centre[0], size, height), _span(centre[1], size, width)
    mask = np.ones((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = False
    return mask


def cutout(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of `img` (H, W, C) with one randomly placed square of side `size` set to 0."""
    height, width = img.shape[:2]
    mask = cutout_mask(height, width, size, sample_centre(height, width, rng))
    return np.where(mask[:, :, None], img, np.zeros((), dtype=img.dtype))


def batch_augment(images: np.ndarray, labels: np.ndarray, m: int, size: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Batch augmentation with cutout: M independently cut-out copies of each of the B samples.

    images (B, H, W, C), labels (B,) -> images (M*B, H, W, C), labels (M*B,). Copies of a sample
    are adjacent (rows i*M ... i*M + M - 1 come from sample i), as Hoffer et al.'s code flattens
    its (B, M, ...) duplicates. Their copies also get the usual crop and flip; only cutout here.
    """
    out = np.stack([cutout(img, size, rng) for img in images for _ in range(m)])
    return out, np.repeat(labels, m)


def expected_cutout_area(height: int, width: int, size: int) -> sp.Rational:
    """Expected number of zeroed pixels, exact, for 1 <= size <= min(H, W).

    The clipped square is a product of two clipped intervals with independent centres, so
    E[area] = E[len_H] * E[len_W]. Along an axis of length L, with a = s//2 pixels before the
    centre and b = s - 1 - a after it, the a centres nearest the start lose a, a-1, ..., 1
    pixels and the b nearest the end lose 1, ..., b (no centre loses on both sides when s <= L):
        E[len] = s - (a(a+1)/2 + b(b+1)/2) / L.
    CIFAR-10 with s = 16: E[len] = 16 - (36 + 28)/32 = 14, E[area] = 196 (of 256 unclipped).
    """
    if not 1 <= size <= min(height, width):
        raise ValueError(f"need 1 <= size <= min(H, W), got size={size} for {height}x{width}")
    a, b = size // 2, size - 1 - size // 2

    def mean_length(length: int) -> sp.Rational:
        return size - sp.Rational(a * (a + 1) + b * (b + 1), 2 * length)

    return mean_length(height) * mean_length(width)


DEFAULT_PARAMS = {
    "seed": 0,
    "image_size": 32,  # CIFAR-10
    "size": 16,  # DeVries & Taylor's cutout size for CIFAR-10
    "example_size": 8,  # small image for the printed example mask
    "example_cutout": 4,
    "batch": 64,
    "m_values": [2, 4, 8, 16, 32],
}


def build_key(params: dict | None = None) -> dict:
    """Answer key for dlsp-hw3 Problem 4; `params` overrides keys of DEFAULT_PARAMS.

    {"cifar": {"image_size", "size", "expected_area" (sympy Rational), "expected_fraction",
               "max_area"},
     "example": {"seed", "image_size", "size", "centre", "mask" ((H, W) bool), "area"},
     "batch_augmentation": {"batch", "m_values", "augmented_batch": M*B per M}}
    The example's centre and mask are those of cutout(ones((n, n, 1)), size, default_rng(seed)).
    """
    p = {**DEFAULT_PARAMS, **(params or {})}
    if unknown := set(p) - set(DEFAULT_PARAMS):
        raise KeyError(f"unknown parameters {sorted(unknown)}")
    n, s = p["image_size"], p["size"]
    area = expected_cutout_area(n, n, s)
    k = p["example_size"]
    centre = sample_centre(k, k, np.random.default_rng(p["seed"]))
    mask = cutout_mask(k, k, p["example_cutout"], centre)
    return {
        "cifar": {"image_size": n, "size": s, "expected_area": area,
                  "expected_fraction": area / n**2, "max_area": s * s},
        "example": {"seed": p["seed"], "image_size": k, "size": p["example_cutout"],
                    "centre": list(centre), "mask": mask, "area": int((~mask).sum())},
        "batch_augmentation": {"batch": p["batch"], "m_values": list(p["m_values"]),
                               "augmented_batch": [m * p["batch"] for m in p["m_values"]]},
    }
