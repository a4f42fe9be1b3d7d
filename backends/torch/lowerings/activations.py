"""ReLU and LeakyReLU: ``z if z > 0 else slope * z``; the units are the pre-activations.

A unit is active when ``z > 0`` (``z == 0`` takes the inactive branch, as in the numpy
reference and torch's autograd). Frozen, the op is the diagonal map ``slopes * v``.
"""

from __future__ import annotations

import torch

from plnet.backends.torch.lowerings.base import PatternLowering, flat_size, lowers
from plnet.ops import LeakyReLU, ReLU


@lowers(ReLU)
class ReluLowering(PatternLowering):
    elementwise = True
    fused_role = "leaky"
    #: the inactive branch's slope
    slope = 0.0

    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        self.num_units = flat_size(in_shapes[0])

    def forward(self, xs, params):
        z = xs[0]
        if self.slope == 0.0:
            return torch.relu(z)
        return torch.where(z > 0, z, z * self.slope)

    def indicator(self, z):
        return (z > 0).detach()

    def units(self, z, frozen):
        return z.reshape(z.shape[0], -1)

    def unit_tangents(self, t, frozen):
        return t.reshape(t.shape[0], t.shape[1], -1)  # R stays 1 for shared tangents

    def slopes(self, frozen, dtype):
        if self.slope == 0.0:
            return frozen.unsqueeze(1).to(dtype)
        one = torch.ones((), dtype=dtype, device=frozen.device)
        return torch.where(frozen, one, one * self.slope).unsqueeze(1)

    def tangent(self, ts, params, frozen=None, out=None):
        slopes = self.slopes(frozen, ts[0].dtype)
        if out is None:
            return ts[0] * slopes
        return torch.mul(ts[0], slopes, out=out(torch.broadcast_shapes(ts[0].shape,
                                                                       slopes.shape)))

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.diagonal(jacs[0], self.slopes(frozen, rec.dtype).reshape(frozen.shape[0], -1))

    def key(self, frozen):
        return frozen.reshape(frozen.shape[0], -1).to(torch.int64)


@lowers(LeakyReLU)
class LeakyReluLowering(ReluLowering):
    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        self.slope = float(op.alpha)
