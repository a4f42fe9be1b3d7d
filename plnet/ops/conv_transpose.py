"""Transposed convolution, 1-d and 2-d: the adjoint of a convolution, plus a bias."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Shape, expect_shapes, param, register_op
from plnet.ops.conv import KernelOp
from plnet.ops.windows import WindowTable, scatter_table, spatial_attrs


def transposed_length(length: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                      output_padding: int, dilation: int) -> int:
    """Output length of one axis, torch's and ONNX's rule."""
    return ((length - 1) * stride - pad_begin - pad_end + dilation * (kernel - 1)
            + output_padding + 1)


@register_op
@dataclasses.dataclass(frozen=True)
class ConvTranspose(KernelOp):
    """Transposed convolution as ``torch.nn.ConvTranspose1d/2d`` and ONNX ``ConvTranspose``.

    Without its bias it is the adjoint of the convolution with the same weight, stride,
    dilation, groups and begin padding: input position ``i`` and kernel tap ``k`` write to
    output position ``i * stride - pad_begin + k * dilation`` (when it exists). The end
    padding and ``output_padding`` only trim or append trailing positions.

    Attributes:
        weight: parameter name, shape ``[C_in, C_out / groups, *kernel]``.
        bias: parameter name (shape ``[C_out]``) or None.
        stride: per spatial axis.
        padding: ``(begin, end)`` per spatial axis: positions removed from the full output.
        dilation: per spatial axis.
        groups: number of channel groups.
        output_padding: per spatial axis: positions appended to the end of the output;
            as in torch, smaller than the stride or the dilation of its axis.
    """

    type_name = "conv_transpose"
    output_padding: tuple[int, ...] = (0,)

    def out_channels(self, params: Mapping[str, np.ndarray]) -> int:
        return int(param(params, self.weight, self).shape[1]) * self.groups

    def table(self, in_shape: Shape, params: Mapping[str, np.ndarray]) -> WindowTable:
        """Where each input position writes: rows are input positions, columns kernel taps.

        The table's ``out_spatial`` is the input's spatial shape; see
        :func:`plnet.ops.windows.scatter_table`.
        """
        w = param(params, self.weight, self)
        n_sp = w.ndim - 2
        if n_sp not in (1, 2):
            raise ShapeError(f"conv_transpose weight {self.weight!r} has shape {w.shape}: "
                             f"expected [C_in, C_out/groups, k] (1-d) or "
                             f"[C_in, C_out/groups, kh, kw] (2-d)")
        spatial_attrs(self, n_sp)
        if len(self.output_padding) != n_sp:
            raise ShapeError(f"conv_transpose: output_padding={self.output_padding} must have "
                             f"{n_sp} entries (one per spatial axis)")
        if len(in_shape) != n_sp + 1:
            raise ShapeError(f"conv_transpose with a {n_sp}-d kernel needs per-sample input "
                             f"[C, {'L' if n_sp == 1 else 'H, W'}], got {tuple(in_shape)}")
        c_in = in_shape[0]
        if w.shape[0] != c_in:
            raise ShapeError(f"conv_transpose weight {self.weight!r} {w.shape} expects "
                             f"{w.shape[0]} input channels, input has {c_in}")
        if self.groups < 1 or c_in % self.groups:
            raise ShapeError(f"conv_transpose groups={self.groups} must divide C_in={c_in}")
        return scatter_table(tuple(in_shape[1:]), self._out_spatial(in_shape, w),
                             tuple(w.shape[2:]), tuple(self.stride),
                             tuple(b for b, _ in self.padding), tuple(self.dilation))

    def _out_spatial(self, in_shape: Shape, w: np.ndarray) -> tuple[int, ...]:
        out = []
        for length, k, s, (pb, pe), op, d in zip(in_shape[1:], w.shape[2:], self.stride,
                                                 self.padding, self.output_padding,
                                                 self.dilation):
            if s < 1 or d < 1 or pb < 0 or pe < 0 or op < 0:
                raise ShapeError(f"conv_transpose: stride and dilation must be >= 1, padding "
                                 f"and output_padding >= 0; got stride={self.stride} "
                                 f"dilation={self.dilation} padding={self.padding} "
                                 f"output_padding={self.output_padding}")
            if op >= max(s, d):
                raise ShapeError(f"conv_transpose: output_padding={self.output_padding} must "
                                 f"be smaller than the stride {self.stride} or the dilation "
                                 f"{self.dilation} of its axis (as in torch); add end padding "
                                 f"with a pad node instead")
            n = transposed_length(length, k, s, pb, pe, op, d)
            if n < 1:
                raise ShapeError(f"conv_transpose: padding={self.padding} removes the whole "
                                 f"output of an axis of length {length} (kernel {k}, stride "
                                 f"{s}, dilation {d}, output_padding {op})")
            out.append(n)
        return tuple(out)

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        w = param(params, self.weight, self)
        self.table(in_shapes[0], params)
        c_out = self.out_channels(params)
        if self.bias is not None and param(params, self.bias, self).shape != (c_out,):
            raise ShapeError(f"conv_transpose bias {self.bias!r} must have shape ({c_out},)")
        return (c_out,) + self._out_spatial(in_shapes[0], w)

    def linear(self, xs: Sequence[np.ndarray],
               params: Mapping[str, np.ndarray]) -> np.ndarray:
        x = xs[0]
        w = params[self.weight]
        table = self.table(x.shape[1:], params)
        out_spatial = self._out_spatial(x.shape[1:], w)
        b, c_in, g = x.shape[0], x.shape[1], self.groups
        c_group = w.shape[1]
        xg = x.reshape(b, g, c_in // g, -1)                        # [B, g, C_in/g, I]
        wg = w.reshape(g, c_in // g, c_group, -1)                  # [g, C_in/g, C_out/g, K]
        taps = np.einsum("bgci,gcdk->bgdik", xg, wg, optimize=True)
        taps = taps.reshape(b, g * c_group, table.index.size)      # [B, C_out, I * K]
        n_out = int(np.prod(out_spatial))
        # scatter-add through the table; taps that fall outside the output go to a spare
        # last slot, which is dropped
        target = np.where(table.index >= 0, table.index, n_out).ravel()
        y = np.zeros((b, g * c_group, n_out + 1), dtype=np.result_type(x, w))
        np.add.at(y, (slice(None), slice(None), target), taps)
        return y[:, :, :n_out].reshape((b, g * c_group) + out_spatial)
