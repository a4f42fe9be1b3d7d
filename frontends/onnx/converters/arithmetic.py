"""Add, Sub, Mul, Div: affine when one side is a constant; Add/Sub of two tensors."""

from __future__ import annotations

import numpy as np

from plnet.errors import InvalidInputError, NotPiecewiseLinearError
from plnet.frontends.onnx.converters import broadcasting
from plnet.frontends.onnx.converters.affine import affine
from plnet.frontends.onnx.registry import converter
from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import Add, ScaleShift


def _negate(node, x: Tensor) -> Tensor:
    ctx = node.ctx
    op = ScaleShift(scale=ctx.param(f"{node.name}.neg", np.array(-1.0)))
    return ctx.emit(op, [x], f"{node.name}.neg", x)


def _sum(node, a: Tensor, b: Tensor) -> Tensor:
    a, b = broadcasting.tensors(node, [a, b])
    return node.ctx.emit(Add(), [a, b], node.name, a)


@converter("Add")
def convert_add(node):
    a, b = node.input(0), node.input(1)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _sum(node, a, b)
    x, c = (a, b) if isinstance(a, Tensor) else (b, a)
    return affine(node, x, shift=c)


@converter("Sub")
def convert_sub(node):
    a, b = node.input(0), node.input(1)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _sum(node, a, _negate(node, b))
    if isinstance(a, Tensor):
        return affine(node, a, shift=-np.asarray(b, dtype=np.float64))
    return affine(node, b, shift=np.asarray(a, dtype=np.float64), negate=True)


@converter("Mul")
def convert_mul(node):
    a, b = node.product_operands()
    x, c = (a, b) if isinstance(a, Tensor) else (b, a)
    return affine(node, x, scale=np.asarray(c, dtype=np.float64))


@converter("Div")
def convert_div(node):
    a, b = node.input(0), node.input(1)
    if isinstance(b, Tensor):
        raise NotPiecewiseLinearError(f"{node.where}: dividing by an input-dependent tensor is "
                                      f"not piecewise linear; the divisor must be a constant")
    b = np.asarray(b, dtype=np.float64)
    if (b == 0).any():
        raise InvalidInputError(f"{node.where}: the constant divisor has zeros")
    return affine(node, a, scale=1.0 / b)


@converter("Sum")
def convert_sum(node):
    """n-ary sum: the tensors added (broadcast), the constants folded into one shift."""
    values = [node.input(i) for i in range(len(node.proto.input))]
    tensors = [v for v in values if isinstance(v, Tensor)]
    constants = [np.asarray(v, np.float64) for v in values if not isinstance(v, Tensor)]
    if len(tensors) > 1:
        tensors = broadcasting.tensors(node, tensors)
        total = node.ctx.emit(Add(), tensors, node.name, tensors[0])
    else:
        total = tensors[0]
    if constants:
        total = affine(node, total, shift=sum(constants[1:], constants[0]))
    return total
