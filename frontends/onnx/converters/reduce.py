"""ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceL1 over any set of non-batch axes.

The reduced axes are moved last and merged into one; a sum or mean is then a Dense with a
row of ones (or 1/n), a max a max pool over the whole row (its comparison units are the
region's constraints, exactly as in a MaxPool), a min the negated max of the negation.
Reducing over a symbolic batch axis would mix samples: it is refused.

The axes are an attribute up to opset 12 (ReduceSum) or 17 (the others), an input after.
"""

from __future__ import annotations

import math

import numpy as np

from plnet.frontends.onnx.converters.gathering import max_of_rows, negate
from plnet.frontends.onnx.registry import converter
from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import Dense, Reshape, Transpose


def _rows(node, x: Tensor, axes: list[int]) -> Tensor:
    """``x`` with the per-sample ``axes`` moved last and merged: ``[*kept, n]``."""
    ctx = node.ctx
    shape = ctx.shape(x)
    kept = [i for i in range(len(shape)) if i not in axes]
    perm = kept + axes
    y = x
    if perm != list(range(len(shape))):
        y = ctx.emit(Transpose(perm=tuple(perm)), [y], f"{node.name}.moved", y)
    target = tuple(shape[i] for i in kept) + (math.prod(shape[i] for i in axes),)
    if target != ctx.shape(y):
        y = ctx.emit(Reshape(shape=target), [y], f"{node.name}.rows", y)
    return y


def _abs(node, x: Tensor) -> Tensor:
    """``|x|`` exactly, as two ReLUs (:meth:`plnet.NetworkBuilder.abs`)."""
    name = node.ctx.builder.abs(x.node, name=node.ctx.fresh_name(f"{node.name}.abs"))
    return Tensor(name, x.batch_axis, x.batch_one)


def _reduce(node, kind: str, axes, keepdims: bool, noop_with_empty_axes: bool = False):
    ctx = node.ctx
    x = node.tensor(0)
    rank = len(ctx.onnx_shape(x))
    if not axes:
        if noop_with_empty_axes:  # each entry alone: ReduceL1 still takes its magnitude
            return _abs(node, x) if kind == "l1" else x
        axes = range(rank)
    axes = sorted({node.axis(x, int(a)) for a in axes})
    if x.batch_axis in axes:
        x = ctx.unbatch(x, f"{node.op_type} over the batch axis", node.where)
    sample_axes = [x.sample_axis(a) for a in axes]
    shape = ctx.shape(x)
    rows = _rows(node, x, sample_axes)
    n = ctx.shape(rows)[-1]
    if kind in ("sum", "mean", "l1"):
        if kind == "l1":
            rows = _abs(node, rows)
        weight = np.full((1, n), 1.0 / n if kind == "mean" else 1.0)
        y = ctx.emit(Dense(weight=ctx.param(f"{node.name}.weight", weight)), [rows],
                     node.name, rows)
    elif kind == "max":
        y = max_of_rows(node, rows, node.name)
    else:  # min(x) = -max(-x)
        y = negate(node, max_of_rows(node, negate(node, rows, f"{node.name}.neg_in"),
                                     node.name), f"{node.name}.neg_out")
    if keepdims:
        out = tuple(1 if i in sample_axes else d for i, d in enumerate(shape))
        batch = x.batch_axis
    else:
        out = tuple(d for i, d in enumerate(shape) if i not in sample_axes)
        batch = None if x.batch_axis is None else \
            x.batch_axis - sum(a < x.batch_axis for a in axes)
    return ctx.emit(Reshape(shape=out), [y], f"{node.name}.out", y, batch_axis=batch)


def _attribute_form(node, kind):
    return _reduce(node, kind, node.ints("axes"), bool(node.attr("keepdims", 1)))


def _input_form(node, kind):
    axes = node.optional_const(1, "axes")
    return _reduce(node, kind, None if axes is None else np.asarray(axes).ravel().tolist(),
                   bool(node.attr("keepdims", 1)), bool(node.attr("noop_with_empty_axes", 0)))


#: op type -> (what it computes, the opset from which its axes are an input)
REDUCTIONS = {"ReduceSum": ("sum", 13), "ReduceMean": ("mean", 18), "ReduceMax": ("max", 18),
              "ReduceMin": ("min", 18), "ReduceL1": ("l1", 18)}


def _register(op_type: str, kind: str, input_from: int) -> None:
    def convert_attribute(node):
        return _attribute_form(node, kind)

    def convert_input(node):
        return _input_form(node, kind)

    snake = "convert_reduce_" + op_type[len("Reduce"):].lower()
    convert_attribute.__name__ = f"{snake}_attribute"
    convert_input.__name__ = snake
    converter(op_type, opsets=(1, input_from - 1))(convert_attribute)
    converter(op_type, opsets=(input_from, None))(convert_input)


for _op_type, (_kind, _input_from) in REDUCTIONS.items():
    _register(_op_type, _kind, _input_from)
