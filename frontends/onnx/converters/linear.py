"""Gemm and MatMul with one constant operand, lowered to Dense (plus transposes)."""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.converters.affine import affine
from plnet.frontends.onnx.tensor import Tensor
from plnet.frontends.onnx.registry import converter
from plnet.ops import Dense, Reshape


def _dense(node, x: Tensor, weight: np.ndarray, hint: str, bias=None) -> Tensor:
    """Dense on ONNX's last axis of ``x``; ``weight`` is ``[out, in]``, ``bias`` ``[out]``."""
    ctx = node.ctx
    rank = len(ctx.onnx_shape(x))
    if x.batch_axis == rank - 1:
        x = ctx.unbatch(x, "a matrix product over the batch axis", node.where)
    op = Dense(weight=ctx.param(f"{hint}.weight", weight),
               bias=None if bias is None else ctx.param(f"{hint}.bias", bias))
    return ctx.emit(op, [x], hint, x)


def matmul_right(node, x: Tensor, w: np.ndarray, hint: str, bias=None) -> Tensor:
    """``x @ w (+ bias)`` for a constant ``w`` of rank 1 or 2 (ONNX MatMul semantics); a
    ``bias`` (one entry per column of a 2-d ``w``) goes into the Dense op."""
    ctx = node.ctx
    if x.batch_axis is not None and x.batch_axis == len(ctx.onnx_shape(x)) - 1:
        x = ctx.unbatch(x, "a matrix product over the batch axis", node.where)
    if w.ndim == 1:
        if bias is not None:
            raise ValueError("matmul_right: a bias needs a 2-d weight")
        y = _dense(node, x, w[None, :], hint)
        shape = ctx.shape(y)[:-1]
        if y.batch_axis is not None and y.batch_axis == len(ctx.onnx_shape(y)) - 1:
            raise node.error("MatMul would drop the batch axis", ShapeError)
        return ctx.emit(Reshape(shape=shape), [y], f"{hint}.squeeze", y)
    if w.ndim != 2:
        raise node.error(f"MatMul with a constant of rank {w.ndim} (a batched matrix "
                         f"product) is not supported; only 1-d and 2-d constant operands")
    if ctx.onnx_shape(x)[-1] != w.shape[0]:
        raise node.error(f"MatMul of {ctx.onnx_shape(x)} and {list(w.shape)}: inner sizes "
                         f"differ", ShapeError)
    return _dense(node, x, w.T, hint, bias)


def matmul_left(node, w: np.ndarray, x: Tensor, hint: str) -> Tensor:
    """``w @ x`` for a constant ``w`` of rank 1 or 2: a Dense on x's second-to-last axis."""
    ctx = node.ctx
    if w.ndim not in (1, 2):
        raise node.error(f"MatMul with a constant of rank {w.ndim} (a batched matrix "
                         f"product) is not supported; only 1-d and 2-d constant operands")
    rank = len(ctx.onnx_shape(x))
    w2 = w[None, :] if w.ndim == 1 else w
    if rank == 1:
        y = _dense(node, x, w2, hint)
    else:
        perm = list(range(rank - 2)) + [rank - 1, rank - 2]
        y = ctx.transpose(_dense(node, ctx.transpose(x, perm, node.where), w2, hint), perm,
                          node.where)
    if w.ndim == 1:  # the contracted row axis disappears
        shape = ctx.onnx_shape(y)
        axis = len(shape) - (1 if rank == 1 else 2)
        y, sample_axis = node.sample_axis(y, axis, "MatMul")
        sample = list(ctx.shape(y))
        del sample[sample_axis]
        y = ctx.emit(Reshape(shape=tuple(sample)), [y], f"{hint}.squeeze", y,
                     batch_axis=y.batch_axis if y.batch_axis is None or
                     y.batch_axis < axis else y.batch_axis - 1)
    return y


@converter("MatMul")
def convert_matmul(node):
    a, b = node.product_operands()
    if isinstance(a, Tensor):
        return matmul_right(node, a, np.asarray(b, np.float64), node.name)
    return matmul_left(node, np.asarray(a, np.float64), b, node.name)


def _per_column(node, c: np.ndarray, columns: int) -> np.ndarray | None:
    """Gemm's C as one bias entry per output column, or None if C varies along the rows.

    C broadcasts to ``[M, N]``: a scalar, ``[N]``, ``[1]``, ``[1, N]`` or ``[1, 1]`` is the
    same for every row; ``[M, N]`` and ``[M, 1]`` (M > 1) are not.
    """
    if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
        return None
    row = c.reshape(c.shape[-1:]) if c.ndim else c
    if row.size not in (1, columns):
        raise node.error(f"C of shape {list(c.shape)} does not broadcast to the output's "
                         f"{columns} columns", ShapeError)
    return np.broadcast_to(row, (columns,)).copy()


@converter("Gemm")
def convert_gemm(node):
    """``alpha * A' B' + beta * C`` with A' = A^T if transA, B' = B^T if transB.

    With a constant B, ``beta * C`` becomes the Dense op's bias when it is the same for
    every row (a scalar, ``[N]`` or ``[1, N]``); any other C is added by a ScaleShift,
    broadcast exactly (a C that varies along the batch needs a file fixing the batch at 1).
    """
    ctx = node.ctx
    a, b = node.product_operands()
    alpha = float(node.attr("alpha", 1.0))
    beta = float(node.attr("beta", 1.0))
    trans_a, trans_b = int(node.attr("transA", 0)), int(node.attr("transB", 0))
    c = (np.asarray(node.const(2, "C"), np.float64) * beta if node.has_input(2) else None)
    if isinstance(a, Tensor):
        if len(ctx.onnx_shape(a)) != 2:
            raise node.error(f"Gemm needs 2-d operands, A is {ctx.onnx_shape(a)}", ShapeError)
        x = ctx.transpose(a, [1, 0], node.where) if trans_a else a
        w = np.asarray(b, np.float64)
        w = (w.T if trans_b else w) * alpha
        if w.ndim != 2:
            raise node.error(f"Gemm needs 2-d operands, B is {list(w.shape)}", ShapeError)
        bias = None if c is None else _per_column(node, c, w.shape[1])
        y = matmul_right(node, x, w, node.name, bias)
        if bias is not None:
            return y
    else:
        if len(ctx.onnx_shape(b)) != 2:
            raise node.error(f"Gemm needs 2-d operands, B is {ctx.onnx_shape(b)}", ShapeError)
        x = ctx.transpose(b, [1, 0], node.where) if trans_b else b
        w = np.asarray(a, np.float64)
        w = (w.T if trans_a else w) * alpha
        y = matmul_left(node, w, x, node.name)
    if c is not None and c.size and (c != 0).any():
        y = affine(node, y, shift=c)
    return y
