"""Max pooling, 1-d and 2-d: a pattern-carrying op (paper, Appendix E).

A max-pool output's indicator is the window slot it selects. Each output whose window has
n valid positions contributes n - 1 comparison units ``z_sel - z_j >= 0`` to S(x).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import PatternOp, Shape, expect_shapes, register_op
from plnet.ops.patches import Geometry, Patches, UnitPatches, pooling_geometry, window_taps
from plnet.ops.windows import WindowTable, gather_windows, pooling_table


@functools.lru_cache(maxsize=256)
def _comparison_layout(index_bytes: bytes, shape: tuple[int, int]):
    """For each output, its valid slots first, and which comparison rows exist."""
    index = np.frombuffer(index_bytes, dtype=np.int64).reshape(shape)
    valid = index >= 0
    order = np.argsort(~valid, axis=1, kind="stable")  # valid slots first, in slot order
    n_valid = valid.sum(axis=1)
    rows = np.arange(shape[1] - 1)[None, :] < (n_valid - 1)[:, None]  # [O, K-1]
    return order, rows


def _gather(flat: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``flat [B, T, C, S]`` at positions ``idx [B, C, *rest]`` -> ``[B, T, C, *rest]``."""
    b, t, c, _ = flat.shape
    pos = idx.reshape(b, 1, c, -1)
    out = np.take_along_axis(flat, np.broadcast_to(pos, (b, t, c, pos.shape[3])), axis=3)
    return out.reshape((b, t) + idx.shape[1:])


