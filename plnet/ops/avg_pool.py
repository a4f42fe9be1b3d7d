"""Average pooling, 1-d and 2-d (a fixed linear map; it adds no constraint to S(x))."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Op, Shape, expect_shapes, register_op
from plnet.ops.patches import Geometry, Patches, patch_zeros, pooling_geometry, window_taps
from plnet.ops.windows import WindowTable, gather_windows, pooling_table


@register_op
@dataclasses.dataclass(frozen=True)
class AvgPool(Op):
    """Average over windows, as ``torch.nn.AvgPool1d/2d`` and ONNX ``AveragePool``.

    The divisor of a window counts its positions inside the input, plus those inside the
    declared padding when ``count_include_pad`` (positions past the padding, which only
    ceil_mode creates, never count).

    Attributes:
        kernel, stride, dilation: per spatial axis.
        padding: ``(begin, end)`` per spatial axis.
        ceil_mode: round the output size up (partial last windows).
        count_include_pad: count padded positions in the divisor.
    """

    type_name = "avg_pool"
    kernel: tuple[int, ...] = (1,)
    stride: tuple[int, ...] = (1,)
    padding: tuple[tuple[int, int], ...] = ((0, 0),)
    dilation: tuple[int, ...] = (1,)
    ceil_mode: bool = False
    count_include_pad: bool = True

    def table(self, in_shape: Shape) -> tuple[WindowTable, np.ndarray]:
        """The window table of this pooling for an input of shape ``in_shape`` and each
        output's divisor (used by every implementation of the op)."""
        table = pooling_table(self, in_shape)
        counted = table.in_padded if self.count_include_pad else table.index >= 0
        divisor = counted.sum(axis=1).astype(float)
        if (divisor == 0).any():
            raise ShapeError("avg_pool: some window covers no counted position (padding larger "
                             "than the kernel?)")
        return table, divisor

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        table, _ = self.table(in_shapes[0])
        return (in_shapes[0][0],) + table.out_spatial

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        x = xs[0]
        table, divisor = self.table(x.shape[1:])
        y = gather_windows(x, table, 0.0).sum(axis=-1) / divisor
        return y.reshape(x.shape[:2] + table.out_spatial)

    # --- receptive-field patches (plnet.ops.patches) -----------------------------------
    def patch_geometry(self, geometries: Sequence[Geometry],
                       params: Mapping[str, np.ndarray]) -> Geometry | None:
        return pooling_geometry(self, geometries)

    def patch_tangent(self, patches: Sequence[Patches], params: Mapping[str, np.ndarray],
                      indicator, geometry: Geometry) -> Patches:
        """The window's input boxes summed at their offsets, over the divisor (padding adds
        zeros, as it adds nothing to the sums)."""
        p = patches[0]
        table, divisor = self.table(p.shape)
        out = patch_zeros(p, table.out_spatial, geometry, p.t.shape[-1])
        for _, view, (rows, cols) in window_taps(p, self.kernel, self.stride, self.padding,
                                                 self.dilation, table.out_spatial):
            out[:, :, :, :, rows, cols] += view
        out /= divisor.reshape(table.out_spatial)[None, :, :, None, None, None, None]
        return Patches(out, geometry)
