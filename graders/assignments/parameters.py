"""What each parameter of each reference topic must be: grader.toml's [assignments.ID.key.TOPIC].

An answer key is computed by reference/TOPIC.py's `build_key(params)`; an instructor may set
its parameters in grader.toml. These are their types and ranges (graders/settings.py), checked
before any key is built: a typo, a string where a number goes, or a value that would silently
change every mark (steps = 0, a negative learning rate) is refused with the key and the fix.
`TOPICS[topic]` lists every parameter the topic's build_key reads (a test keeps the two in
step with the reference modules' defaults).
"""

from __future__ import annotations

from graders.settings import (NONNEGATIVE, SEED, Setting, int_at_least, number_above,
                              number_in)
from reference.true_false import IDS

POSITIVE = number_above(0, "a number greater than 0")
NUMBER = Setting("number", help="a number")


def positive_list(help: str) -> Setting:
    return Setting("list", items=POSITIVE, length=(1, 100), help=help)


def int_list(low: int, help: str) -> Setting:
    return Setting("list", items=int_at_least(low), length=(1, 100), help=help)


DISTRIBUTED = {
    "lr": Setting("number", above=0, maximum=10, help="the server's learning rate lambda > 0"),
    "steps": Setting("int", minimum=1, maximum=10_000, help="training steps, at least 1"),
    "clip_T": positive_list("the clipping thresholds T of 2.4, each > 0"),
    "clip_terngrad_T": number_above(0, "the clipping threshold of 2.5, > 0"),
    "envelope_runs": Setting("int", minimum=100, maximum=100_000,
                             help="reference TernGrad runs behind the band of the plots, at "
                                  "least 100"),
    "seed": SEED,
}

ROW = Setting("list", items=NUMBER, length=(1, 64))
SPARSE = {
    "X": Setting("list", items=ROW, length=(1, 64), help="the data rows x_i (a list of lists)"),
    "y": Setting("list", items=NUMBER, length=(1, 64), help="the targets y_i"),
    "mu": Setting("number", above=0, maximum=10, help="the learning rate mu > 0"),
    "steps": Setting("int", minimum=1, maximum=100_000, help="descent steps, at least 1"),
    "keep": int_at_least(1, "weights kept by pruning, at least 1"),
    "n_trim": int_at_least(1, "weights trimmed L1 penalises, at least 1"),
    "l1_lams": positive_list("the L1 strengths lambda, each > 0"),
    "proximal_thresholds": positive_list("the soft thresholds, each > 0"),
    "trimmed_thresholds": positive_list("the trimmed-L1 thresholds, each > 0"),
    "sign0_variants": Setting("list", items=number_in(-1, 1), length=(1, 3),
                              help="values of sign(0) to hold as variants, in [-1, 1]"),
    "ties_variants": Setting("list", items=Setting("string", choices=("lowest-index",
                                                                     "highest-index")),
                             length=(1, 2), help="lowest-index and/or highest-index"),
    "trim_on_variants": Setting("list", items=Setting("string", choices=("after-step",
                                                                        "before-step")),
                                length=(1, 2), help="after-step and/or before-step"),
    "zero_tol": NONNEGATIVE,
    "optimal_tol": NONNEGATIVE,
    "two_point_rows": int_at_least(1, "the data points of the two-point variant, at least 1"),
}

CSC = {
    "index_bits": Setting("int", minimum=1, maximum=16, help="bits of a relative row index"),
    "value_bits": Setting("int", minimum=1, maximum=64, help="bits of a stored value"),
    "q43_bits": Setting("int", minimum=1, maximum=64, help="bits in 4.3"),
    "q43_examples": Setting("list", items=Setting("list", items=int_at_least(1), length=(2, 2)),
                            length=(1, 20), help="(M, N) pairs to evaluate 4.3 at"),
}

TRUE_FALSE = {statement: Setting("bool", help="true or false") for statement in IDS}

