"""N-ary addition (residual connections)."""

from __future__ import annotations

import torch

from plnet.backends.torch.lowerings.base import AffineLowering, lowers
from plnet.ops import Add


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

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.sum(jacs)
