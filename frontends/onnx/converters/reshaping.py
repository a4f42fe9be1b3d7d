"""Reshape, Flatten, Squeeze, Unsqueeze, Transpose: views that may touch the batch axis.

A Reshape keeps the batch axis when its target says so (a leading 0, -1, the batch-size
stand-in of folded shape arithmetic, or the batch size the file fixes, as exporters write
for a static batch: ``[2, 64]`` after pooling a batch of 2); otherwise it merges the batch
into the sample, which is only sound when the file fixes the batch at 1. A row-major
reshape whose leading length is the batch's own keeps every sample's elements together.
"""

from __future__ import annotations

import math

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.tensor import BATCH_SENTINEL, Tensor
from plnet.frontends.onnx.registry import converter
from plnet.ops import Flatten, Reshape


def _resolve(node, target, in_dims, total, allowzero):
    """ONNX Reshape's rules for 0 (copy) and -1 (infer) against one sample."""
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(in_dims):
                raise node.error(f"Reshape target {target}: 0 at position {i} copies an input "
                                 f"dimension that does not exist", ShapeError)
            d = in_dims[i]
        out.append(d)
    if any(d == 0 for d in out):
        raise node.error(f"Reshape target {target} makes an empty tensor", ShapeError)
    if BATCH_SENTINEL in out:
        raise node.error(f"Reshape target {target} uses the symbolic batch size away from the "
                         f"batch axis", ShapeError)
    if out.count(-1) > 1 or any(d < -1 for d in out):
        raise node.error(f"Reshape target {target} is invalid", ShapeError)
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or total % known:
            raise node.error(f"cannot reshape {total} elements per sample to {target}",
                             ShapeError)
        out[out.index(-1)] = total // known
    if math.prod(out) != total:
        raise node.error(f"cannot reshape {list(in_dims)} ({total} elements per sample) to "
                         f"{target}", ShapeError)
    return tuple(int(d) for d in out)


def _keeps_batch(node, x: Tensor, target, allowzero):
    ctx = node.ctx
    first = target[0]
    if first == BATCH_SENTINEL or (first == 0 and not allowzero) or (first == 1 and x.batch_one):
        return True
    if not x.batch_one and ctx.batch_size is not None and first == ctx.batch_size:
        return True
    if first == -1 and -1 not in target[1:]:
        rest = [ctx.shape(x)[i] if d == 0 and not allowzero and i < len(ctx.shape(x)) else d
                for i, d in enumerate(target[1:])]
        return math.prod(rest) == math.prod(ctx.shape(x))
    return False


def reshape_to(node, x: Tensor, target, allowzero=False, what="a Reshape") -> Tensor:
    """ONNX Reshape of a tensor to ``target`` (raw, with its 0 and -1 entries)."""
    ctx = node.ctx
    target = [int(d) for d in target]
    if x.batch_axis == 0 and target and _keeps_batch(node, x, target, allowzero):
        sample = ctx.shape(x)
        shape = _resolve(node, target[1:], sample, math.prod(sample), allowzero)
    else:
        if x.batch_axis is not None:
            x = ctx.unbatch(x, f"{what} to {target} that merges the batch axis into "
                               f"other axes", node.where)
        sample = ctx.shape(x)
        shape = _resolve(node, target, sample, math.prod(sample), allowzero)
    if shape == tuple(ctx.shape(x)):
        return x
    return ctx.emit(Reshape(shape=shape), [x], node.name, x)


@converter("Reshape", opsets=(5, None))
def convert_reshape(node):
    return reshape_to(node, node.tensor(0), node.const(1, "shape").astype(np.int64).ravel(),
                      bool(node.attr("allowzero", 0)))


@converter("Flatten")
def convert_flatten(node):
    ctx = node.ctx
    x = node.tensor(0)
    shape = [1 if d is None else d for d in ctx.onnx_shape(x)]
    axis = int(node.attr("axis", 1))
    if not -len(shape) <= axis <= len(shape):
        raise node.error(f"axis {axis} out of range for rank {len(shape)}", ShapeError)
    if axis < 0:
        axis += len(shape)
    if x.batch_axis == 0 and axis == 1:
        if len(ctx.shape(x)) == 1:
            return x
        return ctx.emit(Flatten(), [x], node.name, x)
    inner = math.prod(shape[axis:])
    if x.batch_axis == 0 and axis >= 1:
        return reshape_to(node, x, [-1, inner], what=f"a Flatten (axis={axis})")
    return reshape_to(node, x, [math.prod(shape[:axis]), inner], what=f"a Flatten (axis={axis})")


def _input_axes(node):
    if not node.has_input(1):
        return None
    return [int(a) for a in np.asarray(node.const(1, "axes")).ravel()]


def _squeeze(node, axes):
    ctx = node.ctx
    x = node.tensor(0)
    rank = len(ctx.onnx_shape(x))
    if axes is None:
        if x.batch_one:
            x = ctx.unbatch(x, "a Squeeze of every size-1 axis", node.where)
        axes = [i for i, d in enumerate(ctx.onnx_shape(x)) if d == 1]
    axes = sorted({node.axis(x, a) for a in axes})
    if x.batch_axis in axes:
        x = ctx.unbatch(x, "a Squeeze of the batch axis", node.where)
    shape = ctx.onnx_shape(x)
    if any(shape[a] != 1 for a in axes):
        raise node.error(f"cannot squeeze axes {axes} of shape {shape}: not of size 1",
                         ShapeError)
    sample = tuple(d for i, d in enumerate(shape) if i not in axes and i != x.batch_axis)
    batch = None if x.batch_axis is None else x.batch_axis - sum(a < x.batch_axis for a in axes)
    if rank == len(sample) and batch == x.batch_axis:
        return x
    return ctx.emit(Reshape(shape=sample), [x], node.name, x, batch_axis=batch)


def _unsqueeze(node, axes):
    ctx = node.ctx
    x = node.tensor(0)
    if axes is None:
        raise node.error("Unsqueeze needs axes", ShapeError)
    shape = ctx.onnx_shape(x)
    out_rank = len(shape) + len(axes)
    norm = sorted({a % out_rank for a in axes if -out_rank <= a < out_rank})
    if len(norm) != len(axes):
        raise node.error(f"Unsqueeze axes {axes} are out of range or repeated", ShapeError)
    kept = [i for i in range(out_rank) if i not in norm]
    batch = None if x.batch_axis is None else kept[x.batch_axis]
    dims = iter(shape)
    out = [1 if i in norm else next(dims) for i in range(out_rank)]
    sample = tuple(d for i, d in enumerate(out) if i != batch)
    return ctx.emit(Reshape(shape=sample), [x], node.name, x, batch_axis=batch)


@converter("Squeeze", opsets=(1, 12))
def convert_squeeze_attribute(node):
    return _squeeze(node, node.ints("axes"))


@converter("Squeeze", opsets=(13, None))
def convert_squeeze(node):
    return _squeeze(node, _input_axes(node))


@converter("Unsqueeze", opsets=(1, 12))
def convert_unsqueeze_attribute(node):
    return _unsqueeze(node, node.ints("axes"))


@converter("Unsqueeze", opsets=(13, None))
def convert_unsqueeze(node):
    return _unsqueeze(node, _input_axes(node))


@converter("Transpose")
def convert_transpose(node):
    ctx = node.ctx
    x = node.tensor(0)
    rank = len(ctx.onnx_shape(x))
    perm = node.ints("perm", list(range(rank))[::-1])
    return ctx.transpose(x, perm, node.where)
