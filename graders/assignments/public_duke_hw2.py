"""duke-hw2's public checks: what a student's self-check tests without the key.

Form and sanity only (graders/checks/public.py): every graded name of the template with its
kind and shape, the sparse lab's histories finite and decreasing (2.x's are shapes only: at
the handout's step size distributed SGD diverges, log L grows and clipped runs reach inf, in
the key as in a right answer), TernGrad's outputs ternary on a PUBLIC
gradient (not one of the hidden cases of duke_hw2.quantizer_cases), the trainers run once on
a public seed. Everything else is hidden: graded after submission.
"""

from __future__ import annotations

import numpy as np

from graders.assignments.public_common import sparse_lab, true_false
from graders.checks.public import Expect, call

#: The handout's 2.2 history: 50 steps, as 51 rows or 50 recorded before or after each step.
SGD = ((51, 3), (50, 3))
#: A public gradient and scaler for the quantiser (nine distinct entries: a quantiser that
#: returns g itself takes nine values, TernGrad at most three: -s, 0, s).
G, S = np.linspace(-2.0, 2.0, 9), 2.0
PUBLIC_SEED = 2026

PUBLIC = {
    **true_false(10),
    "2.1": [Expect("p2_1_W_next", "formula"), Expect("p2_1_W_star_expr", "formula"),
            Expect("p2_1_W_star", "array", ((3,),), finite=True)],
    "2.2": [Expect("p2_2_logL", "array", SGD)],
    "2.3": [Expect(**call("p2_3_terngrad", G, S, what="g = linspace(-2, 2, 9), s = 2",
                          repeat=50, kind="array", shapes=((9,),), levels=3, bound=S)),
            Expect(**call("p2_3_train_terngrad", PUBLIC_SEED, what=f"seed {PUBLIC_SEED}",
                          kind="array", shapes=SGD))],
    "2.4": [Expect("p2_4_logL", "array", SGD, keys=(1, 2, 5, 10))],
    "2.5": [Expect(**call("p2_5_train_clip_terngrad", PUBLIC_SEED, what=f"seed {PUBLIC_SEED}",
                          kind="array", shapes=SGD))],
    **sparse_lab({"gd": "3.1", "prune": "3.2", "l1": "3.3", "proximal": "3.4",
                  "trimmed": "3.5"},
                 {"l1": (0.2, 0.5, 1.0, 2.0), "proximal": (0.004, 0.01, 0.02, 0.04),
                  "trimmed": (0.02, 0.04, 0.1, 0.2)}, "3.6"),
    "4.1": [Expect("p4_1_values", "any"), Expect("p4_1_rel_index", "array", finite=True),
            Expect("p4_1_col_ptr", "array", finite=True)],
    "4.2": [Expect("p4_2_rel_index_bits", "number", finite=True),
            Expect("p4_2_col_ptr_bits", "number", finite=True),
            Expect("p4_2_compression_rate", "number", finite=True)],
    "4.3": [Expect("p4_3_total_bits", "formula"), Expect("p4_3_max_K", "formula")],
}
