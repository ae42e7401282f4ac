"""dlsp-hw3 Problem 3: CNN architectures (AlexNet, VGG19, receptive fields, inception).

Conventions used throughout (handout text plus NOTES.md):

- Activation shapes are (H, W, C). A conv layer has C_out filters, each F x F x C_in/groups.
- Parameters = weights, plus one bias per output channel/unit where a variant says so.
- Operations = multiply-accumulates (MACs) of the convolutions only; pooling counts 0.
"""

from dataclasses import dataclass

import sympy as sp


# --------------------------------------------------------------------------- layer arithmetic

def conv_output_size(h: int, f: int, s: int = 1, p: int = 0) -> int:
    """Output side of a conv or pooling window:  H_out = (H + 2P - F) / S + 1.

    Raises ValueError when S does not divide H + 2P - F, i.e. the window does not tile the
    padded input exactly (AlexNet conv1 on 224x224 gives 54.25, which is why 227 is used).
    """
    span = h + 2 * p - f
    if span < 0 or span % s:
        raise ValueError(f"(H + 2P - F)/S + 1 = ({h} + 2*{p} - {f})/{s} + 1 is not an integer")
    return span // s + 1


def conv_params(f: int, c_in: int, c_out: int, groups: int = 1, bias: bool = True) -> int:
    """Parameters of a conv layer:  F*F*(C_in/groups)*C_out weights (+ C_out biases)."""
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide C_in={c_in} and C_out={c_out}")
    return f * f * (c_in // groups) * c_out + (c_out if bias else 0)


def conv_macs(h_out: int, w_out: int, f: int, c_in: int, c_out: int, groups: int = 1) -> int:
    """Multiply-accumulates of a conv layer:  H_out*W_out*C_out * F*F*C_in/groups."""
    return h_out * w_out * c_out * f * f * (c_in // groups)


# --------------------------------------------------------------------------- layer tables

@dataclass(frozen=True)
class Conv:
    """F x F convolution with C_out filters, stride S, zero padding P, `groups` channel groups."""
    name: str
    f: int
    c_out: int
    s: int = 1
    p: int = 0
    groups: int = 1


@dataclass(frozen=True)
class Pool:
    """F x F max pooling with stride S and no padding (no parameters)."""
    name: str
    f: int
    s: int


@dataclass(frozen=True)
class FC:
    """Fully connected layer on the flattened H*W*C input: H*W*C*n_out weights + n_out biases."""
    name: str
    n_out: int


@dataclass(frozen=True)
class Row:
    """One line of a layer table: output shape (H, W, C), parameter counts and their calculation."""
    name: str
    shape: tuple[int, int, int]
    weights: int
    biases: int
    calculation: str

    @property
    def activations(self) -> int:
        """Number of activations H*W*C."""
        h, w, c = self.shape
        return h * w * c

    @property
    def params(self) -> int:
        return self.weights + self.biases


def layer_table(input_shape: tuple[int, int, int], layers: list, bias: bool) -> list[Row]:
    """Propagate an (H, W, C) input through `layers`, one Row per layer.

    Conv:  H_out = (H + 2P - F)/S + 1, weights F*F*C_in/groups*C_out, C_out biases.
    Pool:  H_out = (H - F)/S + 1, no parameters.
    FC:    output (1, 1, n_out), weights H*W*C*n_out, n_out biases.
    Biases are counted only when `bias` is True.
    """
    h, w, c = input_shape
    rows = []
    for layer in layers:
        if isinstance(layer, Conv):
            h = conv_output_size(h, layer.f, layer.s, layer.p)
            w = conv_output_size(w, layer.f, layer.s, layer.p)
            weights = conv_params(layer.f, c, layer.c_out, layer.groups, bias=False)
            calculation = f"({layer.f}*{layer.f}*{c // layer.groups})*{layer.c_out}"
            c = n_bias = layer.c_out
        elif isinstance(layer, Pool):
            h = conv_output_size(h, layer.f, layer.s)
            w = conv_output_size(w, layer.f, layer.s)
            weights, n_bias, calculation = 0, 0, "0"
        else:
            weights = h * w * c * layer.n_out
            n_in = f"({h}*{w}*{c})" if h * w > 1 else f"{c}"
            calculation = f"{n_in}*{layer.n_out}"
            h, w, c = 1, 1, layer.n_out
            n_bias = layer.n_out
        n_bias = n_bias if bias else 0
        if n_bias:
            calculation += f" + {n_bias}"
        rows.append(Row(layer.name, (h, w, c), weights, n_bias, calculation))
    return rows


# --------------------------------------------------------------------------- AlexNet

ALEXNET_INPUT = (227, 227, 3)
ALEXNET_INPUT_NOTE = (
    "227x227x3 input without padding: conv1 gives (227 - 11)/4 + 1 = 55. The paper's 224 gives "
    "(224 - 11)/4 + 1 = 54.25, so 224 only works with 2 pixels of padding and a floored division; "
    "227 makes every layer divide exactly: 55 -pool-> 27 -conv2 pad 2-> 27 -pool-> 13 "
    "-conv3..5 pad 1-> 13 -pool-> 6, so fc6 sees 6*6*256 = 9216 inputs."
)
ALEXNET_GROUPS = {"two-gpu-grouped": 2, "single-tower": 1}
ALEXNET_VARIANTS = {
    f"{tower}/{'with' if bias else 'no'}-bias": (tower, bias)
    for tower in ALEXNET_GROUPS
    for bias in (True, False)
}


def alexnet_layers(tower: str) -> list:
    """AlexNet (Krizhevsky et al., Sec. 3.5, Fig. 2) on a 227x227x3 input.

    conv1 96 11x11 s4 -> 55x55x96, max-pool 3x3 s2 -> 27x27x96,
    conv2 256 5x5 p2 -> 27x27x256, max-pool -> 13x13x256,
    conv3 384 3x3 p1, conv4 384 3x3 p1, conv5 256 3x3 p1 -> 13x13x256, max-pool -> 6x6x256,
    fc6 4096, fc7 4096, fc8 1000.
    "two-gpu-grouped": conv2, conv4, conv5 see only their own GPU's half of the previous layer
    (groups=2); conv1 (whole image), conv3 and the FC layers see everything.
    "single-tower": no groups.
    """
    g = ALEXNET_GROUPS[tower]
    return [
        Conv("conv1", 11, 96, s=4),
        Pool("pool1", 3, 2),
        Conv("conv2", 5, 256, p=2, groups=g),
        Pool("pool2", 3, 2),
        Conv("conv3", 3, 384, p=1),
        Conv("conv4", 3, 384, p=1, groups=g),
        Conv("conv5", 3, 256, p=1, groups=g),
        Pool("pool5", 3, 2),
        FC("fc6", 4096),
        FC("fc7", 4096),
        FC("fc8", 1000),
    ]


def alexnet_table(variant: str) -> list[Row]:
    """Per-layer AlexNet table for a variant named in ALEXNET_VARIANTS."""
    tower, bias = ALEXNET_VARIANTS[variant]
    return layer_table(ALEXNET_INPUT, alexnet_layers(tower), bias)


# --------------------------------------------------------------------------- VGG19

VGG19_INPUT = (224, 224, 3)


def vgg19_layers() -> list:
    """VGG19, configuration E of Simonyan et al. (Table 1), named as in the handout's table.

    2x CONV3-64, POOL2, 2x CONV3-128, POOL2, 4x CONV3-256, POOL2, 4x CONV3-512, POOL2,
    4x CONV3-512, POOL2, FC 4096, FC 4096, FC 1000. Convs are 3x3 stride 1 pad 1 (keep H, W);
    pools are 2x2 stride 2 (halve H, W): 224 -> 112 -> 56 -> 28 -> 14 -> 7, fc sees 7*7*512.
    """
    layers = []
    for n_convs, c_out in [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]:
        layers += [Conv(f"CONV3-{c_out}", 3, c_out, p=1)] * n_convs + [Pool("POOL2", 2, 2)]
    return layers + [FC("FC", 4096), FC("FC", 4096), FC("FC", 1000)]


def vgg19_table() -> list[Row]:
    """Handout Table 1: INPUT row, then one Row per layer, weights without biases."""
    input_row = Row("INPUT", VGG19_INPUT, 0, 0, "0")
    return [input_row] + layer_table(VGG19_INPUT, vgg19_layers(), bias=False)


# --------------------------------------------------------------------------- receptive field

N, F = sp.symbols("N F", positive=True, integer=True)


def receptive_field_expr() -> sp.Expr:
    """Receptive field of N stacked F x F stride-1 convs.

    Each layer widens the field by F - 1 pixels: r_0 = 1, r_k = r_{k-1} + (F - 1),
    so r_N = 1 + N(F - 1) = NF - N + 1, the side of one equivalent conv filter.
    """
    k = sp.Symbol("k", integer=True, positive=True)
    return sp.expand(1 + sp.summation(F - 1, (k, 1, N)))


def receptive_field(n: int, f: int) -> int:
    """Receptive field side N*F - N + 1 for given N and F."""
    return int(receptive_field_expr().subs({N: n, F: f}))


# --------------------------------------------------------------------------- inception modules

DEFAULT_PARAMS = {
    "inception": {
        "input_size": [32, 32, 256],
        "naive": {"1x1": 128, "3x3": 192, "5x5": 96},
        "dimension_reduction": {
            "1x1": 128,
            "3x3_reduce": 128,
            "3x3": 192,
            "5x5_reduce": 32,
            "5x5": 96,
            "pool_proj": 64,
        },
    }
}


def inception_branches(kind: str, filters: dict) -> dict[str, list[tuple[str, int, int]]]:
    """Branches of an inception module (NOTES.md Figure 1) as lists of (layer name, F, C_out).

    naive:               1x1 conv | 3x3 conv | 5x5 conv | 3x3 max-pool (passes C_in through)
    dimension_reduction: 1x1 conv | 1x1 reduce -> 3x3 conv | 1x1 reduce -> 5x5 conv
                         | 3x3 max-pool -> 1x1 projection
    The pool branch's max-pool (stride 1, same padding) is not listed: it keeps (H, W, C).
    """
    if kind == "naive":
        return {
            "1x1": [("1x1", 1, filters["1x1"])],
            "3x3": [("3x3", 3, filters["3x3"])],
            "5x5": [("5x5", 5, filters["5x5"])],
            "pool": [],
        }
    return {
        "1x1": [("1x1", 1, filters["1x1"])],
        "3x3": [("3x3_reduce", 1, filters["3x3_reduce"]), ("3x3", 3, filters["3x3"])],
        "5x5": [("5x5_reduce", 1, filters["5x5_reduce"]), ("5x5", 5, filters["5x5"])],
        "pool": [("pool_proj", 1, filters["pool_proj"])],
    }


def inception_module(input_size: list[int], kind: str, filters: dict) -> dict:
    """Output size and convolution MACs of an inception module.

    Every conv is stride 1 with same padding P = (F - 1)/2, so H, W are kept and a conv costs
    H*W*C_out*F*F*C_in MACs; branch outputs are concatenated along channels:
    C_out(module) = sum over branches of the last layer's C_out (C_in for a bare pool branch).
    """
    h, w, c_in = input_size
    layer_macs, branch_macs, channels = {}, {}, 0
    for branch, convs in inception_branches(kind, filters).items():
        c = c_in
        branch_macs[branch] = 0
        for name, f, c_out in convs:
            h_out = conv_output_size(h, f, 1, (f - 1) // 2)
            w_out = conv_output_size(w, f, 1, (f - 1) // 2)
            layer_macs[name] = conv_macs(h_out, w_out, f, c, c_out)
            branch_macs[branch] += layer_macs[name]
            c = c_out
        channels += c
    return {
        "output_size": [h, w, channels],
        "layer_macs": layer_macs,
        "branch_macs": branch_macs,
        "total_macs": sum(branch_macs.values()),
    }


# --------------------------------------------------------------------------- answer key

def _merge(defaults: dict, overrides: dict) -> dict:
    """Recursively override `defaults`; an unknown key is an error (catches typos)."""
    merged = dict(defaults)
    for key, value in overrides.items():
        if key not in defaults:
            raise KeyError(f"unknown parameter {key!r}")
        merged[key] = _merge(defaults[key], value) if isinstance(value, dict) else value
    return merged


def build_key(params: dict | None = None) -> dict:
    """Answer key for dlsp-hw3 Problem 3; `params` overrides parts of DEFAULT_PARAMS.

    {"alexnet": {"input_size", "input_note", "layers", "output_shapes",
                 "variants": {variant: {"params", "calculation", "total"}}},
     "vgg19": {"layers", "activations", "weights", "calculation",
               "total_activations", "total_weights"},
     "receptive_field": {"formula", "n3_f5"},
     "inception": {"params", "naive", "dimension_reduction", "saving"}}
    """
    p = _merge(DEFAULT_PARAMS, params or {})

    single = alexnet_table("single-tower/with-bias")
    variants = {}
    for variant in ALEXNET_VARIANTS:
        rows = alexnet_table(variant)
        variants[variant] = {
            "params": {r.name: r.params for r in rows},
            "calculation": {r.name: r.calculation for r in rows},
            "total": sum(r.params for r in rows),
        }

    vgg = vgg19_table()

    inc = p["inception"]
    naive = inception_module(inc["input_size"], "naive", inc["naive"])
    reduced = inception_module(inc["input_size"], "dimension_reduction",
                               inc["dimension_reduction"])
    saved = naive["total_macs"] - reduced["total_macs"]

    return {
        "alexnet": {
            "input_size": list(ALEXNET_INPUT),
            "input_note": ALEXNET_INPUT_NOTE,
            "layers": [r.name for r in single],
            "output_shapes": {r.name: list(r.shape) for r in single},
            "variants": variants,
        },
        "vgg19": {
            "layers": [r.name for r in vgg],
            "activations": [r.activations for r in vgg],
            "weights": [r.weights for r in vgg],
            "calculation": [r.calculation for r in vgg],
            "total_activations": sum(r.activations for r in vgg),
            "total_weights": sum(r.weights for r in vgg),
        },
        "receptive_field": {"formula": receptive_field_expr(), "n3_f5": receptive_field(3, 5)},
        "inception": {
            "params": inc,
            "naive": naive,
            "dimension_reduction": reduced,
            "saving": {
                "ratio": naive["total_macs"] / reduced["total_macs"],
                "difference": saved,
                "fraction_saved": saved / naive["total_macs"],
            },
        },
    }
