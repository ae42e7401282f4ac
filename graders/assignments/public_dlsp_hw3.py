"""dlsp-hw3's public checks: form and sanity, without the key.

The functions are called on PUBLIC inputs of our own (a 2 x 2 quadratic with torch.optim's
default-like hyperparameters, p = 0.3, an all-ones image, small networks), never the hidden
cases of the assignment's checks; the numbers are checked for count and finiteness only, a
cutout of an all-ones image for holding 0 and 1 only.
"""

from __future__ import annotations

import numpy as np

from graders.checks.public import Expect, call

A, B, W0 = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([1.0, -1.0]), np.zeros(2)
STEPS = 5
HYPER = {"adagrad": {"lr": 0.1, "eps": 1e-8},
         "rmsprop": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
         "rmsprop_nesterov": {"lr": 0.01, "alpha": 0.99, "momentum": 0.9, "eps": 1e-8},
         "adadelta": {"lr": 1.0, "rho": 0.95, "eps": 1e-6},
         "adam": {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}}
IMAGE, SIZE = np.ones((9, 11, 3)), 3
X1, X2 = np.linspace(-400.0, 400.0, 7), np.linspace(300.0, -300.0, 7)
FIVE = ((5,),)  # one number per learner count (p2_learners = [1, 2, 4, 8, 16])


def _numbers(*names: str, shapes=()) -> list[Expect]:
    return [Expect(n, "number" if not shapes else "array", shapes, finite=True) for n in names]


def _present(*names: str) -> list[Expect]:
    """Tables read in many forms (dicts by method or M, lists in the handout's order)."""
    return [Expect(n, "any") for n in names]


PUBLIC = {
    "1.1": [Expect(**call(f"p1_1_{m}", A, B, W0, STEPS, hyper, what="a public 2 x 2 problem",
                          kind="array", shapes=((STEPS + 1, 2), (STEPS, 2)), finite=True))
            for m, hyper in HYPER.items()],
    # the reported tables (graders/checks/reported.py reads their many forms): present
    "1.2": _present("p1_2_train_loss", "p1_2_time_s"),
    "1.3": _present("p1_3_train_loss", "p1_3_time_s"),
    "1.4": [Expect(**call("p1_4_test_weight_scale", 0.3, what="0.3", kind="number",
                          finite=True)), *_present("p1_4_accuracy", "p1_4_accuracy_dropout")],
    "2.1": _numbers("p2_strong_batch_per_worker", "p2_weak_batch_per_worker",
                    "p2_strong_throughput", "p2_weak_throughput", shapes=FIVE),
    "2.2": _numbers("p2_strong_time_s", "p2_weak_time_s", shapes=FIVE),
    "2.3": [*_numbers("p2_price_per_gpu_hour"),
            *_numbers("p2_strong_cost", "p2_weak_cost", shapes=FIVE)],
    "2.4": _numbers("p2_4_weak_efficiency", shapes=FIVE),
    "2.5": _present("p2_5_throughput"),
    "2.6": _present("p2_6_throughput"),
    "3.1": [Expect("p3_1_alexnet_params", "any"),  # 8 numbers, or a dict by layer name
            *_numbers("p3_1_alexnet_total")],
    "3.2": [*_numbers("p3_2_vgg19_activations", "p3_2_vgg19_weights", shapes=((25,),)),
            *_numbers("p3_2_vgg19_total_activations", "p3_2_vgg19_total_weights")],
    "3.3": [Expect("p3_3_receptive_field", "formula"),
            *_numbers("p3_3_receptive_field_3x5")],
    "3.4": [*_numbers("p3_4_naive_output_size", "p3_4_reduction_output_size", shapes=((3,),)),
            *_numbers("p3_4_naive_ops", "p3_4_reduction_ops", shapes=((4,),)),
            *_numbers("p3_4_naive_total_ops", "p3_4_reduction_total_ops", "p3_4_saving")],
    "4.1": [Expect(**call("p4_1_cutout", IMAGE, SIZE, what="an all-ones 9 x 11 x 3 image, 3",
                          kind="array", shapes=((9, 11, 3),), levels=2, bound=1.0))],
    "4.2": _present("p4_2_val_error"),
    "4.3": [Expect(**call("p4_3_batch_augment", IMAGE[None].repeat(2, axis=0), [1, 0], 2, SIZE,
                          what="two all-ones images, m = 2, 3", kind="any")),
            *_present("p4_3_val_error", "p4_3_accuracy", "p4_3_epochs_to_94", "p4_3_time_s")],
    "5.1": [Expect(**call("p5_1_eggholder", X1, X2, what="7 public points", kind="array",
                          shapes=((7,),), finite=True)),
            Expect(**call("p5_1_param_count", [8, 4], what="[8, 4]", kind="number",
                          finite=True)),
            *[Expect(n, "array", finite=True) for n in
              ("p5_1_x_train", "p5_1_y_train", "p5_1_x_test", "p5_1_y_test")],
            *_present("p5_1_rmse", "p5_1_rmse_by_units")],
}
