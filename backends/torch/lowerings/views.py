"""Linear views: flatten, reshape, transpose, slice, take, concat, zero pad.

In the Appendix-D recursion a reshape keeps the Jacobian as it is; every other view moves
Jacobian rows, found once by running the view on numbered positions (``positions``).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from plnet.backends.torch.lowerings.base import AffineLowering, flat_size, lowers, pad_args
from plnet.ops import Concat, Flatten, Pad, Reshape, Slice, Take, Transpose


@lowers(Flatten, Reshape)
class ReshapeLowering(AffineLowering):
    supports_recursion = True
    fused_role = "reshape"
    #: a reshape keeps the elements in order (a dense consumer may take it unflattened)
    flattens = True

    def linear(self, xs, params):
        return xs[0].reshape((xs[0].shape[0],) + self.out_shape)

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.view(jacs[0])


class GatherViewLowering(AffineLowering):
    """A view whose output elements are input elements (or zeros), in another order."""

    supports_recursion = True

    @functools.cached_property
    def positions(self) -> torch.Tensor:
        """``[n_out]`` long: output element i is element ``p - 1`` of the concatenated
        flat inputs, or a zero where ``p == 0``."""
        numbered, offset = [], 1
        for shape in self.in_shapes:
            size = flat_size(shape)
            numbered.append(torch.arange(offset, offset + size, dtype=torch.float64)
                            .reshape((1,) + shape))
            offset += size
        return self.linear(numbered, {}).reshape(-1).to(torch.long)

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.gather(jacs, self.positions)


@lowers(Transpose)
class TransposeLowering(GatherViewLowering):
    def linear(self, xs, params):
        return xs[0].permute((0,) + tuple(p + 1 for p in self.op.perm))


@lowers(Slice)
class SliceLowering(GatherViewLowering):
    def linear(self, xs, params):
        x = xs[0]
        axis = self.op.axis % (x.dim() - 1) + 1
        index = [slice(None)] * x.dim()
        index[axis] = slice(self.op.start, self.op.stop, self.op.step)
        return x[tuple(index)]


@lowers(Take)
class TakeLowering(GatherViewLowering):
    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        rank = len(in_shapes[0])
        self.axis = op.axis % rank + 1
        length = in_shapes[0][self.axis - 1]
        self.indices = torch.as_tensor([i % length for i in op.indices], dtype=torch.long)

    def linear(self, xs, params):
        x = xs[0]
        if len(self.indices) == 1 and not self.op.keepdim:
            return x.select(self.axis, int(self.indices[0]))
        y = x.index_select(self.axis, self.indices.to(x.device))
        return y if self.op.keepdim else y.squeeze(self.axis)


@lowers(Concat)
class ConcatLowering(GatherViewLowering):
    def linear(self, xs, params):
        return torch.cat(list(xs), dim=self.op.axis % (xs[0].dim() - 1) + 1)


@lowers(Pad)
class PadLowering(GatherViewLowering):
    def linear(self, xs, params):
        return F.pad(xs[0], pad_args(self.op.pads))
