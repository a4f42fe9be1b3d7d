"""Reductions over per-sample axes (``mean``, ``sum``, ``amax``, ``amin``, ``max``/``min``
along a dim) and the elementwise ``maximum``/``minimum``.

A mean or sum is one dense with a constant row on the reduced axes (moved last and merged);
a maximum is one max pool over them, a minimum the same on the negated input; the
elementwise maximum of two tensors is ``b + relu(a - b)``. All exact.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from plnet.frontends.torch.axis_maps import max_over_windows
from plnet.frontends.torch.convert_arith import _constant
from plnet.frontends.torch.registry import converts_function, converts_method
from plnet.frontends.torch.values import TensorValue, is_tensor_like


def _axes(lower, tv, dim, what):
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        raise lower.unsupported(f"{what} over every axis includes the batch axis; plnet "
                                f"networks act on each sample separately: give the "
                                f"per-sample dims (e.g. dim=(1, 2, 3))")
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    return sorted({lower.per_sample_axis(tv, d) for d in dims})


def _reduce(lower, node, x, dim, keepdim, what, reduce_rows):
    """Move the reduced axes last, merge them, reduce them with ``reduce_rows(node, name)``
    (which maps [..., N] to [..., 1]) and reshape to torch's result shape."""
    tv = lower.tensor(x)
    b = lower.builder
    shape = b.shape(tv.node)
    axes = _axes(lower, tv, dim, what)
    kept = [a for a in range(len(shape)) if a not in axes]
    name = lower.node_name(node)
    cur = tv.node
    if kept + axes != list(range(len(shape))):
        cur = b.transpose(cur, kept + axes, name=lower.fresh(f"{name}.to_last"))
    merged = [shape[a] for a in kept] + [math.prod(shape[a] for a in axes)]
    if list(b.shape(cur)) != merged:
        cur = b.reshape(cur, merged, name=lower.fresh(f"{name}.merge"))
    cur = reduce_rows(cur, name)
    final = [1 if a in axes else n for a, n in enumerate(shape)] if keepdim \
        else [shape[a] for a in kept]
    if not final:
        raise lower.unsupported(f"{what} over every per-sample axis without keepdim leaves "
                                f"one number per sample; plnet tensors have at least one "
                                f"per-sample axis: use keepdim=True")
    if list(b.shape(cur)) != final:
        cur = b.reshape(cur, final, name=lower.fresh(name))
    return TensorValue(cur)


def _linear_reduce(lower, node, x, dim, keepdim, weight, what):
    def reduce_rows(cur, name):
        n = lower.builder.shape(cur)[-1]
        row = np.full((1, n), weight(n))
        return lower.builder.dense(cur, row, name=lower.fresh(f"{name}.{what}"))

    return _reduce(lower, node, x, dim, keepdim, what, reduce_rows)


def _negate(lower, node, name):
    return lower.builder.scale_shift(node, np.array(-1.0), name=lower.fresh(name))


def _max_reduce(lower, node, x, dim, keepdim, what, sign=1):
    def reduce_rows(cur, name):
        n = lower.builder.shape(cur)[-1]
        if sign < 0:
            cur = _negate(lower, cur, f"{name}.neg")
        cur = max_over_windows(lower, cur, len(lower.builder.shape(cur)) - 1, [(0, n)],
                               f"{name}.{what}")
        return _negate(lower, cur, f"{name}.min") if sign < 0 else cur

    return _reduce(lower, node, x, dim, keepdim, what, reduce_rows)


@converts_function(torch.mean)
@converts_method("mean")
def convert_mean(lower, node, x, dim=None, keepdim=False, *, dtype=None):
    return _linear_reduce(lower, node, x, dim, keepdim, lambda n: 1.0 / n, "mean")


@converts_function(torch.sum)
@converts_method("sum")
def convert_sum(lower, node, x, dim=None, keepdim=False, *, dtype=None):
    return _linear_reduce(lower, node, x, dim, keepdim, lambda n: 1.0, "sum")


@converts_function(torch.amax)
@converts_method("amax")
def convert_amax(lower, node, x, dim=(), keepdim=False):
    return _max_reduce(lower, node, x, dim, keepdim, "amax")


