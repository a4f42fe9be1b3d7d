"""Receptive-field patches in the numpy reference: which nodes run on them, and the
conversions to the ``[B, D, ...]`` tangents of the rest of :func:`plnet.linearize`.

The leading convolutional part of a network with a ``[C, H, W]`` input runs on
:class:`plnet.ops.patches.Patches` (each position's box of input axes, not all D of them)
while the boxes hold at most :data:`PATCH_FRACTION` of the D axes. Pattern nodes in patch
form write their units' gradients straight into the ``[B, D, N]`` buffer (zeros outside
the boxes); the nodes that later, dense steps read (or the output) are converted back to
ordinary tangents by :func:`densify`.
"""

from __future__ import annotations

import math

import numpy as np

from plnet.ops.patches import Geometry, Patches, UnitPatches

#: a node stays in patch form while its box holds at most this fraction of the D axes
#: (beyond it the patches cost about as much as the dense tangents, and overlap more);
#: 0 switches the patches off, ``inf`` puts every node with a patch rule on them
PATCH_FRACTION = 0.5


class PatchPlan:
    """Which nodes of a network run on patches, and which of them later steps read densely.

    Attributes:
        geometry: node -> its :class:`Geometry` (patch nodes only; empty when the patches
            would give no pattern node's units, i.e. save nothing).
        handover: patch nodes that a dense step reads, or the output (see :func:`densify`).
    """

    def __init__(self, net, usable=None):
        """Args:
            net: the network.
            usable: None, or ``usable(node) -> bool``: whether the engine at hand has the
                node's patch rule (the torch backend's lowerings opt in one by one).
        """
        self.geometry: dict[str, Geometry] = {}
        self.handover: set[str] = set()
        shape = tuple(net.input_shape)
        if len(shape) == 3:
            self._place(net, shape, usable)
        if not any(net.op(n).carries_pattern for n in self.geometry):
            self.geometry, self.handover = {}, set()

    def _place(self, net, shape, usable):
        d = math.prod(shape)
        for name in net.order:
            ins = net.inputs_of(name)
            if not ins:
                self.geometry[name] = Geometry((1, 1), (0, 0), (1, 1))
                continue
            rule = getattr(net.op(name), "patch_geometry", None)
            if usable is not None and not usable(name):
                rule = None
            known = [self.geometry.get(u) for u in ins]
            g = None if rule is None or None in known else rule(known, net.params)
            if g is None or shape[0] * g.size[0] * g.size[1] > PATCH_FRACTION * d:
                self.handover.update(u for u in ins if u in self.geometry)
            else:
                self.geometry[name] = g
        if net.output in self.geometry:
            self.handover.add(net.output)


def identity_patches(input_shape) -> Patches:
    """The input's own tangents: pixel ``(c, y, x)`` is axis ``c`` of its 1 x 1 box."""
    c, h, w = input_shape
    t = np.zeros((1, h, w, c, 1, 1, c))
    t[0, :, :, np.arange(c), 0, 0, np.arange(c)] = 1.0
    return Patches(t, Geometry((1, 1), (0, 0), (1, 1)))


def patch_node(op, z, ps: list[Patches], params, geometry: Geometry, target, input_shape):
    """Run one node on patches; a pattern op's units' gradients go to ``target [B, D, n]``.

    Returns:
        ``(patches, indicator, unit values, signs)`` (the last three None for an affine op).
    """
    indicator = values = signs = None
    if op.carries_pattern:
        indicator, _ = op.pattern(z)
        # the values and signs alone: K = 0 tangents
        values, _, signs = op.units(z, np.zeros((z.shape[0], 0) + z.shape[1:]), indicator)
    if hasattr(op, "patch_pattern"):  # units that are not the input's elements
        units, out = op.patch_pattern(ps[0], indicator, geometry)
    else:
        units = elementwise_units(ps[0]) if op.carries_pattern else None
        out = op.patch_tangent(ps, params, indicator, geometry)
    if units is not None:
        write_gradients(units, target, input_shape)
    return out, indicator, values, signs


class Handover:
    """The dense tangents of patch nodes, converted once and kept until their last reader.

    Args:
        input_shape: the network's per-sample input shape.
        last_use: node -> the last node that reads it.
    """

    def __init__(self, input_shape, last_use):
        self.input_shape, self.last_use, self.kept = input_shape, last_use, {}

    def tangents(self, node, jac, reader=None):
        """``jac``, converted to ``[R, D, *shape]`` if it is the patches of ``node``, for
        ``reader`` (None: the last)."""
        if not isinstance(jac, Patches):
            return jac
        dense = self.kept.get(node)
        if dense is None:
            dense = self.kept[node] = densify(jac, self.input_shape)
        if reader is None or self.last_use.get(node) == reader:
            del self.kept[node]
        return dense


def elementwise_units(p: Patches) -> UnitPatches:
    """The units of an elementwise pattern op: its input's elements, in (C, H, W) order."""
    r, h, w, c_in, pa, pb, c = p.t.shape
    u = p.t.transpose(0, 6, 1, 2, 3, 4, 5).reshape(r, c * h * w, c_in, pa, pb)
    position = np.arange(h * w)
    return UnitPatches(u, np.tile(position // w, c), np.tile(position % w, c), p.geometry)


def _box_axes(rows, cols, geometry: Geometry, box, input_shape):
    """``(input axis, inside the image)`` of every entry ``[k, Cin, Pa, Pb]`` of the boxes
    at spatial positions ``rows [k]``, ``cols [k]``."""
    c_in, h, w = input_shape
    (s0, s1), (o0, o1) = geometry.stride, geometry.origin
    iy = rows[:, None] * s0 + o0 + np.arange(box[1])  # [k, Pa]
    ix = cols[:, None] * s1 + o1 + np.arange(box[2])  # [k, Pb]
    inside = ((iy >= 0) & (iy < h))[:, :, None] & ((ix >= 0) & (ix < w))[:, None, :]
    pixel = iy[:, :, None] * w + ix[:, None, :]
    axis = np.arange(c_in)[None, :, None, None] * (h * w) + pixel[:, None]
    return axis, np.broadcast_to(inside[:, None], axis.shape)


def write_gradients(units: UnitPatches, target: np.ndarray, input_shape) -> None:
    """Write the units' full gradients into ``target [B, D, n]``: zeros, then each box's
    entries inside the image."""
    r, n = units.u.shape[:2]
    axis, inside = _box_axes(units.rows, units.cols, units.geometry, units.u.shape[2:],
                             input_shape)
    unit = np.broadcast_to(np.arange(n)[:, None, None, None], axis.shape)
    target[...] = 0.0
    target[:, axis[inside], unit[inside]] = units.u.reshape(r, -1)[:, inside.reshape(-1)]


def densify(p: Patches, input_shape) -> np.ndarray:
    """Ordinary tangents ``[R, D, C, H, W]`` of patches."""
    r, h, w, c_in, pa, pb, c = p.t.shape
    position = np.arange(h * w)
    axis, inside = _box_axes(position // w, position % w, p.geometry, (c_in, pa, pb),
                             input_shape)
    where = np.broadcast_to(position[:, None, None, None], axis.shape)
    dense = np.zeros((r, math.prod(input_shape), h * w, c))
    dense[:, axis[inside], where[inside]] = p.t.reshape(r, -1, c)[:, inside.reshape(-1)]
    return dense.reshape(r, -1, h, w, c).transpose(0, 1, 4, 2, 3)
