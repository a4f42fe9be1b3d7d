"""Where with a constant condition: a fixed choice between two values, elementwise.

With the condition constant, ``Where(c, a, b)`` is ``a * c + b * (1 - c)`` with ``c`` a 0/1
mask: a constant scale of each input-dependent side and, for a constant side, the shift
``where(c, a, 0)`` or ``where(c, 0, b)`` (taken with ``where``, never multiplied, so that
an infinite fill such as ``masked_fill(-inf)`` does not become 0 * inf). Multiplying a
finite value by exactly 0 or 1 and adding exactly 0 are exact, so the lowering is too. The
dynamo exporter writes it for adaptive pooling (``masked_fill`` of the unused window
slots). An input-dependent condition is a comparison, which is not continuous.
"""

from __future__ import annotations

import numpy as np

from plnet.errors import NotPiecewiseLinearError
from plnet.frontends.onnx.converters import broadcasting
from plnet.frontends.onnx.converters.affine import affine
from plnet.frontends.onnx.registry import converter
from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import Add


def _masked(node, x: Tensor, mask: np.ndarray, fill) -> Tensor:
    """``x`` where ``mask`` holds, else the constant part ``fill`` (None: 0)."""
    x = affine(node, x, scale=mask.astype(np.float64))
    if fill is None:
        return x
    return affine(node, x, shift=fill)


@converter("Where", opsets=(9, None))
def convert_where(node):
    cond, a, b = node.input(0), node.input(1), node.input(2)
    if isinstance(cond, Tensor):
        raise NotPiecewiseLinearError(
            f"{node.where}: the condition depends on the input; a Where that chooses by a "
            f"comparison of the input is not continuous, so it has no exact piecewise-linear "
            f"form (write max/min or ReLU instead)")
    mask = np.asarray(cond).astype(bool)  # (a Where of constants only is folded before)
    if not isinstance(b, Tensor):
        return _masked(node, a, mask, np.where(mask, 0.0, np.asarray(b, np.float64)))
    if not isinstance(a, Tensor):
        return _masked(node, b, ~mask, np.where(mask, np.asarray(a, np.float64), 0.0))
    a, b = broadcasting.tensors(node, [_masked(node, a, mask, None),
                                       _masked(node, b, ~mask, None)])
    return node.ctx.emit(Add(), [a, b], node.name, a)
