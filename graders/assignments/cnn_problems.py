"""dlsp-hw3 Problem 3: CNN arithmetic (AlexNet, VGG19, receptive field, inception modules).

What the grader reads (student_template/dlsp-hw3/hw3.ipynb names everything; answers.toml
may give the same names as numbers). Counts are numbers or text as people write them
(`3.2M`, `62,378,344`, `2.8x`: matched at the precision written, graders/checks/
quantities.py); plain numbers must be exact (within count_atol).

  3.1  p3_1_alexnet_params         8 numbers: conv1..conv5, fc6, fc7, fc8 (pools have none),
                                   or a dict keyed by layer name: conv1..conv5, fc6..fc8 in
                                   any case or punctuation ("CONV1", "Conv 1", "FC-6"), the
                                   fully connected layers also as fc1..fc3 (numbered among
                                   themselves), or layer1..layer8 (the eight layers with
                                   parameters, in order); other keys (pool1, total) are left
                                   out
       p3_1_alexnet_total          number
  3.2  p3_2_vgg19_activations      25 numbers: Table 1's rows, INPUT first
       p3_2_vgg19_weights          25 numbers: Table 1's rows, without biases
       p3_2_vgg19_total_activations, p3_2_vgg19_total_weights   numbers (Table 1's TOTAL)
  3.3  p3_3_receptive_field        sympy expression (or text) in N and F
       p3_3_receptive_field_3x5    number: three stacked 5x5
  3.4  p3_4_naive_output_size, p3_4_reduction_output_size      3 numbers (H, W, C)
       p3_4_naive_ops, p3_4_reduction_ops    4 numbers: branches 1x1, 3x3, 5x5, pool
       p3_4_naive_total_ops, p3_4_reduction_total_ops          numbers
       p3_4_saving                 number: naive / reduction (2.8x), the share saved, or
                                   the difference, as grader.toml's `saving` accepts

Conventions (grader.toml [conventions], NOTES.md): AlexNet two-tower (grouped) or
single-tower, with or without biases (reference.cnn.ALEXNET_VARIANTS); VGG19 memory with or
without the input layer; output sizes as (H, W, C) or (C, H, W); operations as
multiply-accumulates or FLOPs = 2 x MACs; the saving as a ratio, share or difference.
"""

from __future__ import annotations

import numpy as np

from graders.assignment import Problem
from graders.assignments.csc_problems import plain
from graders.assignments.names import graded
from graders.checks.base import Probe
from graders.checks.numeric import ArrayCheck
from graders.checks.reported import Names, NamedArrayCheck
from graders.checks.symbolic import SymbolicCheck
from graders.config import AssignmentConfig
from graders.settings import NONNEGATIVE, number_in
from reference import cnn

TOLERANCES = {
    "count_atol": NONNEGATIVE,
    "ratio_rtol": number_in(0, 0.5, "a relative tolerance in [0, 0.5] for the saving"),
}
#: Operations counted as multiply-accumulates, or FLOPs (a multiply and an add each).
OPERATIONS = {"MACs": 1, "FLOPs": 2}
#: The saving of 3.4(d), by the quantity it is written as.
SAVINGS = ("ratio", "fraction-saved", "difference")
#: Each open convention and its variants (grader.toml's [conventions] picks the accepted).
CONVENTIONS = {
    "alexnet": list(cnn.ALEXNET_VARIANTS),
    "vgg19_memory": ["with-input", "without-input"],
    "output_layout": ["HWC", "CHW"],
    "operations": list(OPERATIONS),
    "saving": list(SAVINGS),
}
#: Layers of AlexNet with parameters, in the order p3_1_alexnet_params lists them.
ALEXNET_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
#: The layer names students key them by (see the module docstring).
ALEXNET_NAMES = Names({layer: (f"layer{i + 1}",) + ((f"fc{i - 4}",) if layer[:2] == "fc" else ())
                       for i, layer in enumerate(ALEXNET_LAYERS)})
#: Inception branches, in the order p3_4_*_ops lists them.
BRANCHES = ("1x1", "3x3", "5x5", "pool")
MODULES = {"naive": "naive", "reduction": "dimension_reduction"}




def value(problem: str, name: str) -> Probe:
    """The probe reading graded name `name` of `problem` ("3.1", "alexnet_total")."""
    return Probe(graded(problem, name), "value", graded(problem, name))


