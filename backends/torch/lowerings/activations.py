"""ReLU, LeakyReLU and PReLU: ``z if z > 0 else slope * z``; the units are the
pre-activations.

A unit is active when ``z > 0`` (``z == 0`` takes the inactive branch, as in the numpy
reference and torch's autograd). Frozen, the op is the diagonal map ``slopes * v``. The
three lowerings differ only in :meth:`ReluLowering.negative_slope`.
"""

from __future__ import annotations

import torch

from plnet.backends.torch.lowerings.base import PatternLowering, flat_size, lowers
from plnet.backends.torch.cones import scaled
from plnet.backends.torch.patches import channel_scale
from plnet.ops import LeakyReLU, PReLU, ReLU


@lowers(ReLU)
class ReluLowering(PatternLowering):
    elementwise = True
    fused_role = "leaky"
    #: the inactive branch's slope (a constant: what the fused dense-chain pass reads)
    slope = 0.0

    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        self.num_units = flat_size(in_shapes[0])

    def negative_slope(self, params) -> float | torch.Tensor:
        """The inactive branch's slope: a number, or a tensor broadcast (right-aligned)
        against the per-sample shape."""
        return self.slope

    def forward(self, xs, params):
        z, slope = xs[0], self.negative_slope(params)
        if isinstance(slope, float) and slope == 0.0:
            return torch.relu(z)
        return torch.where(z > 0, z, z * slope)

    def indicator(self, z):
        return (z > 0).detach()

    def units(self, z, frozen):
        return z.reshape(z.shape[0], -1)

    def unit_tangents(self, t, frozen):
        return t.reshape(t.shape[0], t.shape[1], -1)  # R stays 1 for shared tangents

    def slopes(self, frozen, params, dtype):
        slope = self.negative_slope(params)
        if isinstance(slope, float) and slope == 0.0:
            return frozen.unsqueeze(1).to(dtype)
        one = torch.ones((), dtype=dtype, device=frozen.device)
        return torch.where(frozen, one, one * slope).unsqueeze(1)

    def tangent(self, ts, params, frozen=None, out=None):
        slopes = self.slopes(frozen, params, ts[0].dtype)
        if out is None:
            return ts[0] * slopes
        return torch.mul(ts[0], slopes, out=out(torch.broadcast_shapes(ts[0].shape,
                                                                       slopes.shape)))

    def cone_tangent(self, cones, params, frozen=None):
        """Forward cones (:mod:`plnet.backends.torch.cones`): the windows times their slopes."""
        return scaled(cones[0], self.slopes(frozen, params, cones[0].fwd.dtype)[:, 0])

    def patch_tangent(self, ps, params, frozen, geometry, alloc=None):
        return channel_scale(ps[0], self.slopes(frozen, params, ps[0].t.dtype).squeeze(1),
                             alloc)

    def jacobian_step(self, rec, jacs, params, frozen=None):
        slopes = self.slopes(frozen, params, rec.dtype)
        return rec.diagonal(jacs[0], slopes.reshape(frozen.shape[0], -1))

    def key(self, frozen):
        return frozen.reshape(frozen.shape[0], -1).to(torch.int64)


@lowers(LeakyReLU)
class LeakyReluLowering(ReluLowering):
    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        self.slope = float(op.alpha)


@lowers(PReLU)
class PReluLowering(ReluLowering):
    """The slope is the parameter ``op.slope``, read at call time (trained, tied)."""

    #: the fused dense-chain pass takes one constant slope per layer and has no gradient
    #: for it: PReLU networks take the general engines, which give the same numbers
    fused_role = None
    slope = None

    def negative_slope(self, params):
        return params[self.op.slope]