@register_op
@dataclasses.dataclass(frozen=True)
class MaxPool(PatternOp):
    """Max over windows, as ``torch.nn.MaxPool1d/2d`` and ONNX ``MaxPool``.

    Padded positions never win (they hold -inf). Ties pick the first slot, like torch.

    Attributes:
        kernel, stride, dilation: per spatial axis.
        padding: ``(begin, end)`` per spatial axis.
        ceil_mode: round the output size up (partial last windows).
    """

    type_name = "max_pool"
    kernel: tuple[int, ...] = (1,)
    stride: tuple[int, ...] = (1,)
    padding: tuple[tuple[int, int], ...] = ((0, 0),)
    dilation: tuple[int, ...] = (1,)
    ceil_mode: bool = False

    def table(self, in_shape: Shape) -> WindowTable:
        """The window table of this max pooling for an input of shape ``in_shape``."""
        table = pooling_table(self, in_shape)
        if ((table.index >= 0).sum(axis=1) == 0).any():
            raise ShapeError("max_pool: some window lies entirely in the padding")
        return table

    def comparison_layout(self, in_shape: Shape
                          ) -> tuple[WindowTable, np.ndarray, np.ndarray]:
        """``(window table, valid-first slot order [O, K], comparison rows [O, K-1])``."""
        table = self.table(in_shape)
        order, rows = _comparison_layout(table.index.tobytes(), table.index.shape)
        return table, order, rows

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        table = self.table(in_shapes[0])
        return (in_shapes[0][0],) + table.out_spatial

    def num_units(self, in_shape: Shape) -> int:
        _, _, rows = self.comparison_layout(in_shape)
        return int(in_shape[0] * rows.sum())

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        x = xs[0]
        table = self.table(x.shape[1:])
        y = gather_windows(x, table, -np.inf).max(axis=-1)
        return y.reshape(x.shape[:2] + table.out_spatial)

    # --- activation pattern --------------------------------------------------------------
    def pattern(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        table = self.table(z.shape[1:])
        cols = gather_windows(z, table, -np.inf)  # [B, C, O, K]
        indicator = cols.argmax(axis=-1)  # first maximum, as torch
        n_max = (cols == cols.max(axis=-1, keepdims=True)).sum(axis=-1)
        ties = (n_max > 1).reshape(z.shape[0], -1).any(axis=1)
        return indicator, ties

    def _selected_flat(self, table, indicator):
        return table.index[np.arange(table.index.shape[0]), indicator]  # [B, C, O]

    def apply_pattern(self, v: np.ndarray, indicator: np.ndarray,
                      params: Mapping[str, np.ndarray]) -> np.ndarray:
        b, k = v.shape[:2]
        table = self.table(v.shape[2:])
        flat = v.reshape(b, k, v.shape[2], -1)
        sel = self._selected_flat(table, indicator)[:, None]  # [B, 1, C, O]
        out = np.take_along_axis(flat, np.broadcast_to(sel, (b, k) + sel.shape[2:]), axis=3)
        return out.reshape((b, k, v.shape[2]) + table.out_spatial)

    @staticmethod
    def _other_slots(order, indicator):
        """``[B, C, O, K-1]``: the slot comparison j of each output compares with the
        selected one: the j-th other slot in valid-first order."""
        n_out, n_slot = order.shape
        # position of the selected slot within the valid-first order of its window
        inv = np.argsort(order, axis=1)  # slot -> position
        sel_pos = inv[np.arange(n_out), indicator]  # [B, C, O]
        r = np.arange(n_slot - 1)
        other_pos = r + (r >= sel_pos[..., None])  # skip the selected slot
        return order[np.arange(n_out)[:, None], np.minimum(other_pos, n_slot - 1)]

    def _comparisons(self, z, v, indicator):
        """Values [B, C, O, K-1] and tangents [B, T, C, O, K-1] of every comparison slot."""
        table, order, rows = self.comparison_layout(z.shape[1:])
        n_out = table.index.shape[0]
        other_slot = self._other_slots(order, indicator)
        other_flat = table.index[np.arange(n_out)[:, None], other_slot]  # [B, C, O, K-1]
        other_flat = np.where(rows, other_flat, 0)
        sel_flat = self._selected_flat(table, indicator)[..., None]  # [B, C, O, 1]

        b, c = z.shape[:2]
        n_in = int(np.prod(z.shape[2:]))
        zf = z.reshape(b, 1, c, n_in)
        values = (_gather(zf, sel_flat) - _gather(zf, other_flat))[:, 0]
        vf = v.reshape(b, v.shape[1], c, n_in)
        tangents = _gather(vf, sel_flat) - _gather(vf, other_flat)
        return values, tangents, rows

    def crossed(self, in_shape: Shape, indicator: np.ndarray, unit: int) -> tuple[int, int]:
        # the unit compares the selected slot with another one: past its boundary that
        # other slot wins (the same walk over valid-first slots as _comparisons)
        table, order, rows = self.comparison_layout(in_shape)
        mask = np.broadcast_to(rows, (in_shape[0],) + rows.shape)
        c, o, r = np.argwhere(mask)[unit]
        sel_pos = int(np.argsort(order[o])[indicator[c, o]])
        other_slot = order[o, r + (r >= sel_pos)]
        return int(c * rows.shape[0] + o), int(other_slot)

    def units(self, z: np.ndarray, v: np.ndarray,
              indicator: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values, tangents, rows = self._comparisons(z, v, indicator)
        b, t = tangents.shape[:2]
        mask = np.broadcast_to(rows, values.shape[1:])  # [C, O, K-1]
        vals = values[:, mask]  # [B, n]
        tans = tangents[:, :, mask]  # [B, T, n]
        return vals, tans, np.ones_like(vals)

    def tie_units(self, z: np.ndarray, indicator: np.ndarray) -> np.ndarray:
        empty = np.zeros((z.shape[0], 0) + z.shape[1:], dtype=z.dtype)
        values, _, rows = self._comparisons(z, empty, indicator)
        mask = np.broadcast_to(rows, values.shape[1:])
        return values[:, mask] == 0

    # --- receptive-field patches (plnet.ops.patches) -----------------------------------
    def patch_geometry(self, geometries: Sequence[Geometry],
                       params: Mapping[str, np.ndarray]) -> Geometry | None:
        return pooling_geometry(self, geometries)

    def patch_pattern(self, p: Patches, indicator: np.ndarray,
                      geometry: Geometry) -> tuple[UnitPatches, Patches]:
        """Every window slot's input box placed at its offset in the output box; the output
        takes the selected slot's, a comparison unit the selected minus the other's."""
        c = p.shape[0]
        table, order, rows = self.comparison_layout(p.shape)
        (n_out, n_slot), (ho, wo) = table.index.shape, table.out_spatial
        r, c_in = p.t.shape[0], p.t.shape[3]
        placed = np.zeros((r, ho, wo, n_slot, c_in) + geometry.size + (c,))
        for tap, view, (rs, cs) in window_taps(p, self.kernel, self.stride, self.padding,
                                               self.dilation, table.out_spatial):
            placed[:, :, :, tap, :, rs, cs] = view
        # [R, O, K, C, Cin, Pa, Pb]: a box per (output, slot, channel)
        placed = np.moveaxis(placed.reshape((r, n_out, n_slot, c_in) + geometry.size + (c,)),
                             -1, 3)
        point = np.arange(indicator.shape[0])[:, None, None] if r > 1 else 0
        channel = np.arange(c)[None, :, None]
        pooled = placed[point, np.arange(n_out)[None, None, :], indicator, channel]
        row_o, row_j = np.nonzero(rows)  # the comparison rows of one channel, C order
        other = self._other_slots(order, indicator)[:, :, row_o, row_j]  # [B, C, R]
        units = pooled[:, :, row_o] - placed[point, row_o[None, None, :], other, channel]
        b, box = indicator.shape[0], (c_in,) + geometry.size
        tangent = pooled.reshape((b, c, ho, wo) + box).transpose(0, 2, 3, 4, 5, 6, 1)
        return (UnitPatches(units.reshape((b, -1) + box), np.tile(row_o // wo, c),
                            np.tile(row_o % wo, c), geometry), Patches(tangent, geometry))
