"""Receptive-field tangents: the data and the box arithmetic of the ops' patch rules.

A unit of a node ``[C, H, W]`` at spatial position ``(y, x)`` of a convolutional prefix
depends only on the input pixels of its receptive field, a box of input rows
``[y * S + O, y * S + O + P)`` (and the same for columns). Such a node's tangents are kept
as :class:`Patches` ``t [R, H, W, Cin, Pa, Pb, C]``: for each position the ``Cin x Pa x Pb``
box of input axes around it, instead of all D axes. Entries of a box outside the image
are exact zeros. Ops opt in with ``patch_geometry(input geometries, params)`` and
``patch_tangent(input patches, params, indicator, geometry)`` (a pattern op whose units
are not its input's elements defines ``patch_pattern(patches, indicator, geometry)``);
:mod:`plnet.analysis.patches` runs them. A window op's tap ``t`` of output ``y`` reads
input position ``y s - p + t d``, whose box starts ``t d S`` after the output's.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Where each position's box lies, per spatial axis (rows, columns).

    Position ``y`` covers input rows ``[y * stride[0] + origin[0], ... + size[0])``.
    """

    stride: tuple[int, int]
    origin: tuple[int, int]
    size: tuple[int, int]


@dataclasses.dataclass
class Patches:
    """Receptive-field tangents ``t [R, H, W, Cin, Pa, Pb, C]`` (R = 1 while shared by all
    points) of a node ``[C, H, W]``, with their :class:`Geometry`."""

    t: np.ndarray
    geometry: Geometry

    @property
    def shape(self) -> tuple[int, int, int]:
        """The node's per-sample shape ``(C, H, W)``."""
        return (self.t.shape[-1],) + tuple(self.t.shape[1:3])


@dataclasses.dataclass
class UnitPatches:
    """A pattern op's units as boxes: ``u [R, n, Cin, Pa, Pb]`` in unit order; unit ``i``'s
    box sits at spatial position ``(rows[i], cols[i])`` of ``geometry``."""

    u: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    geometry: Geometry


def window_geometry(geometry: Geometry, kernel, stride, pad_begin, dilation) -> Geometry:
    """The boxes of a window op's outputs (``pad_begin``: the begin padding per axis)."""
    return Geometry(
        tuple(s * g for s, g in zip(stride, geometry.stride)),
        tuple(o - p * g for o, p, g in zip(geometry.origin, pad_begin, geometry.stride)),
        tuple(d * (k - 1) * g + size for d, k, g, size
              in zip(dilation, kernel, geometry.stride, geometry.size)))


def pooling_geometry(op, geometries) -> Geometry | None:
    """The output boxes of a pooling op (fields kernel, stride, padding, dilation); None
    for a 1-d pooling (no patch rule)."""
    if len(op.kernel) != 2:
        return None
    return window_geometry(geometries[0], op.kernel, op.stride, [b for b, _ in op.padding],
                           op.dilation)


def tap_layout(spatial, geometry: Geometry, kernel, stride, pad_begin, dilation, out_spatial):
    """Where a window op's taps read and write, for input patches of ``spatial (H, W)``.

    Returns:
        ``((Hp, Wp), taps)``: the zero-padded spatial size the taps read from (the input
        at offset ``pad_begin``), and per tap in raster order (the window tables' slot
        order) ``(tap, (rows, columns) of the padded patches each output reads, (rows,
        columns) of the output's box where they go)``.
    """
    need = [(n - 1) * s + d * (k - 1) + 1 for n, s, d, k in zip(out_spatial, stride, dilation,
                                                              kernel)]
    padded = tuple(max(n + b, m) for n, b, m in zip(spatial, pad_begin, need))
    (ho, wo), (s0, s1), (d0, d1) = out_spatial, stride, dilation
    taps = []
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            read = (slice(a * d0, a * d0 + s0 * (ho - 1) + 1, s0),
                    slice(b * d1, b * d1 + s1 * (wo - 1) + 1, s1))
            box = (slice(a * d0 * geometry.stride[0], a * d0 * geometry.stride[0]
                         + geometry.size[0]),
                   slice(b * d1 * geometry.stride[1], b * d1 * geometry.stride[1]
                         + geometry.size[1]))
            taps.append((a * kernel[1] + b, read, box))
    return padded, taps


def window_taps(p: Patches, kernel, stride, padding, dilation, out_spatial):
    """Yield ``(tap, view [R, Ho, Wo, Cin, Pa, Pb, C], (row slice, column slice))`` for every
    kernel tap (:func:`tap_layout`; ``padding`` as ``(begin, end)`` pairs): the input
    patches each output reads at that tap (zeros in padding and past the end), and where
    they go inside the output's box."""
    t = p.t
    h, w = t.shape[1:3]
    begin = [b for b, _ in padding]
    (hp, wp), taps = tap_layout((h, w), p.geometry, kernel, stride, begin, dilation,
                                out_spatial)
    if (hp, wp) != (h, w):
        padded = np.zeros((t.shape[0], hp, wp) + t.shape[3:])
        padded[:, begin[0]:begin[0] + h, begin[1]:begin[1] + w] = t
        t = padded
    for tap, (rows, cols), box in taps:
        yield tap, t[:, rows, cols], box


def patch_zeros(p: Patches, out_spatial, geometry: Geometry, channels: int) -> np.ndarray:
    """Zeros ``[R, *out_spatial, Cin, *geometry.size, channels]`` for a window op's output."""
    return np.zeros((p.t.shape[0],) + tuple(out_spatial) + (p.t.shape[3],) + geometry.size
                    + (channels,))


def channel_scale(p: Patches, factor: np.ndarray) -> Patches:
    """Multiply by a per-element ``factor [R', C, H, W]`` (a frozen slope, a scale)."""
    return Patches(p.t * factor.transpose(0, 2, 3, 1)[:, :, :, None, None, None, :],
                   p.geometry)


def aligned(geometries: list[Geometry]) -> Geometry | None:
    """The smallest geometry holding every box of ``geometries`` (None if their strides
    differ)."""
    if len({g.stride for g in geometries}) != 1:
        return None
    origin = tuple(min(g.origin[a] for g in geometries) for a in range(2))
    end = tuple(max(g.origin[a] + g.size[a] for g in geometries) for a in range(2))
    return Geometry(geometries[0].stride, origin, (end[0] - origin[0], end[1] - origin[1]))


def box_slices(inner: Geometry, outer: Geometry) -> tuple[slice, slice]:
    """Where the boxes of ``inner`` lie inside those of ``outer`` (same stride)."""
    r0 = inner.origin[0] - outer.origin[0]
    c0 = inner.origin[1] - outer.origin[1]
    return slice(r0, r0 + inner.size[0]), slice(c0, c0 + inner.size[1])
