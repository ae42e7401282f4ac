"""dlsp-hw3 Problem 4.1: the student's cutout, drawn many times on a hidden image.

What the grader reads (student_template/dlsp-hw3/hw3.ipynb names it):

  4.1  p4_1_cutout(img, size) -> array like img: img (H, W, C) with one square of side
       `size` set to 0 at a centre drawn uniformly over all pixels, clipped at the border
       (DeVries & Taylor, Sec. 3; reference/augmentation.py). Use numpy's or torch's global
       RNG, or your own generator: the grader seeds the globals once and draws many times.
  4.3  p4_3_batch_augment(images, labels, m, size) -> (images, labels): images (B, H, W, C),
       labels (B,) -> m cut-out copies of each sample (m B, H, W, C) and their labels (m B,)

graders/checks/masks.py says what each draw must be and how the centres are tested.
"""

from __future__ import annotations

import numpy as np

from graders.assignments.names import graded
from graders.checks.base import Check, Probe
from graders.checks.masks import BatchAugmentCheck, CutoutCheck
from graders.config import AssignmentConfig
from graders.settings import Setting
from graders.wire import encode_array

TOLERANCES = {
    "cutout_draws": Setting("int", minimum=200, maximum=20_000,
                            help="calls of the student's cutout, 200 to 20000"),
    "statistical_false_failure": Setting("number", above=0, maximum=0.01,
                                         help="a false-failure rate in (0, 0.01]"),
}
CONVENTIONS: dict[str, list[str]] = {}
#: The hidden image: no zero entry (a zeroed pixel is then unambiguous), sides of two sizes;
#: the hidden batch: B = 3 such images with distinct labels, M = 4 copies each.
SEED, SHAPE, SIZE, BATCH, COPIES = 2020, (10, 12, 2), 4, 3, 4


def problems(cfg: AssignmentConfig) -> dict[str, list[Check]]:
    """Problem 4.1's cutout check and 4.3's batch augmentation, by problem id."""
    tol = cfg.tolerances
    img = np.random.default_rng(SEED).uniform(0.1, 1.0, SHAPE)
    name = graded("4.1", "cutout")
    probe = Probe(f"{name}(img, {SIZE})", "call", name, (encode_array(img), SIZE),
                  repeat=int(tol["cutout_draws"]), seed=SEED)
    rng = np.random.default_rng(SEED + 1)
    images, labels = rng.uniform(0.1, 1.0, (BATCH, *SHAPE)), np.array([7, 2, 5])
    augment = graded("4.3", "batch_augment")
    batch = Probe(f"{augment}(images, labels, {COPIES}, {SIZE})", "call", augment,
                  (encode_array(images), labels.tolist(), COPIES, SIZE), seed=SEED)
    return {"4.1": [CutoutCheck("cutout", f"cutout of side {SIZE}, drawn many times", probe,
                                img, SIZE, tol["statistical_false_failure"])],
            "4.3": [BatchAugmentCheck("batch_augment", f"{COPIES} cut-out copies of each "
                                      "sample", batch, images, labels, COPIES, SIZE)]}
