"""The exact partition of a 1-d or 2-d affine slice of the input space into linear regions.

The slice is ``{x0 + a u + b v}`` over a box of ``(a, b)``. Every cell of the partition keeps
the affine map, in the slice coordinates, of every node's value on the cell: an array
``[1 + d, *shape]`` (the value at ``(a, b) = 0``, then one slope per coordinate). Nodes run in
topological order, as in Regioncam: an affine op maps the cells' maps; a pattern op first
splits every cell until its pattern is constant on the cell, then applies its local map.

- An elementwise op (ReLU, LeakyReLU, PReLU) splits each cell by each unit's zero line,
  one unit at a time, vectorized over the cells.
- Any other pattern op (max pooling) splits each cell by the first unit (a comparison
  ``z_sel - z_j``) that changes sign on it, given the pattern at the cell's interior
  point, until no unit does; cells that end with one pattern are then merged (the points of
  the box with one pattern form a convex set).

A unit whose value over a cell stays within ``SLICE_RTOL`` times its scale of zero on one
side does not split the cell: such a sliver is merged into the neighbouring cell.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from plnet.analysis.pattern import pattern_keys
from plnet.errors import NonFiniteError, PlnetError
from plnet.ops import Input
from plnet.regions.polygons import box, clip, evaluate, hull, interior, pad
from plnet.tolerances import SLICE_RTOL

if TYPE_CHECKING:
    from plnet.network import Network

#: a guard against a pattern op whose splitting does not settle (it always does in exact
#: arithmetic: every split is by a line that no later piece of the cell crosses again)
_MAX_ROUNDS = 100_000


@dataclasses.dataclass
class Cells:
    """A batch of M cells with every live node's affine map and every pattern so far.

    Attributes:
        verts: ``[M, K, d]`` padded vertices (counter-clockwise polygons, or intervals).
        counts: ``[M]`` vertices per cell.
        maps: node -> ``[M, 1 + d, *shape]``, the node's value as an affine map of the
            slice coordinates on each cell (dropped after the node's last consumer).
        indicators: pattern node -> ``[M, ...]`` activation indicators.
    """

    verts: np.ndarray
    counts: np.ndarray
    maps: dict[str, np.ndarray]
    indicators: dict[str, np.ndarray]

    def take(self, parent: np.ndarray, verts: np.ndarray, counts: np.ndarray) -> "Cells":
        """New cells with the given vertices, inheriting everything else from ``parent``."""
        return Cells(verts, counts, {k: v[parent] for k, v in self.maps.items()},
                     {k: v[parent] for k, v in self.indicators.items()})

    def keys(self) -> list[bytes]:
        """One key per cell for its pattern so far."""
        return pattern_keys(self.indicators, len(self.counts))


def partition(net: Network, origin: np.ndarray, directions: np.ndarray,
              bounds: tuple[float, ...]) -> Cells:
    """Split the box into cells on which every pattern node's pattern is constant.

    Args:
        net: the network.
        origin: ``x0``, of shape ``net.input_shape``.
        directions: ``[d, *net.input_shape]`` (d = 1 or 2).
        bounds: ``(lo, hi)`` or ``(a_lo, a_hi, b_lo, b_hi)``.
    """
    verts, counts = box(bounds)
    cells = Cells(verts, counts, {}, {})
    reach = np.abs(np.asarray(bounds, dtype=np.float64)).reshape(-1, 2).max(axis=1)
    last_use = {u: name for name in net.order for u in net.inputs_of(name)}
    with np.errstate(over="ignore", invalid="ignore"):
        for name in net.order:
            op = net.op(name)
            if isinstance(op, Input):
                cells.maps[name] = np.concatenate([origin[None], directions])[None]
                continue
            ins = [cells.maps[u] for u in net.inputs_of(name)]
            if op.carries_pattern:
                cells = _pattern_node(net, name, op, ins[0], cells, reach)
            else:
                cells.maps[name] = _affine(net, op, ins)
            _check_finite(cells.maps[name], name, op)
            for u in set(net.inputs_of(name)):
                if last_use.get(u) == name and u != net.output:
                    del cells.maps[u]
    return cells


def _affine(net, op, ins):
    """An affine op on affine maps: its linear part on values and slopes alike (one batch of
    ``M * (1 + d)``), plus its offset ``forward(0)`` on the values."""
    m, t = ins[0].shape[:2]
    out = op.linear([z.reshape((m * t,) + z.shape[2:]) for z in ins], net.params)
    out = out.reshape((m, t) + out.shape[1:])
    offset = op.forward([np.zeros((1,) + z.shape[2:]) for z in ins], net.params)[0]
    if offset.any():
        if any(np.shares_memory(out, z) for z in ins):  # a view's output: keep the input
            out = out.copy()
        out[:, 0] += offset
    return out


def _pattern_node(net, name, op, z, cells, reach):
    """Split the cells by the pattern op's units, then apply its local maps."""
    params = net.params
    probe, _ = op.pattern(z[:1, 0])
    elementwise = op.diagonal_slope(probe, params) is not None
    if elementwise:
        parent, verts, counts = _split_elementwise(op, z, cells, reach, probe)
    else:
        parent, verts, counts = _split_generic(op, z, cells, reach)
    cells = cells.take(parent, verts, counts)
    zin = z[parent]
    cells.indicators[name] = _indicator_inside(op, zin, verts, counts)
    cells.maps[name] = op.apply_pattern(zin, cells.indicators[name], params)
    # splitting by an elementwise op's units leaves one cell per pattern; by comparisons,
    # pieces of one pattern can stay apart
    if not elementwise and len(set(cells.keys())) < len(counts):
        cells = _merge_equal_patterns(cells)
    return cells


def _indicator_inside(op, z, verts, counts):
    """The op's indicators at each cell's interior point."""
    return op.pattern(_at(z, interior(verts, counts)))[0]


def _at(z, points):
    """Values ``[M, *shape]`` of the maps ``z [M, 1 + d, *shape]`` at ``points [M, d]``."""
    extra = (None,) * (z.ndim - 2)
    out = z[:, 0]
    for j in range(points.shape[1]):
        out = out + points[(slice(None), j) + extra] * z[:, 1 + j]
    return out


def _unit_maps(op, z, indicator):
    """Each unit's signed value as an affine map, ``[M, 1 + d, n]`` (>= 0 keeps the pattern)."""
    values, tangents, signs = op.units(z[:, 0], z[:, 1:], indicator)
    return np.concatenate([values[:, None], tangents], axis=1) * signs[:, None]


def _scale(coef, reach):
    """``|value at 0| + sum_j |slope_j| * reach_j``: the size of an affine map on the box."""
    scale = np.abs(coef[:, 0])
    for j in range(len(reach)):
        scale = scale + np.abs(coef[:, 1 + j]) * reach[j]
    return scale


def _crossing(coef, verts, tol):
    """Values of ``coef [M, 1 + d, ...]`` at the vertices ``[M, K, ...]``, and whether some
    vertex lies below ``-tol`` and another above ``tol`` (padding repeats a vertex)."""
    g = evaluate(coef, verts)
    return g, (g.min(axis=1) < -tol) & (g.max(axis=1) > tol)


def _snap(g, tol):
    """Values within ``tol`` of zero (``tol [M, ...]``) set to exactly 0: on the line."""
    return np.where(np.abs(g) <= tol[:, None], 0.0, g)


def _split_elementwise(op, z, cells, reach, probe):
    """Split by every unit's zero line in turn (the units do not depend on the pattern).

    A unit that does not cross a cell crosses none of its pieces, so each unit is checked
    only on the pieces of the cells it crossed at the start.
    """
    m = len(cells.counts)
    probe = np.broadcast_to(probe, (m,) + probe.shape[1:])
    coef = _unit_maps(op, z, probe)  # the sign flips with the pattern; the line does not
    tol = SLICE_RTOL * _scale(coef, reach)  # [M, n]
    crossed = _crossed_at_start(coef, cells.verts, tol)  # [M, n]
    parent, verts, counts = np.arange(m), cells.verts, cells.counts
    for r in np.flatnonzero(crossed.any(axis=0)):
        rows = np.flatnonzero(crossed[parent, r])
        g, crosses = _crossing(coef[parent[rows], :, r], verts[rows], tol[parent[rows], r])
        if crosses.any():
            rows = rows[crosses]
            g = _snap(g[crosses], tol[parent[rows], r])
            parent, verts, counts = _split(parent, verts, counts, rows, g)
    return parent, verts, counts


def _crossed_at_start(coef, verts, tol, chunk_entries=1 << 22):
    """``[M, n]``: which units cross which cells, in chunks of cells to bound memory."""
    m, k = verts.shape[:2]
    n = coef.shape[2]
    step = max(1, chunk_entries // max(1, k * n))
    out = np.empty((m, n), dtype=bool)
    for start in range(0, m, step):
        part = slice(start, start + step)
        out[part] = _crossing(coef[part], verts[part], tol[part])[1]
    return out


def _split_generic(op, z, cells, reach):
    """Split each cell by its first unit that changes sign on it, until none does."""
    parent, verts, counts = np.arange(len(cells.counts)), cells.verts, cells.counts
    done: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for _ in range(_MAX_ROUNDS):
        if len(parent) == 0:
            break
        zin = z[parent]
        coef = _unit_maps(op, zin, _indicator_inside(op, zin, verts, counts))
        tol = SLICE_RTOL * _scale(coef, reach)
        g, crosses = _crossing(coef, verts, tol)  # [M, K, n], [M, n]
        g = _snap(g, tol)
        busy = crosses.any(axis=1)
        done.append((parent[~busy], verts[~busy], counts[~busy]))
        if not busy.any():
            break
        unit = crosses[busy].argmax(axis=1)
        g = g[busy][np.arange(int(busy.sum())), :, unit]
        parent, verts, counts = _split(parent[busy], verts[busy], counts[busy],
                                       np.arange(int(busy.sum())), g)
    else:
        raise PlnetError(f"slice: splitting by {op.type_name} did not settle after "
                         f"{_MAX_ROUNDS} rounds")
    parents = np.concatenate([d[0] for d in done])
    verts, counts = pad([v[:c] for part in done for v, c in zip(part[1], part[2])]
                        ) if len(parents) else (cells.verts[:0], cells.counts[:0])
    return parents, verts, counts


def _split(parent, verts, counts, idx, g):
    """Replace each cell ``idx`` by its two sides of the line ``g = 0`` (``g [len(idx), K]``,
    the values at its vertices)."""
    pos_v, pos_c = clip(verts[idx], counts[idx], g, 1.0)
    neg_v, neg_c = clip(verts[idx], counts[idx], g, -1.0)
    width = max(verts.shape[1], pos_v.shape[1], neg_v.shape[1])
    verts, pos_v, neg_v = (_widen(a, width) for a in (verts, pos_v, neg_v))
    verts = verts.copy()
    verts[idx] = pos_v
    counts = counts.copy()
    counts[idx] = pos_c
    return (np.concatenate([parent, parent[idx]]), np.concatenate([verts, neg_v]),
            np.concatenate([counts, neg_c]))


def _widen(verts, width):
    if verts.shape[1] == width:
        return verts
    extra = np.repeat(verts[:, :1], width - verts.shape[1], axis=1)
    return np.concatenate([verts, extra], axis=1)


def _merge_equal_patterns(cells):
    """One cell per pattern: the convex hull of the cells that share it."""
    keys = cells.keys()
    groups: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    first = np.array([g[0] for g in groups.values()])
    shapes = []
    for members in groups.values():
        pts = np.concatenate([cells.verts[i, :cells.counts[i]] for i in members])
        if pts.shape[1] == 1:
            shapes.append(np.array([[pts.min()], [pts.max()]]))
        else:
            shapes.append(pts[:cells.counts[members[0]]] if len(members) == 1 else hull(pts))
    verts, counts = pad(shapes)
    return cells.take(first, verts, counts)


def _check_finite(value, name, op):
    if not np.isfinite(value).all():
        raise NonFiniteError(f"slice: node {name!r} ({op.type_name}) has a non-finite affine "
                             f"map on the slice: scale the bounds or the directions down",
                             node=name)
