"""Max, Min and Mean of several tensors or constants (numpy broadcasting), and Neg.

Max and Min are exact ReLU macros, like Clip: ``max(a, b) = b + relu(a - b)`` and
``min(a, b) = a - relu(a - b)``; against a constant c, ``max(x, c) = c + relu(x - c)``
and ``min(x, c) = c - relu(c - x)``. Each pair adds one ReLU unit per element.
"""

from __future__ import annotations

import functools

import numpy as np

from plnet.frontends.onnx.converters import broadcasting
from plnet.frontends.onnx.converters.affine import affine
from plnet.frontends.onnx.converters.gathering import negate
from plnet.frontends.onnx.registry import converter
from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import Add, ReLU, ScaleShift


def _operands(node):
    values = [node.input(i) for i in range(len(node.proto.input)) if node.has_input(i)]
    tensors = [v for v in values if isinstance(v, Tensor)]
    constants = [np.asarray(v, np.float64) for v in values if not isinstance(v, Tensor)]
    return tensors, constants


def _extreme(node, largest: bool):
    ctx = node.ctx
    tensors, constants = _operands(node)
    if len(tensors) > 1:
        tensors = broadcasting.tensors(node, tensors)
    out = tensors[0]
    for i, b in enumerate(tensors[1:]):
        hint = f"{node.name}.{i}"
        diff = ctx.emit(Add(), [out, negate(node, b, f"{hint}.neg")], f"{hint}.diff", out)
        gap = ctx.emit(ReLU(), [diff], f"{hint}.relu", diff)
        # max(a, b) = b + relu(a - b); min(a, b) = a - relu(a - b)
        out = ctx.emit(Add(), [b, gap] if largest else [out, negate(node, gap, f"{hint}.sub")],
                       hint, out)
    if constants:
        c = functools.reduce(np.maximum if largest else np.minimum, constants)
        x, c = broadcasting.with_constant(node, out, c)
        sign = 1.0 if largest else -1.0
        # max: c + relu(x - c); min: c - relu(c - x)
        inner = ScaleShift(scale=ctx.param(f"{node.name}.sign", np.array(sign)),
                           shift=ctx.param(f"{node.name}.bound", -sign * c))
        gap = ctx.emit(ReLU(), [ctx.emit(inner, [x], f"{node.name}.gap", x)],
                       f"{node.name}.relu", x)
        outer = ScaleShift(scale=ctx.param(f"{node.name}.sign", np.array(sign)),
                           shift=ctx.param(f"{node.name}.bound", c))
        out = ctx.emit(outer, [gap], node.name, gap)
    return out


@converter("Max")
def convert_max(node):
    return _extreme(node, largest=True)


@converter("Min")
def convert_min(node):
    return _extreme(node, largest=False)


@converter("Mean")
def convert_mean(node):
    ctx = node.ctx
    tensors, constants = _operands(node)
    count = len(tensors) + len(constants)
    if len(tensors) > 1:
        tensors = broadcasting.tensors(node, tensors)
        total = ctx.emit(Add(), tensors, f"{node.name}.sum", tensors[0])
    else:
        total = tensors[0]
    if constants:
        total = affine(node, total, shift=sum(constants[1:], constants[0]))
    return affine(node, total, scale=np.array(1.0 / count))


@converter("Neg")
def convert_neg(node):
    return negate(node, node.tensor(0), node.name)
