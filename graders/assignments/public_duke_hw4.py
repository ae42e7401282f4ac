"""duke-hw4's public checks (True/False, Lab 1, Lab 2): form and sanity, without the key.

Lab 2's STE is called on a public tensor of our own (24 values from -1 to 2, never the hidden
cases of graders/checks/ste.py) at 2 and 3 bits: its outputs may take at most 2**b values,
within the input's range. The accuracy tables must be dicts, the average precisions numbers.
"""

from __future__ import annotations

import numpy as np

from graders.assignments.public_common import sparse_lab, true_false
from graders.checks.public import Expect, call

W = np.linspace(-1.0, 2.0, 24).reshape(4, 6)  # a public weight tensor, range [-1, 2]

PUBLIC = {
    **true_false(10),
    "L1.a": [Expect("lab1_a_W_next", "formula")],
    **sparse_lab({"gd": "L1.b", "prune": "L1.c", "l1": "L1.d", "proximal": "L1.e",
                  "trimmed": "L1.f"},
                 {"l1": (0.2, 0.5, 1.0, 2.0), "proximal": (0.004, 0.01, 0.02, 0.04),
                  "trimmed": (0.02, 0.04, 0.1, 0.2)}, "L1.g"),
    "L2.a": [Expect(**call("FP_layers.STE.apply", W, bits, what=f"a public 4 x 6 tensor, {bits} bits",
                           kind="array", shapes=((4, 6),), finite=True, levels=2 ** bits,
                           bound=2.0, tensor=True)) for bits in (2, 3)],
    "L2.b": [Expect("lab2_b_accuracy", "dict")],
    "L2.c": [Expect("lab2_c_finetuned", "dict")],
    "L2.d": [Expect("lab2_d_before", "dict"), Expect("lab2_d_after", "dict")],
    "L2.e": [Expect(f"lab2_e_bits_{scheme}", "number", finite=True)
             for scheme in ("442", "424", "244")],
}
