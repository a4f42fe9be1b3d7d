"""N-ary addition (residual connections)."""

from __future__ import annotations

import torch

from plnet.backends.torch.lowerings.base import AffineLowering, lowers
from plnet.backends.torch.cones import summed
from plnet.backends.torch.patches import Patches
from plnet.ops import Add
from plnet.ops.patches import box_slices


@lowers(Add)
class AddLowering(AffineLowering):
    supports_recursion = True

    def linear(self, xs, params):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out

    def tangent(self, ts, params, frozen=None, out=None):
        if out is None or len(ts) != 2:
            return super().tangent(ts, params, frozen)
        shape = torch.broadcast_shapes(ts[0].shape, ts[1].shape)
        # into reused memory: a fresh tensor of the tangents' size costs page faults
        return torch.add(ts[0], ts[1], out=out(shape))

    def cone_tangent(self, cones, params, frozen=None):
        """Forward cones (:mod:`plnet.backends.torch.cones`): per axis, the windows added
        inside their union (inputs of the output's shape only: no broadcasting)."""
        if any(tuple(s) != tuple(self.out_shape) for s in self.in_shapes):
            return None
        return summed(cones)

    def patch_tangent(self, ps, params, frozen, geometry, alloc=None):
        """The inputs' boxes added inside the union box (same stride: same positions)."""
        first = ps[0].t
        shape = (max(p.t.shape[0] for p in ps),) + tuple(first.shape[1:4]) + geometry.size \
            + (first.shape[-1],)
        out = alloc(shape) if alloc is not None else first.new_zeros(shape)
        for p in ps:
            rows, cols = box_slices(p.geometry, geometry)
            out[:, :, :, :, rows, cols] += p.t
        return Patches(out, geometry)

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.sum(jacs)
