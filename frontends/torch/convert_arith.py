"""Arithmetic: residual adds, and elementwise affine maps by constants.

``x + y`` of two traced tensors is an IR add. ``x - c``, ``x / c``, ``x * c``, ``c + x``
with constant tensors or buffers are kept as a pending elementwise affine map (one
scale/shift node once something consumes it), which is how an input normalization
``(x - mean) / std`` written as a layer is lowered. A product or quotient of two traced
tensors is not piecewise linear.
"""

from __future__ import annotations

import operator

import numpy as np
import torch

from plnet.frontends.torch.registry import converts_function, converts_method
from plnet.frontends.torch.values import AffineValue, TensorValue, is_tensor_like, to_numpy


def _affine(lower, value) -> AffineValue:
    if isinstance(value, AffineValue):
        return value
    tv = lower.tensor(value)
    return AffineValue(tv)


def _constant(lower, value, like, what: str) -> np.ndarray:
    """A constant operand, checked to broadcast within the tensor's per-sample shape."""
    c = to_numpy(value)
    shape = lower.shape(like)
    if c.ndim == len(shape) + 1:
        if c.shape[0] != 1:
            raise lower.unsupported(f"the constant {what} has shape {tuple(c.shape)}, which "
                                    f"spans the batch axis; a constant operand must be the "
                                    f"same for every sample (size 1 on the batch axis)")
        c = c[0]
    try:
        ok = c.ndim <= len(shape) and np.broadcast_shapes(c.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise lower.unsupported(f"the constant {what} of shape {tuple(c.shape)} does not "
                                f"broadcast to the tensor's shape [B, *{tuple(shape)}] "
                                f"without enlarging it")
    return c


def _tensor_pair_check(lower, a, b):
    ta, tb = lower.tensor(a), lower.tensor(b)
    if lower.shape(ta) != lower.shape(tb):
        raise lower.unsupported(f"adding tensors of per-sample shapes {lower.shape(ta)} and "
                                f"{lower.shape(tb)}: plnet adds equally shaped tensors only "
                                f"(broadcasting between traced tensors is not supported)")
    return ta, tb


def _operands(lower, *values):
    if not any(is_tensor_like(v) for v in values):
        raise lower.unsupported(f"arithmetic on {values}: shapes and the batch size are only "
                                f"supported as reshape arguments (x.view(x.size(0), -1))")


def _add(lower, node, a, b, alpha=1):
    _operands(lower, a, b)
    if alpha != 1:
        b = _scale(lower, b, alpha)
    if is_tensor_like(a) and is_tensor_like(b):
        ta, tb = _tensor_pair_check(lower, a, b)
        return TensorValue(lower.builder.add(ta.node, tb.node, name=lower.node_name(node)))
    tensor, const = (a, b) if is_tensor_like(a) else (b, a)
    return _affine(lower, tensor).then(shift=_constant(lower, const, _base(tensor), "addend"))


def _scale(lower, value, factor):
    if is_tensor_like(value):
        return _affine(lower, value).then(scale=_constant(lower, factor, _base(value),
                                                          "factor"))
    return value * factor


def _base(value):
    return value.base if isinstance(value, AffineValue) else value


@converts_function(operator.add, operator.iadd, torch.add)
@converts_method("add", "add_")
def convert_add(lower, node, a, b, *, alpha=1, out=None):
    return _add(lower, node, a, b, alpha)


@converts_function(operator.sub, operator.isub, torch.sub, torch.subtract)
@converts_method("sub", "sub_", "subtract")
def convert_sub(lower, node, a, b, *, alpha=1, out=None):
    return _add(lower, node, a, _scale(lower, b, -alpha), 1)


@converts_function(torch.rsub)
@converts_method("rsub")
def convert_rsub(lower, node, a, b, *, alpha=1):
    return _add(lower, node, b, _scale(lower, a, -alpha), 1)


@converts_function(operator.neg, torch.neg, torch.negative)
@converts_method("neg", "negative")
def convert_neg(lower, node, a):
    _operands(lower, a)
    return _scale(lower, a, -1.0)


@converts_function(operator.pos, torch.positive)
@converts_method("positive")
def convert_pos(lower, node, a):
    return a


@converts_function(operator.mul, operator.imul, torch.mul, torch.multiply)
@converts_method("mul", "mul_", "multiply")
def convert_mul(lower, node, a, b, *, out=None):
    _operands(lower, a, b)
    if is_tensor_like(a) and is_tensor_like(b):
        raise lower.not_pl("the product of two tensors that both depend on the input is not "
                           "piecewise linear; only products with constants are supported")
    tensor, const = (a, b) if is_tensor_like(a) else (b, a)
    return _scale(lower, tensor, const)


@converts_function(operator.truediv, operator.itruediv, torch.div, torch.true_divide,
                   torch.divide)
@converts_method("div", "div_", "true_divide", "divide")
def convert_div(lower, node, a, b, *, rounding_mode=None, out=None):
    _operands(lower, a, b)
    if rounding_mode is not None:
        raise lower.not_pl(f"division with rounding_mode={rounding_mode!r} is not "
                           f"piecewise linear")
    if is_tensor_like(b):
        raise lower.not_pl("dividing by a tensor that depends on the input is not piecewise "
                           "linear; only division by constants is supported")
    c = to_numpy(b)
    if (c == 0).any():
        raise lower.unsupported("division by a constant that holds zeros")
    return _scale(lower, a, 1.0 / c)


@converts_function(operator.matmul, torch.matmul, torch.mm, torch.bmm)
@converts_method("matmul", "mm", "bmm", "__matmul__")
def convert_matmul(lower, node, a, b, *, out=None):
    """``x @ W`` with a constant matrix ``W`` is a dense on the last axis."""
    _operands(lower, a, b)
    if is_tensor_like(a) and is_tensor_like(b):
        raise lower.not_pl("the matrix product of two tensors that both depend on the "
                           "input (as in attention) is not piecewise linear; only products "
                           "with a constant matrix are supported")
    if not is_tensor_like(a):
        raise lower.unsupported("a constant matrix times a traced tensor (W @ x) is not "
                                "supported; write x @ W.T or use nn.Linear")
    w = to_numpy(b)
    if w.ndim != 2:
        raise lower.unsupported(f"x @ W with a constant of shape {tuple(w.shape)}: plnet "
                                f"supports a constant matrix (2-d) on the right")
    tv = lower.tensor(a)
    return TensorValue(lower.builder.dense(tv.node, w.T, name=lower.node_name(node)))
