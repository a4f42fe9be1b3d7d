"""Numpy-style broadcasting of input-dependent tensors (with constants or each other).

The IR has no broadcast op: a tensor that must grow is reshaped (new leading axes of size 1)
and its size-1 axes repeated with ``Take`` (indices 0, 0, ...), which is exact and linear.
"""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import Reshape, Take


def _padded(shape, rank):
    return [1] * (rank - len(shape)) + list(shape)


def expand_tensor(node, x: Tensor, out_shape: list[int]) -> Tensor:
    """Broadcast ``x`` to the ONNX shape ``out_shape`` (its batch entry is ignored)."""
    ctx = node.ctx
    shape = ctx.onnx_shape(x)
    lead = len(out_shape) - len(shape)
    if lead < 0:
        raise node.error(f"cannot broadcast {shape} to {out_shape}", ShapeError)
    batch_axis = None if x.batch_axis is None else x.batch_axis + lead
    sample = list(ctx.shape(x))
    if lead:
        sample = [1] * lead + sample
        x = ctx.emit(Reshape(shape=tuple(sample)), [x], f"{node.name}.expand", x,
                     batch_axis=batch_axis)
    targets = [d for i, d in enumerate(out_shape) if i != batch_axis]
    for axis, (have, want) in enumerate(zip(sample, targets)):
        if have == want:
            continue
        if have != 1:
            raise node.error(f"cannot broadcast {shape} to {out_shape}", ShapeError)
        x = ctx.emit(Take(axis=axis, indices=(0,) * int(want), keepdim=True), [x],
                     f"{node.name}.repeat", x)
    return x


def _broadcast_shape(node, shapes):
    try:
        return list(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise node.error(f"inputs of shapes {[list(s) for s in shapes]} do not broadcast",
                         ShapeError) from None


def with_constant(node, x: Tensor, c: np.ndarray) -> tuple[Tensor, np.ndarray]:
    """Broadcast ``x`` against the constant ``c``.

    Returns:
        ``(x', c')``: ``x'`` grown to the broadcast shape, ``c'`` with the batch axis
        removed, so that it broadcasts against ``x'``'s per-sample shape.
    """
    ctx = node.ctx
    c = np.asarray(c, dtype=np.float64)
    shape = [1 if d is None else d for d in ctx.onnx_shape(x)]
    rank = max(len(shape), c.ndim)
    full = c.reshape(_padded(c.shape, rank))
    if x.batch_axis is not None:
        batch_pos = x.batch_axis + rank - len(shape)
        if full.shape[batch_pos] != 1:
            x = ctx.unbatch(x, f"a constant of shape {list(c.shape)} that varies along the "
                               f"batch axis", node.where)
            return with_constant(node, x, c)
    out = _broadcast_shape(node, [shape, c.shape])
    if len(shape) != len(out) or shape != out:
        x = expand_tensor(node, x, out)
    if x.batch_axis is not None:
        full = np.squeeze(full, axis=x.batch_axis)
    return x, full


def tensors(node, xs: list[Tensor]) -> list[Tensor]:
    """Broadcast input-dependent tensors against each other (numpy rules, batch aligned)."""
    ctx = node.ctx
    shapes = [[1 if d is None else d for d in ctx.onnx_shape(x)] for x in xs]
    out = _broadcast_shape(node, shapes)
    rank = len(out)
    axes = {None if x.batch_axis is None else x.batch_axis + rank - len(s)
            for x, s in zip(xs, shapes)}
    if len(axes) != 1:
        xs = [ctx.unbatch(x, f"{node.op_type} of tensors whose batch axes do not line up",
                          node.where) for x in xs]
        return tensors(node, xs)
    return [x if s == out else expand_tensor(node, x, out) for x, s in zip(xs, shapes)]
