"""n-ary addition of equally shaped tensors (residual connections)."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Op, Shape, expect_shapes, register_op
from plnet.ops.patches import Geometry, Patches, aligned, box_slices


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

    def patch_geometry(self, geometries: Sequence[Geometry],
                       params: Mapping[str, np.ndarray]) -> Geometry | None:
        """The union of the inputs' boxes (None if their strides differ)."""
        return aligned(list(geometries))

    def patch_tangent(self, patches: Sequence[Patches], params: Mapping[str, np.ndarray],
                      indicator, geometry: Geometry) -> Patches:
        """The inputs' boxes added inside the union box (same stride: same positions)."""
        first = patches[0].t
        out = np.zeros((max(p.t.shape[0] for p in patches),) + first.shape[1:4]
                       + geometry.size + first.shape[-1:])
        for p in patches:
            rows, cols = box_slices(p.geometry, geometry)
            out[:, :, :, :, rows, cols] += p.t
        return Patches(out, geometry)
