"""Dense (fully connected) layer on the last axis: ``y = x W^T + b``."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence


import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Op, Shape, expect_shapes, param, register_op


@register_op
@dataclasses.dataclass(frozen=True)
class Dense(Op):
    """``y[..., o] = sum_i x[..., i] W[o, i] + b[o]``, like ``torch.nn.Linear``.

    Attributes:
        weight: parameter name of ``W``, shape ``[out, in]``.
        bias: parameter name of ``b`` (shape ``[out]``) or None.
    """

    type_name = "dense"
    param_fields = ("weight", "bias")
    weight: str = ""
    bias: str | None = None

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        (shape,) = in_shapes
        w = param(params, self.weight, self)
        if w.ndim != 2:
            raise ShapeError(f"dense weight {self.weight!r} must be 2-d [out, in], got {w.shape}")
        if len(shape) < 1 or shape[-1] != w.shape[1]:
            raise ShapeError(f"dense weight {self.weight!r} is {w.shape} ([out, in]) but the "
                             f"input's per-sample shape is {shape}: the last axis must be "
                             f"{w.shape[1]}")
        if self.bias is not None and param(params, self.bias, self).shape != (w.shape[0],):
            raise ShapeError(f"dense bias {self.bias!r} must have shape ({w.shape[0]},), got "
                             f"{params[self.bias].shape}")
        return tuple(shape[:-1]) + (w.shape[0],)

    def linear(self, xs: Sequence[np.ndarray],
               params: Mapping[str, np.ndarray]) -> np.ndarray:
        return xs[0] @ params[self.weight].T

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        y = self.linear(xs, params)
        if self.bias is not None:
            y = y + params[self.bias]
        return y
