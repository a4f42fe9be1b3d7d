"""Gemm and MatMul with one constant operand, lowered to Dense (plus transposes)."""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.converters.affine import affine
from plnet.frontends.onnx.tensor import Tensor
from plnet.frontends.onnx.registry import converter
from plnet.ops import Dense, Reshape


def _dense(node, x: Tensor, weight: np.ndarray, hint: str) -> Tensor:
    """Dense on ONNX's last axis of ``x``; ``weight`` is ``[out, in]``."""
    ctx = node.ctx
    rank = len(ctx.onnx_shape(x))
    if x.batch_axis == rank - 1:
        x = ctx.unbatch(x, "a matrix product over the batch axis", node.where)
    op = Dense(weight=ctx.param(f"{hint}.weight", weight))
    return ctx.emit(op, [x], hint, x)


def matmul_right(node, x: Tensor, w: np.ndarray, hint: str) -> Tensor:
    """``x @ w`` for a constant ``w`` of rank 1 or 2 (ONNX MatMul semantics)."""
    ctx = node.ctx
    if x.batch_axis is not None and x.batch_axis == len(ctx.onnx_shape(x)) - 1:
        x = ctx.unbatch(x, "a matrix product over the batch axis", node.where)
    if w.ndim == 1:
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
    return _dense(node, x, w.T, hint)


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


@converter("Gemm")
def convert_gemm(node):
    """``alpha * A' B' + beta * C`` with A' = A^T if transA, B' = B^T if transB."""
    ctx = node.ctx
    a, b = node.product_operands()
    alpha = float(node.attr("alpha", 1.0))
    beta = float(node.attr("beta", 1.0))
    trans_a, trans_b = int(node.attr("transA", 0)), int(node.attr("transB", 0))
    if isinstance(a, Tensor):
        if len(ctx.onnx_shape(a)) != 2:
            raise node.error(f"Gemm needs 2-d operands, A is {ctx.onnx_shape(a)}", ShapeError)
        x = ctx.transpose(a, [1, 0], node.where) if trans_a else a
        w = np.asarray(b, np.float64)
        w = (w.T if trans_b else w) * alpha
        y = matmul_right(node, x, w, node.name)
    else:
        if len(ctx.onnx_shape(b)) != 2:
            raise node.error(f"Gemm needs 2-d operands, B is {ctx.onnx_shape(b)}", ShapeError)
        x = ctx.transpose(b, [1, 0], node.where) if trans_b else b
        w = np.asarray(a, np.float64)
        w = (w.T if trans_a else w) * alpha
        y = matmul_left(node, w, x, node.name)
    if node.has_input(2):
        c = node.const(2, "C") * beta
        if c.size and (c != 0).any():
            y = affine(node, y, shift=c)
    return y
