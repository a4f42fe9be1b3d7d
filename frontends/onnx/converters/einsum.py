"""Einsum of an input-dependent tensor and one constant, when it is linear in the tensor.

The tensor's letters are sorted into kept ones (in the output) and summed ones (not in
it); the constant may share only summed letters with it, and adds letters of its own to
the output. The tensor's kept letters are moved first and its summed ones merged last, a
Dense with the constant (reshaped to ``[its output letters, summed letters]``) contracts
them, and a Transpose puts the output letters in the equation's order. A letter both kept
and in the constant (an elementwise scale, ``ij,j->ij``), a repeated letter (a diagonal)
or an ellipsis is refused.
"""

from __future__ import annotations

import math

import numpy as np

from plnet.errors import NotPiecewiseLinearError, ShapeError
from plnet.frontends.onnx.tensor import Tensor
from plnet.frontends.onnx.registry import converter
from plnet.ops import Dense, Reshape


def _parse(node, equation: str, operands: int):
    equation = equation.replace(" ", "")
    if "." in equation:
        raise node.error(f"Einsum equation {equation!r}: an ellipsis is not supported; write "
                         f"every axis as a letter")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != operands:
        raise node.error(f"Einsum equation {equation!r} names {len(terms)} operands, the node "
                         f"has {operands}", ShapeError)
    if not arrow:  # implicit output: the letters used once, in alphabetical order
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for term in terms + [output]:
        if len(set(term)) != len(term):
            raise node.error(f"Einsum equation {equation!r}: the repeated letter in {term!r} "
                             f"(a diagonal or trace) is not supported")
    return terms, output


@converter("Einsum", opsets=(12, None))
def convert_einsum(node):
    ctx = node.ctx
    operands = [node.input(i) for i in range(len(node.proto.input))]
    tensors = [v for v in operands if isinstance(v, Tensor)]
    terms, output = _parse(node, str(node.attr("equation")), len(operands))
    if len(tensors) > 1:
        raise NotPiecewiseLinearError(f"{node.where}: an Einsum of two input-dependent tensors "
                                      f"is a product, not piecewise linear; all operands but "
                                      f"one must be constants")
    if len(operands) != 2:
        raise node.error("Einsum with one tensor and several constants: fold the constants "
                         "into one first (only two operands are supported)")
    at = 0 if isinstance(operands[0], Tensor) else 1
    x, w = operands[at], np.asarray(operands[1 - at], np.float64)
    x_term, w_term = terms[at], terms[1 - at]
    shape = ctx.onnx_shape(x)
    if len(x_term) != len(shape) or len(w_term) != w.ndim:
        raise node.error(f"Einsum terms {terms} do not match the operand ranks", ShapeError)
    kept = [c for c in x_term if c in output]
    summed = [c for c in x_term if c not in output]
    both = [c for c in kept if c in w_term]
    if both:
        raise node.error(f"Einsum letters {both} are kept in the output and also index the "
                         f"constant (an elementwise product); use Mul instead")
    if x.batch_axis is not None and x_term[x.batch_axis] not in output:
        x = ctx.unbatch(x, "an Einsum summing over the batch axis", node.where)
    sizes = dict(zip(x_term, [1 if d is None else d for d in ctx.onnx_shape(x)]))
    for c, d in zip(w_term, w.shape):
        if sizes.setdefault(c, d) != d:
            raise node.error(f"Einsum letter {c!r} has sizes {sizes[c]} and {d}", ShapeError)
    new = [c for c in output if c not in x_term]
    missing = [c for c in new if c not in w_term]
    if missing:
        raise node.error(f"Einsum output letters {missing} index no operand", ShapeError)
    # the constant as [new letters, summed letters]; the tensor's letters absent from the
    # constant are summed with weight one
    ones = np.ones([sizes[c] for c in summed if c not in w_term])
    ones_term = "".join(c for c in summed if c not in w_term)
    matrix = np.einsum(f"{w_term},{ones_term}->{''.join(new + summed)}", w, ones)
    matrix = matrix.reshape(math.prod(sizes[c] for c in new), math.prod(sizes[c] for c in summed))
    # move the summed letters last and merge them (the batch stays where it is)
    order = kept + summed
    moved = ctx.transpose(x, [x_term.index(c) for c in order], node.where)
    kept_sample = [sizes[c] for i, c in enumerate(kept) if i != moved.batch_axis]
    target = tuple(kept_sample) + (matrix.shape[1],)
    rows = moved if target == ctx.shape(moved) else \
        ctx.emit(Reshape(shape=target), [moved], f"{node.name}.rows", moved)
    y = ctx.emit(Dense(weight=ctx.param(f"{node.name}.weight", matrix)), [rows], node.name,
                 rows)
    out_sample = tuple(kept_sample + [sizes[c] for c in new])
    y = ctx.emit(Reshape(shape=out_sample), [y], f"{node.name}.out", y)
    onnx_letters = kept + new
    if onnx_letters == list(output):
        return y
    return ctx.transpose(y, [onnx_letters.index(c) for c in output], node.where)
