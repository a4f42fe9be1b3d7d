"""Dense layers: ``x W^T + b`` over the last axis."""

from __future__ import annotations

import torch.nn.functional as F

from plnet.backends.torch.lowerings.base import AffineLowering, lowers
from plnet.ops import Dense


@lowers(Dense)
class DenseLowering(AffineLowering):
    supports_recursion = True
    fused_role = "dense"

    def weight_and_bias(self, params):
        """``(weight [out, in], bias [out] or None)``."""
        bias = params[self.op.bias] if self.op.bias is not None else None
        return params[self.op.weight], bias

    def forward(self, xs, params):
        return F.linear(xs[0], *self.weight_and_bias(params))

    def linear(self, xs, params):
        return F.linear(xs[0], params[self.op.weight])

    def offset(self, params):
        return params[self.op.bias] if self.op.bias is not None else None

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.matmul(jacs[0], params[self.op.weight], self.in_shapes[0])
