"""Exact 2-d and 1-d slices of a network's linear regions: ``slice2d`` and ``slice1d``."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import numpy.typing as npt

from plnet.analysis.counting import distinct_jacobians
from plnet.errors import InvalidInputError, ShapeError
from plnet.regions.partition import partition
from plnet.regions.polygons import interior, measure
from plnet.tolerances import REGION_MAP_RTOL

if TYPE_CHECKING:
    from plnet.network import Network


@dataclasses.dataclass
class Slice:
    """The linear regions of a network on ``{x0 + a u (+ b v)}`` over a box of coordinates.

    One polygon (interval in 1-d) per activation pattern met in the box: the points of the box
    with one pattern form one convex set, so ``count`` is the number of distinct patterns.
    Neighbouring regions can share an affine map (a unit that switches without changing the
    output, e.g. a dead unit downstream): ``linear_count`` counts distinct affine maps, the
    pieces of complete linear regions in the paper's sense.

    Attributes:
        origin: ``x0``, of shape ``net.input_shape``.
        directions: ``[d, *input_shape]``: ``u`` (and ``v``).
        bounds: ``(a_lo, a_hi, b_lo, b_hi)`` (2-d) or ``(a_lo, a_hi)`` (1-d).
        polygons: one ``[K, d]`` vertex array per region, counter-clockwise in 2-d, in slice
            coordinates ``(a, b)``; in 1-d the interval's two end points.
        net: the network sliced (for the certified balls of :meth:`plot`).
        patterns: each region's pattern key (as ``plnet.linearize(...).pattern_keys()``).
        pattern_ids: ``[count]`` int, the index of each region's pattern among the distinct
            patterns (each region has its own: these are ``0 .. count - 1``).
        areas: ``[count]`` areas (lengths in 1-d); they sum to the box's.
        jacobians: ``[count, L, d]`` and ``offsets`` ``[count, L]``: the output (flattened,
            L entries) is ``jacobians[i] @ (a, b) + offsets[i]`` on region i.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> s = plnet.regions.slice2d(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0])
        >>> s.count, s.linear_count, s.areas.tolist()     # the four quadrants
        (4, 4, [1.0, 1.0, 1.0, 1.0])
        >>> s.centers().tolist()
        [[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]]
        >>> s.to_input([[0.5, 0.5]]).tolist()              # slice coordinates to inputs
        [[0.5, 0.5]]
    """

    origin: np.ndarray
    directions: np.ndarray
    bounds: tuple[float, ...]
    polygons: list[np.ndarray]
    patterns: list[bytes]
    pattern_ids: np.ndarray
    areas: np.ndarray
    jacobians: np.ndarray
    offsets: np.ndarray
    net: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def dim(self) -> int:
        """1 or 2."""
        return int(self.directions.shape[0])

    @property
    def count(self) -> int:
        """Regions by distinct activation pattern."""
        return len(self.polygons)

    @property
    def linear_count(self) -> int:
        """Regions by distinct affine map of the output (to ``REGION_MAP_RTOL``)."""
        maps = [np.concatenate([w, c[:, None]], axis=1) for w, c in zip(self.jacobians,
                                                                        self.offsets)]
        return distinct_jacobians(maps, REGION_MAP_RTOL)

    @property
    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``(jacobians [count, L, d], offsets [count, L])``: each region's map of (a, b)."""
        return self.jacobians, self.offsets

    @property
    def intervals(self) -> np.ndarray:
        """1-d slices: ``[count, 2]`` end points ``(a_lo, a_hi)`` of each region."""
        if self.dim != 1:
            raise InvalidInputError("Slice.intervals is for 1-d slices; use .polygons")
        return np.array([p[:, 0] for p in self.polygons]).reshape(-1, 2)

    def centers(self) -> np.ndarray:
        """``[count, d]``: an interior point of each region (the mean of its vertices)."""
        return np.array([p.mean(axis=0) for p in self.polygons]).reshape(-1, self.dim)

    def to_input(self, coords: npt.ArrayLike) -> np.ndarray:
        """Slice coordinates ``[P, d]`` to input points ``[P, *input_shape]``."""
        coords = np.asarray(coords, dtype=np.float64).reshape(-1, self.dim)
        flat = self.directions.reshape(self.dim, -1)
        return (self.origin.reshape(1, -1) + coords @ flat).reshape(
            (-1,) + self.origin.shape)

    def plot(self, ax: Any = None, points: npt.ArrayLike | None = None,
             balls: Sequence[str] = ("l1", "l2", "linf"), gradients: bool = True,
             **kwargs: Any) -> Any:
        """Draw the slice with matplotlib (``pip install "plnet[plot]"``): regions coloured,
        boundaries, the certified balls of ``points`` (slice coordinates ``[P, 2]``) and the
        top logit's gradient arrows. See :func:`plnet.regions.plot.plot_slice`.

        Returns:
            The matplotlib Axes drawn into (``ax.figure.savefig(...)`` writes it).
        """
        from plnet.regions.plot import plot_slice
        return plot_slice(self, ax=ax, points=points, balls=balls, gradients=gradients,
                          **kwargs)

    def to_json(self) -> dict:
        """Counts, areas and pattern ids, for ``plnet plot --json``."""
        return {"count": self.count, "linear_count": self.linear_count,
                "bounds": list(self.bounds), "areas": self.areas.tolist(),
                "pattern_ids": self.pattern_ids.tolist(),
                "polygons": [p.tolist() for p in self.polygons]}


