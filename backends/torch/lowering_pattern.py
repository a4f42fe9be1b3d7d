"""Torch lowering of the pattern-carrying ops: ReLU, LeakyReLU and max pooling.

Besides ``forward``, a pattern lowering exposes what the gradient engines need once the
activation pattern is frozen (the paper's Appendix C and E):

- ``indicator(z)``: the pattern of a batch (computed without autograd);
- ``units(z, ind)``: every unit's value ``[B, n]``, in the numpy reference's order;
- ``unit_tangents(v, ind)``: the same units applied to tangents ``[R, K, *in]`` (R = B or
  1, shared) -> ``[R', K, n]`` (R' = 1 only when the units' tangents are shared too);
- ``apply(v, ind, out=None)``: the op's local linear map on tangents -> ``[B, K, *out]``
  (``out(shape)``, when given, returns reusable memory to write the result to);
- ``key(ind)``: ``[B, m]`` integers, equal rows iff equal patterns.
"""

from __future__ import annotations

import numpy as np
import torch

from plnet.backends.torch.lowering import as_index, flat_size, lowers
from plnet.ops import LeakyReLU, MaxPool, ReLU


@lowers(ReLU, LeakyReLU)
class ReluLowering:
    """``z if z > 0 else slope * z``; units are the pre-activations (z == 0 is inactive)."""

    carries_pattern = True

    def __init__(self, op, in_shapes, out_shape):
        self.op, self.in_shape = op, in_shapes[0]
        self.slope = float(op.alpha) if isinstance(op, LeakyReLU) else 0.0
        self.num_units = flat_size(self.in_shape)

    def forward(self, xs, params):
        z = xs[0]
        if self.slope == 0.0:
            return torch.relu(z)
        return torch.where(z > 0, z, z * self.slope)

    def indicator(self, z):
        return (z > 0).detach()

    def units(self, z, ind):
        return z.reshape(z.shape[0], -1)

    def unit_tangents(self, v, ind):
        return v.reshape(v.shape[0], v.shape[1], -1)  # R stays 1 for shared tangents

    def local_slopes(self, ind, dtype):
        """``[B, 1, *in]`` multipliers of the local linear map."""
        if self.slope == 0.0:
            return ind.unsqueeze(1).to(dtype)
        one = torch.ones((), dtype=dtype, device=ind.device)
        return torch.where(ind, one, one * self.slope).unsqueeze(1)

    def apply(self, v, ind, out=None):
        slopes = self.local_slopes(ind, v.dtype)
        if out is None:
            return v * slopes
        shape = torch.broadcast_shapes(v.shape, slopes.shape)
        return torch.mul(v, slopes, out=out(shape))

    def key(self, ind):
        return ind.reshape(ind.shape[0], -1).to(torch.int64)


@lowers(MaxPool)
class MaxPoolLowering:
    """Max over windows via a gather of the window table (padding never wins).

    A window with n valid positions yields n - 1 comparison units ``z_sel - z_j``, the
    other valid positions j in window-slot order, as :meth:`plnet.ops.MaxPool.units`.
    """

    carries_pattern = True

    def __init__(self, op, in_shapes, out_shape):
        self.op, self.in_shape, self.out_shape = op, in_shapes[0], out_shape
        table, order, rows = op.comparison_layout(self.in_shape)
        n_out, n_slot = table.index.shape
        self.channels = self.in_shape[0]
        self.n_in = flat_size(self.in_shape[1:])
        # padded slots point at an extra -inf column appended to the input
        self.window = as_index(np.where(table.index >= 0, table.index, self.n_in))
        self.valid_first = as_index(order)
        self.slot_rank = as_index(np.argsort(order, axis=1))
        row_o, row_j = np.nonzero(rows)  # the comparison rows of one channel, C order
        self.row_out = as_index(row_o)
        self.row_j = as_index(row_j)
        self.num_units = int(self.channels * len(row_o))
        self._cache = {}

    def _tables(self, device):
        if device not in self._cache:
            self._cache[device] = tuple(t.to(device) for t in (
                self.window, self.valid_first, self.slot_rank, self.row_out, self.row_j))
        return self._cache[device]

    def _columns(self, z):
        b = z.shape[0]
        flat = z.reshape(b, self.channels, self.n_in)
        pad = flat.new_full((b, self.channels, 1), float("-inf"))
        window = self._tables(z.device)[0]
        return torch.cat([flat, pad], dim=2)[:, :, window]  # [B, C, O, K]

    def forward(self, xs, params):
        z = xs[0]
        return self._columns(z).amax(dim=-1).reshape((z.shape[0],) + self.out_shape)

    def indicator(self, z):
        """``(slot [B, C, O], selected input position [B, C, O], compared position [B, C, R])``."""
        with torch.no_grad():
            window, valid_first, slot_rank, row_out, row_j = self._tables(z.device)
            slot = self._columns(z).argmax(dim=-1)  # first maximum, as torch and numpy
            selected = window[torch.arange(window.shape[0], device=z.device), slot]
            # the j-th other valid slot skips the selected one in valid-first order
            rank = slot_rank[torch.arange(window.shape[0], device=z.device), slot][..., row_out]
            pos = row_j + (row_j >= rank).to(row_j.dtype)
            pos = pos.clamp(max=window.shape[1] - 1)
            other_slot = valid_first[row_out, pos]
            other = window[row_out, other_slot]
            return slot, selected, other

    def _pairs(self, v, ind):
        """Tangents (or values) at the selected and compared positions, ``[B, K, C, R]``."""
        _, selected, other = ind
        b, k = selected.shape[0], v.shape[1]
        flat = v.expand((b,) + v.shape[1:]).reshape(b, k, self.channels, self.n_in)
        sel = selected[..., self.row_out.to(v.device)].unsqueeze(1).expand(b, k, -1, -1)
        oth = other.unsqueeze(1).expand(b, k, -1, -1)
        return flat.gather(3, sel), flat.gather(3, oth)

    def units(self, z, ind):
        sel, oth = self._pairs(z.unsqueeze(1), ind)
        return (sel - oth).reshape(z.shape[0], -1)

    def unit_tangents(self, v, ind):
        sel, oth = self._pairs(v, ind)
        return (sel - oth).reshape(sel.shape[0], sel.shape[1], -1)

    def apply(self, v, ind, out=None):
        _, selected, _ = ind
        b, k = selected.shape[0], v.shape[1]
        flat = v.expand((b,) + v.shape[1:]).reshape(b, k, self.channels, self.n_in)
        index = selected.reshape(b, 1, self.channels, -1).expand(b, k, -1, -1)
        if out is None:
            return flat.gather(3, index).reshape((b, k) + self.out_shape)
        result = torch.gather(flat, 3, index, out=out(tuple(index.shape)))
        return result.reshape((b, k) + self.out_shape)

    def key(self, ind):
        return ind[0].reshape(ind[0].shape[0], -1)
