"""dlsp-hw3 Problem 4.1: the student's cutout, drawn many times on a hidden image.

What the grader reads (student_template/dlsp-hw3/hw3.ipynb names it):

  4.1  p4_1_cutout(img, size) -> array like img: img (H, W, C) with one square of side
       `size` set to 0 at a centre drawn uniformly over all pixels, clipped at the border
       (DeVries & Taylor, Sec. 3; reference/augmentation.py). Use numpy's or torch's global
       RNG, or your own generator: the grader seeds the globals once and draws many times.
  4.2  p4_2_val_error   validation error per epoch (list), at most 100 epochs: in percent
       (0-100) or as a fraction (0-1), named
  4.3  p4_3_batch_augment(images, labels, m, size) -> (images, labels): images (B, H, W, C),
       labels (B,) -> m cut-out copies of each sample (m B, H, W, C) and their labels (m B,)
       p4_3_val_error     {M: validation error per epoch} for M = 2, 4, 8, 16, 32 (keyed
                          2, "2", "M=2", or a list in that order)
       p4_3_epochs_to_94  {M: the first epoch with accuracy >= 94%}, None (or "not reached")
                          where 100 epochs did not get there
       p4_3_accuracy      {M: accuracy at the end of training (when 94% was reached, or
                          after 100 epochs)}
       p4_3_time_s        {M: wall-clock seconds to 94%, or for the 100 epochs}

graders/checks/masks.py says what each draw must be and how the centres are tested;
graders/checks/curves.py what is checked of the curves (at most 101 points, falling) and of
the table (consistent with the student's own curves). The comparisons are manual.
"""

from __future__ import annotations

import numpy as np

from graders.assignments.names import graded
from graders.checks.base import Check, Probe
from graders.checks.curves import curves, epochs_to_reach, final_values
from graders.checks.masks import BatchAugmentCheck, CutoutCheck
from graders.checks.reported import Counts, ReportedCheck, positive
from graders.config import AssignmentConfig
from graders.settings import Setting
from graders.wire import encode_array

#: The chance that an honest cutout (4.1) or data set (5.1) fails its statistical test.
FALSE_FAILURE = Setting("number", above=0, maximum=0.01, help="a false-failure rate in (0, 0.01]")
TOLERANCES = {
    "cutout_draws": Setting("int", minimum=200, maximum=20_000,
                            help="calls of the student's cutout, 200 to 20000"),
    "statistical_false_failure": FALSE_FAILURE,
}
CONVENTIONS: dict[str, list[str]] = {}
#: The hidden image: no zero entry (a zeroed pixel is then unambiguous), sides of two sizes;
#: the hidden batch: B = 3 such images with distinct labels, M = 4 copies each.
SEED, SHAPE, SIZE, BATCH, COPIES = 2020, (10, 12, 2), 4, 3, 4
#: 4.3's values of M; at most 100 epochs (101 points with epoch 0); the target accuracy; how
#: far a reported final accuracy may be from 100% minus the curve's last error (rounding).
M_VALUES = Counts((2, 4, 8, 16, 32), "M")
MAX_EPOCHS, TARGET_ACCURACY, ACCURACY_ATOL = 100, 94.0, 0.5
LENGTHS = range(2, MAX_EPOCHS + 2)


def value(problem: str, name: str) -> Probe:
    return Probe(graded(problem, name), "value", graded(problem, name))


def reported() -> dict[str, list[Check]]:
    """4.2's curve; 4.3's curves, epochs-to-94% table, final accuracies and times."""
    error = value("4.3", "val_error")
    by_m = (M_VALUES,)
    table = {
        "curves": ReportedCheck("curves", "validation error per epoch for each M",
                                [(error, by_m)], curves("validation error by M", by_m, LENGTHS,
                                                        "error", percent_or_fraction=True)),
        "epochs_to_94": ReportedCheck(
            "epochs_to_94", "epochs to 94% accuracy, from your curves",
            [(error, by_m), (value("4.3", "epochs_to_94"), by_m)],
            epochs_to_reach("epochs to 94%", by_m, 100 - TARGET_ACCURACY, MAX_EPOCHS,
                            LENGTHS),
            missing_ok=frozenset({graded("4.3", "epochs_to_94")})),
        "accuracy": ReportedCheck(
            "accuracy", "final accuracy, from your curves",
            [(error, by_m), (value("4.3", "accuracy"), by_m)],
            final_values("final accuracy", by_m, ACCURACY_ATOL, LENGTHS)),
        "times": ReportedCheck("times", "wall-clock time for each M",
                               [(value("4.3", "time_s"), by_m)],
                               positive("wall-clock time", by_m)),
    }
    curve = ReportedCheck("curve", "validation error per epoch, batch size 64",
                          [(value("4.2", "val_error"), ())],
                          curves("validation error, batch 64", (), LENGTHS, "error",
                                 percent_or_fraction=True))
    return {"4.2": [curve], "4.3": list(table.values())}


def problems(cfg: AssignmentConfig) -> dict[str, list[Check]]:
    """Problem 4's checks by problem id: 4.1's cutout, 4.2's curve, 4.3's batch
    augmentation, curves and table."""
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
    curves_and_tables = reported()
    return {"4.1": [CutoutCheck("cutout", f"cutout of side {SIZE}, drawn many times", probe,
                                img, SIZE, tol["statistical_false_failure"])],
            "4.2": curves_and_tables["4.2"],
            "4.3": [BatchAugmentCheck("batch_augment", f"{COPIES} cut-out copies of each "
                                      "sample", batch, images, labels, COPIES, SIZE),
                    *curves_and_tables["4.3"]]}