def problems(k: dict, cfg: AssignmentConfig) -> list[Problem]:
    """Problem 3: counts are exact (within count_atol) unless written as text."""
    tol, conv = cfg.tolerances, cfg.conventions

    def count(check_id, title, probe, variants, accepted, per_element=False):
        return ArrayCheck(check_id, title, probe, variants, accepted, rtol=0.0,
                          atol=tol["count_atol"], per_element=per_element)

    alexnet = k["alexnet"]["variants"]
    vgg = k["vgg19"]
    memory = {"with-input": vgg["total_activations"],
              "without-input": vgg["total_activations"] - vgg["activations"][0]}
    inception = {short: k["inception"][name] for short, name in MODULES.items()}

    def layouts(size: list) -> dict:
        h, w, c = size
        return {"HWC": [h, w, c], "CHW": [c, h, w]}

    def ops(module: dict, field: str) -> dict:
        scale = lambda x: np.asarray(x, dtype=float)  # noqa: E731
        macs = ([module["branch_macs"][b] for b in BRANCHES] if field == "branches"
                else module["total_macs"])
        return {unit: scale(macs) * factor for unit, factor in OPERATIONS.items()}

    naive, reduced = (inception[m]["total_macs"] for m in MODULES)
    savings = {"ratio": naive / reduced, "fraction-saved": (naive - reduced) / naive,
               **{f"difference in {unit}": (naive - reduced) * factor
                  for unit, factor in OPERATIONS.items()}}
    saving_accepted = [name for name in savings
                       if name.split(" in ")[0] in conv["saving"]
                       and (" in " not in name or name.split(" in ")[1] in conv["operations"])]

    module_checks = []
    for short in MODULES:
        module_checks.append(count(f"{short}_ops", f"{short} module: operations per branch",
                                   value("3.4", f"{short}_ops"), ops(inception[short], "branches"),
                                   conv["operations"]))
        module_checks.append(count(f"{short}_total_ops", f"{short} module: total operations",
                                   value("3.4", f"{short}_total_ops"),
                                   ops(inception[short], "total"), conv["operations"]))
    return [
        Problem("3.1", "AlexNet parameters per layer and in total", [
            NamedArrayCheck(ALEXNET_NAMES, "per_layer", "parameters of conv1..conv5, fc6..fc8",
                            value("3.1", "alexnet_params"),
                            {v: [d["params"][layer] for layer in ALEXNET_LAYERS]
                             for v, d in alexnet.items()}, conv["alexnet"], rtol=0.0,
                            atol=tol["count_atol"]),
            count("total", "total parameters", value("3.1", "alexnet_total"),
                  {v: d["total"] for v, d in alexnet.items()}, conv["alexnet"]),
        ]),
        Problem("3.2", "VGG19 memory and weights (Table 1)", [
            count("activations", "activations per row of Table 1",
                  value("3.2", "vgg19_activations"), {"table": vgg["activations"]}, ["table"],
                  per_element=True),
            count("weights", "weights per row of Table 1 (no biases)",
                  value("3.2", "vgg19_weights"), {"table": vgg["weights"]}, ["table"],
                  per_element=True),
            count("total_activations", "total activations",
                  value("3.2", "vgg19_total_activations"), memory, conv["vgg19_memory"]),
            count("total_weights", "total weights", value("3.2", "vgg19_total_weights"),
                  {"table": vgg["total_weights"]}, ["table"]),
        ]),
        Problem("3.3", "Receptive field of N stacked F x F convolutions", [
            SymbolicCheck("formula", "receptive field in N and F", value("3.3", "receptive_field"),
                          {"NF - N + 1": plain(k["receptive_field"]["formula"])},
                          ["NF - N + 1"]),
            count("three_5x5", "receptive field of three 5x5",
                  value("3.3", "receptive_field_3x5"), {"value": k["receptive_field"]["n3_f5"]},
                  ["value"]),
        ], manual={"derivation": "Show that N stacked F x F convolutions see NF - N + 1."}),
        Problem("3.4", "Inception modules: output sizes, operations, saving", [
            *(count(f"{short}_output_size", f"{short} module: output size",
                    value("3.4", f"{short}_output_size"),
                    layouts(inception[short]["output_size"]), conv["output_layout"])
              for short in MODULES),
            *module_checks,
            ArrayCheck("saving", "computational saving", value("3.4", "saving"), savings,
                       saving_accepted, rtol=tol["ratio_rtol"], atol=0.0),
        ], manual={
            "idea": "(a) The general idea behind an inception module.",
            "explain": "(d) The problem with the naive module and how dimension reduction "
                       "helps.",
        }),
    ]
