"""Piecewise-linear activations: Relu, LeakyRelu, PRelu (scalar slope), Clip."""

from __future__ import annotations

import numpy as np

from plnet.frontends.onnx.registry import converter
from plnet.ops import Add, LeakyReLU, ReLU, ScaleShift


@converter("Relu")
def convert_relu(node):
    x = node.tensor(0)
    return node.ctx.emit(ReLU(), [x], node.name, x)


@converter("LeakyRelu")
def convert_leaky_relu(node):
    x = node.tensor(0)
    return node.ctx.emit(LeakyReLU(alpha=float(node.attr("alpha", 0.01))), [x], node.name, x)


@converter("PRelu")
def convert_prelu(node):
    x = node.tensor(0)
    slope = node.const(1, "slope")
    if np.unique(slope).size != 1:
        raise node.error(f"PRelu with a per-channel slope (shape {slope.shape}) has no single "
                         f"IR op; only a scalar slope (LeakyRelu) is supported")
    return node.ctx.emit(LeakyReLU(alpha=float(slope.flat[0])), [x], node.name, x)


def _shift(node, x, hint, shift=None, scale=None):
    ctx = node.ctx
    op = ScaleShift(scale=None if scale is None else ctx.param(f"{hint}.scale", scale),
                    shift=None if shift is None else ctx.param(f"{hint}.shift", shift))
    return ctx.emit(op, [x], hint, x)


def _clip(node, lo, hi):
    """``clip(x, lo, hi) = lo + relu(x - lo) - relu(x - hi)``: exact, two units per element."""
    ctx = node.ctx
    x = node.tensor(0)
    if lo is not None and hi is not None and lo > hi:
        raise node.error(f"Clip with min {lo} > max {hi}")
    if lo is None and hi is None:
        return x
    if lo is None:  # hi - relu(hi - x)
        r = ctx.emit(ReLU(), [_shift(node, x, f"{node.name}.hi", shift=hi, scale=-1.0)],
                     f"{node.name}.relu_hi", x)
        return _shift(node, r, node.name, shift=hi, scale=-1.0)
    low = ctx.emit(ReLU(), [_shift(node, x, f"{node.name}.lo", shift=-lo)],
                   f"{node.name}.relu_lo", x)
    if hi is None:
        return _shift(node, low, node.name, shift=lo)
    high = ctx.emit(ReLU(), [_shift(node, x, f"{node.name}.hi", shift=-hi)],
                    f"{node.name}.relu_hi", x)
    diff = ctx.emit(Add(), [low, _shift(node, high, f"{node.name}.neg", scale=-1.0)],
                    f"{node.name}.sum", x)
    return _shift(node, diff, node.name, shift=lo)


@converter("Clip", opsets=(1, 10))
def convert_clip_attributes(node):
    lo, hi = node.attr("min"), node.attr("max")
    return _clip(node, None if lo is None else float(lo), None if hi is None else float(hi))


@converter("Clip", opsets=(11, None))
def convert_clip(node):
    lo = node.optional_const(1, "min")
    hi = node.optional_const(2, "max")
    return _clip(node, None if lo is None else float(lo), None if hi is None else float(hi))
