"""Shared lowering helpers: constant selections and constant linear maps along one axis.

Not a converter module: it registers nothing. A selection (Tile, GatherND, nearest Resize)
is a ``Take`` of fixed positions; a constant linear map along one axis (linear Resize, a
reduction) is a ``Dense`` on that axis moved last. Both are exact.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import Dense, Flatten, MaxPool, Reshape, ScaleShift, Take


def take_along(node, x: Tensor, onnx_axis: int, indices, hint: str | None = None) -> Tensor:
    """``x`` with ONNX axis ``onnx_axis`` (not the batch axis) replaced by ``x[indices]``."""
    indices = tuple(int(i) for i in np.asarray(indices).ravel())
    axis = x.sample_axis(onnx_axis)
    if indices == tuple(range(node.ctx.shape(x)[axis])):
        return x
    return node.ctx.emit(Take(axis=axis, indices=indices, keepdim=True), [x],
                         hint or node.name, x)


def map_along(node, x: Tensor, onnx_axis: int, matrix: np.ndarray,
              hint: str | None = None) -> Tensor:
    """``x`` with ONNX axis ``onnx_axis`` (not the batch axis) of length n replaced by
    ``matrix @ x`` along it, for a constant ``matrix`` of shape ``[m, n]``."""
    ctx = node.ctx
    hint = hint or node.name
    rank = len(ctx.onnx_shape(x))
    perm = list(range(rank))
    perm[onnx_axis], perm[-1] = perm[-1], perm[onnx_axis]
    moved = ctx.transpose(x, perm, node.where)
    op = Dense(weight=ctx.param(f"{hint}.weight", np.asarray(matrix, np.float64)))
    return ctx.transpose(ctx.emit(op, [moved], hint, moved), perm, node.where)


def select(node, x: Tensor, choose: Callable[[np.ndarray], np.ndarray]) -> Tensor:
    """Any constant selection of elements of a tensor without a batch axis.

    ``choose`` maps an integer array laid out like ``x`` (each entry its own flat
    position) to the array of positions the output holds, with the output's shape.
    """
    ctx = node.ctx
    shape = ctx.shape(x)
    positions = np.asarray(choose(np.arange(math.prod(shape)).reshape(shape)))
    if positions.size == 0:
        raise node.error("the result is empty; plnet does not represent empty tensors")
    flat = x if len(shape) == 1 else ctx.emit(Flatten(), [x], f"{node.name}.flat", x)
    picked = ctx.emit(Take(axis=0, indices=tuple(int(i) for i in positions.ravel())), [flat],
                      node.name, flat)
    if positions.shape == (positions.size,):
        return picked
    return ctx.emit(Reshape(shape=tuple(positions.shape)), [picked], f"{node.name}.shape",
                    picked)


def negate(node, x: Tensor, hint: str) -> Tensor:
    """``-x``."""
    ctx = node.ctx
    op = ScaleShift(scale=ctx.param(f"{hint}.neg", np.array(-1.0)))
    return ctx.emit(op, [x], hint, x)


def max_of_rows(node, x: Tensor, hint: str) -> Tensor:
    """The maximum over the last per-sample axis, as max-pool comparison units: the
    result has that axis' length set to 1."""
    ctx = node.ctx
    shape = ctx.shape(x)
    n = shape[-1]
    if n == 1:
        return x
    rows = math.prod(shape[:-1])
    table = ctx.emit(Reshape(shape=(rows, n)), [x], f"{hint}.rows", x)
    pooled = ctx.emit(MaxPool(kernel=(n,), stride=(n,), padding=((0, 0),), dilation=(1,)),
                      [table], hint, table)
    return ctx.emit(Reshape(shape=tuple(shape[:-1]) + (1,)), [pooled], f"{hint}.shape", pooled)