def slice2d(net: Network, x0: npt.ArrayLike, u: npt.ArrayLike, v: npt.ArrayLike,
            bounds: Sequence[float] = (-1, 1, -1, 1)) -> Slice:
    """The exact linear regions of ``net`` on the plane ``{x0 + a u + b v}``.

    Works for any plnet network (every op of the IR): cells are split layer by layer by each
    unit's zero line and each max-pool comparison's equality line, exactly to float64 (see
    :mod:`plnet.regions.partition` for the tolerance).

    Args:
        net: a :class:`plnet.Network`.
        x0: the origin, of shape ``net.input_shape`` (or flat, with as many entries).
        u, v: the directions, shaped as x0, linearly independent.
        bounds: ``(a_lo, a_hi, b_lo, b_hi)``, finite, with ``lo < hi``.

    Returns:
        A :class:`Slice`.

    Raises:
        ShapeError: x0, u or v does not have the network's input shape.
        InvalidInputError: bad bounds, non-finite entries, or u and v dependent.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> s = plnet.regions.slice2d(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0],
        ...                           bounds=(-1, 1, 0.5, 1))     # the upper half-plane
        >>> s.count, s.areas.tolist()
        (2, [0.5, 0.5])
        >>> ax = s.plot(points=[[0.5, 0.75]])       # needs matplotlib (the plot extra)
        >>> ax.figure.savefig("slice.png")
    """
    directions = np.stack([_point(net, u, "u"), _point(net, v, "v")])
    flat = directions.reshape(2, -1)
    gram = flat @ flat.T
    if abs(np.linalg.det(gram)) <= 1e-12 * max(gram[0, 0] * gram[1, 1], np.finfo(float).tiny):
        raise InvalidInputError("slice2d: u and v are linearly dependent (or zero); pass two "
                                "independent directions of the input space")
    return _slice(net, _point(net, x0, "x0"), directions, _bounds(bounds, 4))


def slice1d(net: Network, x0: npt.ArrayLike, u: npt.ArrayLike,
            bounds: Sequence[float] = (-1, 1)) -> Slice:
    """The exact linear regions of ``net`` on the line ``{x0 + a u}``: intervals of a.

    Args:
        net: a :class:`plnet.Network`.
        x0: the origin, of shape ``net.input_shape``.
        u: the direction, nonzero, of shape ``net.input_shape``.
        bounds: ``(a_lo, a_hi)``, finite, with ``a_lo < a_hi``.

    Returns:
        A :class:`Slice` of dimension 1 (see :attr:`Slice.intervals`).

    Raises:
        ShapeError: x0 or u does not have the network's input shape.
        InvalidInputError: u is zero, bad bounds, or non-finite entries.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> s = plnet.regions.slice1d(net, [0.0, 0.5], [1.0, 0.0], bounds=(-1, 1))
        >>> s.count, s.intervals.tolist()          # unit 0 switches at a = 0
        (2, [[-1.0, 0.0], [0.0, 1.0]])
    """
    direction = _point(net, u, "u")
    if not np.any(direction):
        raise InvalidInputError("slice1d: the direction u is zero; pass a nonzero direction")
    return _slice(net, _point(net, x0, "x0"), direction[None], _bounds(bounds, 2))


def _slice(net, origin, directions, bounds) -> Slice:
    cells = partition(net, origin, directions, bounds)
    d = directions.shape[0]
    order = np.lexsort(interior(cells.verts, cells.counts).T)  # rows by (b, a): stable output
    counts = cells.counts[order]
    verts = cells.verts[order]
    polygons = [verts[i, :counts[i]].copy() for i in range(len(order))]
    keys = cells.keys()
    patterns = [keys[i] for i in order]
    ids: dict[bytes, int] = {}
    pattern_ids = np.array([ids.setdefault(k, len(ids)) for k in patterns], dtype=np.int64)
    out = cells.maps[net.output][order]  # [M, 1 + d, *output_shape]
    out = out.reshape(out.shape[0], 1 + d, -1)
    return Slice(origin=origin, directions=directions, bounds=bounds, polygons=polygons,
                 patterns=patterns, pattern_ids=pattern_ids, areas=measure(verts, counts),
                 jacobians=np.swapaxes(out[:, 1:], 1, 2).copy(), offsets=out[:, 0].copy(),
                 net=net)


def _point(net, value, what) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != net.input_shape:
        if arr.size == math.prod(net.input_shape):
            arr = arr.reshape(net.input_shape)
        else:
            raise ShapeError(f"slice: {what} has shape {arr.shape}; the network's input shape "
                             f"is {net.input_shape} ({math.prod(net.input_shape)} entries)")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"slice: {what} has non-finite entries")
    return arr


def _bounds(bounds, n) -> tuple[float, ...]:
    try:
        values = tuple(float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InvalidInputError(f"slice: bounds must be {n} numbers, got {bounds!r}") from None
    if len(values) != n or not all(math.isfinite(b) for b in values):
        raise InvalidInputError(f"slice: bounds must be {n} finite numbers, got {bounds!r}")
    for lo, hi in zip(values[::2], values[1::2]):
        if not lo < hi:
            raise InvalidInputError(f"slice: bounds {values} need lo < hi on each axis")
    return values
