"""The network's input: the engines feed it (the batch, or the one-hot tangents)."""

from __future__ import annotations

from plnet.backends.torch.lowerings.base import AffineLowering, lowers
from plnet.ops import Input


@lowers(Input)
class InputLowering(AffineLowering):
    """The identity on what the engine feeds in."""

    supports_recursion = True

    def linear(self, xs, params):
        return xs[0]

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.identity()
