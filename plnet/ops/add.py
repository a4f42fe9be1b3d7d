"""n-ary addition of equally shaped tensors (residual connections)."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Op, Shape, expect_shapes, register_op


@register_op
@dataclasses.dataclass(frozen=True)
class Add(Op):
    """``y = x_0 + x_1 + ...``; every input must have the same per-sample shape."""

    type_name = "add"
    arity = None

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        first = tuple(in_shapes[0])
        for i, s in enumerate(in_shapes[1:], start=1):
            if tuple(s) != first:
                raise ShapeError(f"add input {i} has shape {tuple(s)}, input 0 has {first}: "
                                 f"add needs equal shapes (insert a reshape or a broadcast)")
        return first

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y
