"""Max pooling, 1-d and 2-d (paper, Appendix E): max over windows by a gather of the window
table; padded slots point at an extra ``-inf`` column, so padding never wins.

A window with n valid positions yields n - 1 comparison units ``z_sel - z_j``, the other
valid positions j in window-slot order, as :meth:`plnet.ops.MaxPool.units`. Frozen, the op
selects one input row per output (:meth:`selection_rows`).
"""

from __future__ import annotations

import numpy as np
import torch

from plnet.backends.torch.lowerings.base import PatternLowering, as_index, flat_size, lowers
from plnet.backends.torch.patches import Patches, UnitPatches, window_args, window_taps
from plnet.ops import MaxPool


@lowers(MaxPool)
class MaxPoolLowering(PatternLowering):
    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        table, order, rows = op.comparison_layout(in_shapes[0])
        self.channels = in_shapes[0][0]
        self.n_in = flat_size(in_shapes[0][1:])
        self.window = as_index(np.where(table.index >= 0, table.index, self.n_in))
        self.valid_first = as_index(order)
        self.slot_rank = as_index(np.argsort(order, axis=1))
        row_o, row_j = np.nonzero(rows)  # the comparison rows of one channel, C order
        self.row_out = as_index(row_o)
        self.row_j = as_index(row_j)
        self.num_units = int(self.channels * len(row_o))
        self._on_device = {}

    def tables(self, device):
        """``(window, valid_first, slot_rank, row_out, row_j)`` on ``device``."""
        if device not in self._on_device:
            self._on_device[device] = tuple(t.to(device) for t in (
                self.window, self.valid_first, self.slot_rank, self.row_out, self.row_j))
        return self._on_device[device]

    def columns(self, z):
        """``[B, C, O, K]``: every window's values (``-inf`` in padding)."""
        b = z.shape[0]
        flat = z.reshape(b, self.channels, self.n_in)
        pad = flat.new_full((b, self.channels, 1), float("-inf"))
        return torch.cat([flat, pad], dim=2)[:, :, self.tables(z.device)[0]]

    def forward(self, xs, params):
        z = xs[0]
        return self.columns(z).amax(dim=-1).reshape((z.shape[0],) + self.out_shape)

    def indicator(self, z):
        """``(slot [B, C, O], selected input position [B, C, O], compared position [B, C, R])``."""
        with torch.no_grad():
            window, _, _, row_out, _ = self.tables(z.device)
            outputs = torch.arange(window.shape[0], device=z.device)
            slot = self.columns(z).argmax(dim=-1)  # first maximum, as torch and numpy
            return slot, window[outputs, slot], window[row_out, self.other_slots(slot)]

    def other_slots(self, slot):
        """``[B, C, R]``: the window slot each comparison row compares with the selected
        ``slot [B, C, O]``: the j-th other valid slot, skipping the selected one in
        valid-first order."""
        window, valid_first, slot_rank, row_out, row_j = self.tables(slot.device)
        outputs = torch.arange(window.shape[0], device=slot.device)
        rank = slot_rank[outputs, slot][..., row_out]
        pos = (row_j + (row_j >= rank).to(row_j.dtype)).clamp(max=window.shape[1] - 1)
        return valid_first[row_out, pos]

    def patch_pattern(self, p, frozen, geometry, alloc=None):
        """Receptive-field tangents (:mod:`plnet.backends.torch.patches`): every window
        slot's input box placed at its offset in the output box (``[R, O, K, box]``); the
        output takes the selected slot's, a comparison unit the selected minus the other."""
        slot = frozen[0]
        b, n_out = slot.shape[0], slot.shape[2]
        t, k = p.t, self.tables(slot.device)[0].shape[1]
        box = (t.shape[3],) + geometry.size + (self.channels,)
        shape = (t.shape[0],) + tuple(self.out_shape[1:]) + (k,) + box
        placed = alloc(shape, "placed") if alloc is not None else t.new_zeros(shape)
        for tap, view, (rows, cols) in window_taps(p, *window_args(self.op), self.out_shape[1:]):
            placed[:, :, :, tap, :, rows, cols] = view
        placed = placed.expand((b,) + placed.shape[1:]).reshape((b, n_out * k) + box)

        def pick(flat_slot):  # [B, C, M] indices into O * K -> [B, M, box]
            index = flat_slot.permute(0, 2, 1)[:, :, None, None, None, :]
            return placed.gather(1, index.expand((b, flat_slot.shape[2]) + box))

        outputs = torch.arange(n_out, device=slot.device) * k
        _, _, _, row_out, _ = self.tables(slot.device)
        pooled = pick(slot + outputs)
        units = pooled[:, row_out] - pick(self.other_slots(slot) + row_out * k)
        n_rows = row_out.shape[0]
        unit_of = (torch.arange(n_rows, device=slot.device)[:, None]
                   + torch.arange(self.channels, device=slot.device)[None, :] * n_rows)
        wo = self.out_shape[2]
        tangent = Patches(pooled.reshape((b,) + tuple(self.out_shape[1:]) + box), geometry)
        return UnitPatches(units, row_out // wo, row_out % wo, unit_of, geometry), tangent

    def pairs(self, t, frozen):
        """Tangents (or values) at the selected and compared positions, ``[B, K, C, R]``."""
        _, selected, other = frozen
        b, k = selected.shape[0], t.shape[1]
        flat = t.expand((b,) + t.shape[1:]).reshape(b, k, self.channels, self.n_in)
        sel = selected[..., self.row_out.to(t.device)].unsqueeze(1).expand(b, k, -1, -1)
        oth = other.unsqueeze(1).expand(b, k, -1, -1)
        return flat.gather(3, sel), flat.gather(3, oth)

    def units(self, z, frozen):
        sel, oth = self.pairs(z.unsqueeze(1), frozen)
        return (sel - oth).reshape(z.shape[0], -1)

    def unit_tangents(self, t, frozen):
        sel, oth = self.pairs(t, frozen)
        return (sel - oth).reshape(sel.shape[0], sel.shape[1], -1)

    def tangent(self, ts, params, frozen=None, out=None):
        _, selected, _ = frozen
        b, k = selected.shape[0], ts[0].shape[1]
        flat = ts[0].expand((b,) + ts[0].shape[1:]).reshape(b, k, self.channels, self.n_in)
        index = selected.reshape(b, 1, self.channels, -1).expand(b, k, -1, -1)
        if out is None:
            return flat.gather(3, index).reshape((b, k) + self.out_shape)
        result = torch.gather(flat, 3, index, out=out(tuple(index.shape)))
        return result.reshape((b, k) + self.out_shape)

    def selection_rows(self, frozen):
        """Flat input rows ``[B, n]``: each output's selected row, and each unit's
        minuend and subtrahend rows."""
        _, selected, other = frozen
        b = selected.shape[0]
        base = (torch.arange(self.channels, device=selected.device) * self.n_in).view(1, -1, 1)
        plus = selected[..., self.row_out.to(selected.device)] + base
        return ((selected + base).reshape(b, -1), plus.reshape(b, -1),
                (other + base).reshape(b, -1))

    def jacobian_step(self, rec, jacs, params, frozen=None):
        return rec.select(jacs[0], *self.selection_rows(frozen))

    def key(self, frozen):
        return frozen[0].reshape(frozen[0].shape[0], -1)