@converts_function(torch.amin)
@converts_method("amin")
def convert_amin(lower, node, x, dim=(), keepdim=False):
    return _max_reduce(lower, node, x, dim, keepdim, "amin", sign=-1)


def _refuse_used_indices(lower, node, what):
    """``torch.max(x, dim)`` returns (values, indices); plnet lowers the values only."""
    import operator

    for user in node.users:
        is_values = (user.op == "call_function" and user.target is operator.getitem
                     and user.args[1] == 0) or \
            (user.op == "call_function" and user.target is getattr and user.args[1] == "values")
        if not is_values and user.users:
            raise lower.unsupported(f"the indices of {what}(x, dim) (used by node "
                                    f"{user.name!r}) are not piecewise linear in the input; "
                                    f"only the values are supported: use torch.amax/amin or "
                                    f"{what}(x, dim).values")


def _extremum(lower, node, x, dim, keepdim, other, what, sign):
    if other is not None or is_tensor_like(dim):
        return _elementwise_extremum(lower, node, x, dim if other is None else other, sign)
    if dim is None:
        raise lower.unsupported(f"{what}(x) over every axis includes the batch axis; give a "
                                f"per-sample dim, e.g. torch.amax(x, dim=(1, 2, 3))")
    if isinstance(dim, torch.Tensor):
        return _elementwise_extremum(lower, node, x, dim, sign)
    _refuse_used_indices(lower, node, what)
    values = _max_reduce(lower, node, x, dim, keepdim, what, sign)
    return (values, None)


@converts_function(torch.max)
@converts_method("max")
def convert_max(lower, node, x, dim=None, keepdim=False, *, other=None):
    return _extremum(lower, node, x, dim, keepdim, other, "torch.max", 1)


@converts_function(torch.min)
@converts_method("min")
def convert_min(lower, node, x, dim=None, keepdim=False, *, other=None):
    return _extremum(lower, node, x, dim, keepdim, other, "torch.min", -1)


def _elementwise_extremum(lower, node, a, other, sign):
    """``max(a, b) = b + relu(a - b)``; ``min(a, b) = a - relu(a - b)``."""
    b = lower.builder
    name = lower.node_name(node)
    if not is_tensor_like(a):
        a, other = other, a
    ta = lower.tensor(a)
    if is_tensor_like(other):
        tb = lower.tensor(other, what="second operand")
        if b.shape(ta.node) != b.shape(tb.node):
            raise lower.unsupported(f"elementwise maximum/minimum of tensors of per-sample "
                                    f"shapes {b.shape(ta.node)} and {b.shape(tb.node)}: "
                                    f"broadcasting between traced tensors is not supported")
        diff = b.add(ta.node, _negate(lower, tb.node, f"{name}.neg"),
                     name=lower.fresh(f"{name}.diff"))
        relu = b.relu(diff, name=lower.fresh(f"{name}.relu"))
        if sign > 0:
            return TensorValue(b.add(tb.node, relu, name=lower.fresh(name)))
        return TensorValue(b.add(ta.node, _negate(lower, relu, f"{name}.neg_relu"),
                                 name=lower.fresh(name)))
    c = np.asarray(_constant(lower, other, ta, "bound"), dtype=np.float64)
    if c.ndim == 0:
        lo, hi = (float(c), None) if sign > 0 else (None, float(c))
        return TensorValue(b.clip(ta.node, lo, hi, name=name))
    # max(x, c) = c + relu(x - c); min(x, c) = c - relu(c - x)
    shifted = b.scale_shift(ta.node, np.array(float(sign)), -sign * c,
                            name=lower.fresh(f"{name}.shift"))
    relu = b.relu(shifted, name=lower.fresh(f"{name}.relu"))
    return TensorValue(b.scale_shift(relu, np.array(float(sign)), c, name=lower.fresh(name)))


@converts_function(torch.maximum, torch.fmax)
@converts_method("maximum", "fmax")
def convert_maximum(lower, node, a, b, *, out=None):
    return _elementwise_extremum(lower, node, a, b, 1)


@converts_function(torch.minimum, torch.fmin)
@converts_method("minimum", "fmin")
def convert_minimum(lower, node, a, b, *, out=None):
    return _elementwise_extremum(lower, node, a, b, -1)
