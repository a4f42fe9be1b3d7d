"""Elementwise scale and shift (input normalization, folded batch-norm)."""

from __future__ import annotations

import torch

from plnet.backends.torch.lowerings.base import AffineLowering, lowers
from plnet.backends.torch.cones import scaled
from plnet.backends.torch.patches import Patches, channel_scale
from plnet.ops import ScaleShift


@lowers(ScaleShift)
class ScaleShiftLowering(AffineLowering):
    supports_recursion = True

    def forward(self, xs, params):
        y = self.linear(xs, params)
        return y + params[self.op.shift] if self.op.shift is not None else y

    def linear(self, xs, params):
        return xs[0] * params[self.op.scale] if self.op.scale is not None else xs[0]

    def offset(self, params):
        return params[self.op.shift] if self.op.shift is not None else None

    def cone_tangent(self, cones, params, frozen=None):
        """Forward cones (:mod:`plnet.backends.torch.cones`): each window times its crop
        of the scale."""
        if self.op.scale is None:
            return cones[0].t, cones[0].starts
        factor = torch.broadcast_to(params[self.op.scale], self.in_shapes[0])
        return scaled(cones[0], factor.unsqueeze(0))

    def patch_tangent(self, ps, params, frozen, geometry, alloc=None):
        if self.op.scale is None:
            return Patches(ps[0].t, geometry)
        factor = torch.broadcast_to(params[self.op.scale], self.in_shapes[0])
        return channel_scale(ps[0], factor.unsqueeze(0), alloc)

    def jacobian_step(self, rec, jacs, params, frozen=None):
        if self.op.scale is None:
            return rec.view(jacs[0])
        factor = torch.broadcast_to(params[self.op.scale], self.in_shapes[0])
        return rec.row_scale(jacs[0], factor.reshape(1, -1))
