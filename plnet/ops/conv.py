"""Convolution, 1-d and 2-d, with stride, asymmetric padding, dilation and groups."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Op, Shape, expect_shapes, param, register_op
from plnet.ops.patches import Geometry, Patches, patch_zeros, window_geometry, window_taps
from plnet.ops.windows import WindowTable, gather_windows, spatial_attrs, window_table


@dataclasses.dataclass(frozen=True)
class KernelOp(Op):
    """A weight kernel slid over ``[C, *spatial]`` (Conv, ConvTranspose): shared fields and
    the per-channel bias. Subclasses define ``linear``.

    Attributes:
        weight: parameter name of the kernel (layout as the subclass says).
        bias: parameter name (shape ``[C_out]``) or None.
        stride: per spatial axis.
        padding: ``(begin, end)`` zero padding per spatial axis.
        dilation: per spatial axis.
        groups: number of channel groups.
    """

    param_fields = ("weight", "bias")
    weight: str = ""
    bias: str | None = None
    stride: tuple[int, ...] = (1,)
    padding: tuple[tuple[int, int], ...] = ((0, 0),)
    dilation: tuple[int, ...] = (1,)
    groups: int = 1

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        y = self.linear(xs, params)
        if self.bias is not None:
            y = y + params[self.bias].reshape((-1,) + (1,) * (y.ndim - 2))
        return y


@register_op
@dataclasses.dataclass(frozen=True)
class Conv(KernelOp):
    """Cross-correlation as in ``torch.nn.Conv1d/Conv2d`` and ONNX ``Conv``.

    Attributes:
        weight: parameter name, shape ``[C_out, C_in / groups, *kernel]``.
        bias: parameter name (shape ``[C_out]``) or None.
        stride: per spatial axis.
        padding: ``(begin, end)`` zero padding per spatial axis.
        dilation: per spatial axis.
        groups: number of channel groups.
    """

    type_name = "conv"

    def table(self, in_shape: Shape, params: Mapping[str, np.ndarray]) -> WindowTable:
        """The window table of this convolution for an input of shape ``in_shape``."""
        w = param(params, self.weight, self)
        n_sp = w.ndim - 2
        if n_sp not in (1, 2):
            raise ShapeError(f"conv weight {self.weight!r} has shape {w.shape}: expected "
                             f"[C_out, C_in/groups, k] (1-d) or [C_out, C_in/groups, kh, kw] (2-d)")
        spatial_attrs(self, n_sp)
        if len(in_shape) != n_sp + 1:
            raise ShapeError(f"conv with a {n_sp}-d kernel needs per-sample input "
                             f"[C, {'L' if n_sp == 1 else 'H, W'}], got {tuple(in_shape)}")
        c_in = in_shape[0]
        if self.groups < 1 or c_in % self.groups or w.shape[0] % self.groups:
            raise ShapeError(f"conv groups={self.groups} must divide C_in={c_in} and "
                             f"C_out={w.shape[0]}")
        if w.shape[1] * self.groups != c_in:
            raise ShapeError(f"conv weight {self.weight!r} {w.shape} expects "
                             f"{w.shape[1] * self.groups} input channels, input has {c_in}")
        return window_table(tuple(in_shape[1:]), tuple(w.shape[2:]), tuple(self.stride),
                            tuple(tuple(p) for p in self.padding), tuple(self.dilation), False,
                            "conv")

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        table = self.table(in_shapes[0], params)
        w = params[self.weight]
        if self.bias is not None and param(params, self.bias, self).shape != (w.shape[0],):
            raise ShapeError(f"conv bias {self.bias!r} must have shape ({w.shape[0]},)")
        return (w.shape[0],) + table.out_spatial

    def linear(self, xs: Sequence[np.ndarray],
               params: Mapping[str, np.ndarray]) -> np.ndarray:
        x = xs[0]
        w = params[self.weight]
        table = self.table(x.shape[1:], params)
        cols = gather_windows(x, table, 0.0)  # [B, C_in, O, K]
        b, c_in, n_out, k = cols.shape
        g = self.groups
        cols = cols.reshape(b, g, c_in // g, n_out, k)
        wg = w.reshape(g, w.shape[0] // g, w.shape[1], k)
        if c_in == g:  # depthwise: one matmul batched over the groups (einsum's path
            # for a one-channel contraction is several times slower)
            y = np.matmul(cols[:, :, 0], wg[:, :, 0].transpose(0, 2, 1)).transpose(0, 1, 3, 2)
        else:
            y = np.einsum("bgcok,gdck->bgdo", cols, wg, optimize=True)
        return y.reshape((b, w.shape[0]) + table.out_spatial)

    # --- receptive-field patches (plnet.ops.patches) -----------------------------------
    def patch_geometry(self, geometries: Sequence[Geometry],
                       params: Mapping[str, np.ndarray]) -> Geometry | None:
        """The output boxes of a 2-d convolution (None for 1-d: no patch rule)."""
        w = params[self.weight]
        if w.ndim != 4:
            return None
        return window_geometry(geometries[0], w.shape[2:], self.stride,
                               [b for b, _ in self.padding], self.dilation)

    def patch_tangent(self, patches: Sequence[Patches], params: Mapping[str, np.ndarray],
                      indicator, geometry: Geometry) -> Patches:
        """Per kernel tap, one product of the tap's input patches with the tap's
        ``[C_in, C_out]`` weights (block diagonal over groups), added at the tap's offset
        in the output boxes."""
        w, p = params[self.weight], patches[0]
        c_out, c_group = w.shape[:2]
        per_group = c_out // self.groups
        taps = np.zeros((w.shape[2] * w.shape[3], c_group * self.groups, c_out))
        for g in range(self.groups):
            block = w[g * per_group:(g + 1) * per_group].reshape(per_group, c_group, -1)
            taps[:, g * c_group:(g + 1) * c_group, g * per_group:(g + 1) * per_group] = \
                block.transpose(2, 1, 0)
        out_spatial = self.table(p.shape, params).out_spatial
        out = patch_zeros(p, out_spatial, geometry, c_out)
        for tap, view, (rows, cols) in window_taps(p, w.shape[2:], self.stride, self.padding,
                                                   self.dilation, out_spatial):
            product = view.reshape(-1, view.shape[-1]) @ taps[tap]
            out[:, :, :, :, rows, cols] += product.reshape(view.shape[:-1] + (c_out,))
        return Patches(out, geometry)
