"""Sliding-window geometry shared by convolution, average pooling and max pooling.

One routine computes, for every output position, the flat input positions its window
covers (``-1`` where the window hangs over padding or past the end). Convolution, average
and max pooling are then gathers over that table, which handles stride, asymmetric padding,
dilation and ceil_mode identically for all three ops.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Op, Shape


@dataclasses.dataclass(frozen=True)
class WindowTable:
    """Windows of one spatial geometry.

    Attributes:
        out_spatial: output spatial shape.
        index: ``[O, K]`` flat input positions (``-1`` outside the input).
        in_padded: ``[O, K]`` True where the position lies inside input + declared padding
            (what ``count_include_pad`` counts).
    """

    out_spatial: tuple[int, ...]
    index: np.ndarray
    in_padded: np.ndarray


def output_length(length: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                  dilation: int, ceil_mode: bool, what: str = "window") -> int:
    """Output length of one spatial axis (torch's and ONNX's rule, ceil_mode included)."""
    extent = dilation * (kernel - 1) + 1
    span = length + pad_begin + pad_end - extent
    if ceil_mode:
        # floor division rounds toward -inf, so this is ceil(span / stride) + 1 even when the
        # window is longer than the padded input (torch then still emits one window)
        out = -(-span // stride) + 1
        # the last window must start inside the input or its left padding
        if (out - 1) * stride >= length + pad_begin:
            out -= 1
    else:
        out = span // stride + 1
    if span < 0 and not ceil_mode or out < 1:
        raise ShapeError(f"{what}: the window (kernel {kernel}, dilation {dilation}) is larger "
                         f"than the padded input ({length} + {pad_begin} + {pad_end})")
    return out


@functools.lru_cache(maxsize=256)
def window_table(spatial: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                 padding: tuple[tuple[int, int], ...], dilation: tuple[int, ...],
                 ceil_mode: bool, what: str = "window") -> WindowTable:
    """Build the :class:`WindowTable` of one geometry (cached: geometries are static)."""
    per_axis = []
    for length, k, s, (pb, pe), d in zip(spatial, kernel, stride, padding, dilation):
        if k < 1 or s < 1 or d < 1 or pb < 0 or pe < 0:
            raise ShapeError(f"{what}: kernel, stride and dilation must be >= 1 and padding "
                             f">= 0, got kernel={kernel} stride={stride} dilation={dilation} "
                             f"padding={padding}")
        n_out = output_length(length, k, s, pb, pe, d, ceil_mode, what)
        pos = (np.arange(n_out) * s - pb)[:, None] + np.arange(k)[None, :] * d  # [O_a, K_a]
        valid = (pos >= 0) & (pos < length)
        in_padded = pos < length + pe
        per_axis.append((n_out, pos, valid, in_padded))

    return _combine_axes(spatial, per_axis)


def _combine_axes(spatial, per_axis) -> WindowTable:
    """One table from per-axis ``(n_out, pos [O_a, K_a], valid, in_padded)``."""
    out_spatial = tuple(a[0] for a in per_axis)
    flat = np.zeros((1, 1), dtype=np.int64)
    valid = np.ones((1, 1), dtype=bool)
    padded = np.ones((1, 1), dtype=bool)
    for length, (n_out, pos, v, p) in zip(spatial, per_axis):
        # outer product of this axis with the ones before: [O, K] x [O_a, K_a]
        flat = (flat[:, None, :, None] * length + pos[None, :, None, :])
        valid = valid[:, None, :, None] & v[None, :, None, :]
        padded = padded[:, None, :, None] & p[None, :, None, :]
        o, oa, k, ka = flat.shape
        flat, valid, padded = (a.reshape(o * oa, k * ka) for a in (flat, valid, padded))
    index = np.where(valid, flat, -1)
    index.setflags(write=False)
    padded.setflags(write=False)
    return WindowTable(out_spatial, index, padded)


@functools.lru_cache(maxsize=256)
def scatter_table(in_spatial: tuple[int, ...], out_spatial: tuple[int, ...],
                  kernel: tuple[int, ...], stride: tuple[int, ...],
                  pad_begin: tuple[int, ...], dilation: tuple[int, ...]) -> WindowTable:
    """The windows of a transposed convolution, read as the convolution it is the adjoint of.

    Row ``i`` lists, for input position ``i`` of the transposed convolution, the flat
    positions of its ``[*out_spatial]`` output that kernel tap ``k`` writes to: those the
    convolution of stride ``stride``, dilation ``dilation`` and begin padding ``pad_begin``
    over ``out_spatial`` reads for its output ``i`` (``-1`` past either end). Unlike
    :func:`window_table` the row count is given, not derived: output_padding and end
    padding only decide how many trailing positions exist.
    """
    per_axis = []
    for n_in, length, k, s, pb, d in zip(in_spatial, out_spatial, kernel, stride, pad_begin,
                                         dilation):
        pos = (np.arange(n_in) * s - pb)[:, None] + np.arange(k)[None, :] * d
        valid = (pos >= 0) & (pos < length)
        per_axis.append((n_in, pos, valid, valid))
    return _combine_axes(out_spatial, per_axis)


def gather_windows(x: np.ndarray, table: WindowTable, fill: float) -> np.ndarray:
    """``x [B, C, *spatial]`` -> ``[B, C, O, K]`` with ``fill`` outside the input."""
    b, c = x.shape[:2]
    flat = x.reshape(b, c, -1)
    ext = np.concatenate([flat, np.full((b, c, 1), fill, dtype=x.dtype)], axis=2)
    idx = np.where(table.index >= 0, table.index, flat.shape[2])
    return ext[:, :, idx]


def spatial_attrs(op: Op, n_spatial: int) -> None:
    """Check an op's kernel/stride/padding/dilation tuples against its spatial rank."""
    for name in ("kernel", "stride", "dilation"):
        value = getattr(op, name, None)
        if value is not None and len(value) != n_spatial:
            raise ShapeError(f"{op.type_name}: {name}={value} must have {n_spatial} entries "
                             f"(one per spatial axis)")
    padding = getattr(op, "padding")
    if len(padding) != n_spatial or any(len(p) != 2 for p in padding):
        raise ShapeError(f"{op.type_name}: padding={padding} must be {n_spatial} pairs "
                         f"(begin, end)")


def pooling_table(op: Op, in_shape: Shape) -> WindowTable:
    """The window table of a pooling op (fields kernel, stride, padding, dilation, ceil_mode)."""
    n_sp = len(op.kernel)
    spatial_attrs(op, n_sp)
    if len(in_shape) != n_sp + 1:
        raise ShapeError(f"{op.type_name} with a {n_sp}-d kernel needs per-sample input "
                         f"[C, *spatial] of rank {n_sp + 1}, got {tuple(in_shape)}")
    return window_table(tuple(in_shape[1:]), tuple(op.kernel), tuple(op.stride),
                        tuple(tuple(p) for p in op.padding), tuple(op.dilation),
                        bool(op.ceil_mode), op.type_name)