QUANTIZATION = {
    "seed": SEED,
    "shape": Setting("list", items=int_at_least(1), length=(1, 4),
                     help="the example tensor's shape, e.g. [4, 4]"),
    "bits": Setting("list", length=(1, 16), help="bit widths (null for float, 0, 1..16)"),
}

QUANTIZATION_RUNS = {
    "data": Setting("string", choices=("digits", "cifar10"),
                    help="the reference runs' data: digits (shipped) or cifar10"),
    "cifar10_path": Setting("string", help="the CIFAR-10 python batches' folder (cifar10)"),
    "schedule": Setting("string", choices=("full", "quick"),
                        help="full, or quick (every row, fewer epochs) on digits"),
    "seed": SEED,
}

FILTERS = Setting("int", minimum=1, maximum=4096, help="a filter count, at least 1")
CNN = {
    "inception": Setting("table", fields={
        "input_size": Setting("list", items=int_at_least(1), length=(3, 3),
                              help="[H, W, C] of the module's input"),
        "naive": Setting("table", fields={name: FILTERS for name in ("1x1", "3x3", "5x5")}),
        "dimension_reduction": Setting("table", fields={
            name: FILTERS for name in ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5",
                                       "pool_proj")}),
    }),
}

ADAPTIVE = {
    "A": Setting("list", items=ROW, length=(1, 16), help="the quadratic's matrix A"),
    "b": Setting("list", items=NUMBER, length=(1, 16), help="the quadratic's vector b"),
    "w0": Setting("list", items=NUMBER, length=(1, 16), help="the starting point"),
    "steps": Setting("int", minimum=1, maximum=1000, help="update steps, at least 1"),
    "hyper": Setting("table", help="per-method hyperparameters, e.g. {adam = {lr = 0.1}}"),
    "p_drop": Setting("table", fields={name: number_in(0, 0.999, "a drop probability in "
                                                                 "[0, 1)")
                                       for name in ("input", "hidden")}),
}

SCALING = {
    "n_workers": int_list(1, "learner counts, each >= 1"),
    "batch": int_at_least(1, "the effective batch, at least 1"),
    "weak_batch_text_example": int_at_least(1, "a batch size, at least 1"),
    "epochs": int_at_least(1, "epochs, at least 1"),
    "dataset_size": int_at_least(1, "training samples, at least 1"),
    "price_per_gpu_hour": NONNEGATIVE,
    "example_time_s": Setting("table", fields={mode: positive_list("times in seconds, > 0")
                                               for mode in ("strong", "weak")}),
}

AUGMENTATION = {
    "seed": SEED,
    "image_size": int_at_least(1, "pixels, at least 1"),
    "size": int_at_least(1, "the cutout side, at least 1"),
    "example_size": int_at_least(1, "pixels, at least 1"),
    "example_cutout": int_at_least(1, "the cutout side, at least 1"),
    "batch": int_at_least(1, "the batch size, at least 1"),
    "m_values": int_list(1, "the batch-augmentation factors M, each >= 1"),
}

DEPTH_WIDTH = {
    "n": Setting("int", minimum=10, maximum=10_000_000, help="data points, at least 10"),
    "seed": SEED,
    "noise_std": NONNEGATIVE,
    "train_fraction": Setting("number", above=0, maximum=0.99, help="a share in (0, 0.99]"),
    "widths": int_list(1, "hidden-layer widths, each >= 1"),
    "budget": int_at_least(1, "the hidden-unit budget, at least 1"),
    "depths": int_list(1, "hidden-layer counts, each >= 1"),
}

TOPICS = {"distributed": DISTRIBUTED, "sparse": SPARSE, "csc": CSC, "true_false": TRUE_FALSE,
          "quantization": QUANTIZATION, "quantization_runs": QUANTIZATION_RUNS, "cnn": CNN, "adaptive": ADAPTIVE, "scaling": SCALING,
          "augmentation": AUGMENTATION, "depth_width": DEPTH_WIDTH}
