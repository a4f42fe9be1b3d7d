"""Elementwise scale and shift: input normalization, folded batch norm, constant Mul/Add."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Op, Shape, expect_shapes, param, register_op
from plnet.ops.patches import Geometry, Patches, channel_scale


@register_op
@dataclasses.dataclass(frozen=True)
class ScaleShift(Op):
    """``y = x * scale + shift``, both broadcast against the per-sample shape.

    Attributes:
        scale: parameter name (any shape that broadcasts to the input's) or None for 1.
        shift: parameter name or None for 0.
    """

    type_name = "scale_shift"
    param_fields = ("scale", "shift")
    scale: str | None = None
    shift: str | None = None

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        (shape,) = in_shapes
        for name in self.param_names():
            p = param(params, name, self)
            try:
                out = np.broadcast_shapes(p.shape, shape)
            except ValueError:
                out = None
            if out != tuple(shape):
                raise ShapeError(f"scale_shift parameter {name!r} of shape {p.shape} does not "
                                 f"broadcast to the per-sample shape {shape}")
        return tuple(shape)

    def linear(self, xs: Sequence[np.ndarray],
               params: Mapping[str, np.ndarray]) -> np.ndarray:
        return xs[0] * params[self.scale] if self.scale is not None else xs[0]

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        y = self.linear(xs, params)
        if self.shift is not None:
            y = y + params[self.shift]
        return y

    def patch_geometry(self, geometries: Sequence[Geometry],
                       params: Mapping[str, np.ndarray]) -> Geometry:
        """Elementwise: the input's boxes (plnet.ops.patches)."""
        return geometries[0]

    def patch_tangent(self, patches: Sequence[Patches], params: Mapping[str, np.ndarray],
                      indicator, geometry: Geometry) -> Patches:
        """The input's boxes times each element's scale."""
        p = patches[0]
        if self.scale is None:
            return p
        return channel_scale(p, np.broadcast_to(params[self.scale], p.shape)[None])
