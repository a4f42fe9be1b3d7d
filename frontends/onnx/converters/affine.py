"""Shared lowering helper of the arithmetic converters: a constant scale or shift of a tensor.

Not a converter module: it registers nothing. Converters import helpers from here (and from
``broadcasting`` and ``windows``), never from one another.
"""

from __future__ import annotations

import numpy as np

from plnet.frontends.onnx.converters import broadcasting
from plnet.frontends.onnx.tensor import Tensor
from plnet.ops import ScaleShift


def affine(node, x: Tensor, scale=None, shift=None, negate: bool = False) -> Tensor:
    """``(-x if negate else x) * scale + shift`` with numpy broadcasting of the constants.

    Exactly one of ``scale`` and ``shift`` is given; ``negate`` applies with a shift only.
    """
    ctx = node.ctx
    const = scale if scale is not None else shift
    x, const = broadcasting.with_constant(node, x, const)
    if scale is not None:
        op = ScaleShift(scale=ctx.param(f"{node.name}.scale", const))
    else:
        op = ScaleShift(scale=ctx.param(f"{node.name}.scale", np.array(-1.0)) if negate
                        else None, shift=ctx.param(f"{node.name}.shift", const))
    return ctx.emit(op, [x], node.name, x)
