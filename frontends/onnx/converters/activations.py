"""Piecewise-linear activations: Relu, LeakyRelu, PRelu, Clip, HardSigmoid, Abs."""

from __future__ import annotations

import numpy as np

from plnet.frontends.onnx.converters.broadcasting import with_constant
from plnet.frontends.onnx.registry import converter
from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import LeakyReLU, PReLU, ReLU


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
    """A PReLU whose slope is the ONNX slope: any shape that broadcasts (unidirectionally,
    numpy rules, as from opset 7, the oldest plnet reads) to the input's, with its batch
    axis removed."""
    x, slope = with_constant(node, node.tensor(0), node.const(1, "slope"))
    slope_name = node.ctx.param(f"{node.name}.slope", slope)
    return node.ctx.emit(PReLU(slope=slope_name), [x], node.name, x)


def _elementwise(node, build):
    """Run a builder macro on input 0; the result keeps the input's batch axis."""
    x = node.tensor(0)
    out = build(node.ctx.builder, x.node, node.ctx.fresh_name(node.name))
    return Tensor(out, x.batch_axis, x.batch_one)


def _clip(node, lo, hi):
    """``clip(x, lo, hi)`` exactly, as ReLUs (:meth:`plnet.NetworkBuilder.clip`)."""
    if lo is not None and hi is not None and lo > hi:
        raise node.error(f"Clip with min {lo} > max {hi}")
    if lo is None and hi is None:
        return node.tensor(0)
    return _elementwise(node, lambda b, x, name: b.clip(x, lo, hi, name=name))


@converter("HardSigmoid")
def convert_hard_sigmoid(node):
    """``max(0, min(1, alpha x + beta))``: an affine map, then an exact clip."""
    alpha, beta = float(node.attr("alpha", 0.2)), float(node.attr("beta", 0.5))

    def build(b, x, name):
        scaled = b.scale_shift(x, np.array(alpha), np.array(beta), name=f"{name}.affine")
        return b.clip(scaled, 0.0, 1.0, name=name)

    return _elementwise(node, build)


@converter("Abs")
def convert_abs(node):
    """``|x| = relu(x) + relu(-x)``, exactly (:meth:`plnet.NetworkBuilder.abs`)."""
    return _elementwise(node, lambda b, x, name: b.abs(x, name=name))


@converter("Clip", opsets=(1, 10))
def convert_clip_attributes(node):
    lo, hi = node.attr("min"), node.attr("max")
    return _clip(node, None if lo is None else float(lo), None if hi is None else float(hi))


@converter("Clip", opsets=(11, None))
def convert_clip(node):
    lo = node.optional_const(1, "min")
    hi = node.optional_const(2, "max")
    return _clip(node, None if lo is None else float(lo), None if hi is None else float(hi))
