"""N-ary addition (residual connections)."""

from __future__ import annotations

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

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.sum(jacs)
