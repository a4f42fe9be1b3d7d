"""The minimal H-representation of a linear region: which rows of S(x) are facets.

A row ``a_i . y >= b_i`` is redundant when the other rows imply it: the smallest value of
``a_i . y`` over ``{A_{-i} y >= b_{-i}}`` is at least ``b_i``. Each candidate costs one
linear program (HiGHS through ``scipy.optimize.linprog``, silent); an unbounded program means
the row is a facet. Exact pre-filters run first: zero rows are redundant, rows on one
hyperplane (equal after scaling to unit norm) keep one representative, and a row whose
closest point to x satisfies every other row strictly is a facet without a program.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

from plnet.analysis import Linearization, linearize
from plnet.errors import PlnetError, ShapeError
from plnet.tolerances import COINCIDENT_RTOL, FACET_LP_ATOL

if TYPE_CHECKING:
    from plnet.network import Network


@dataclasses.dataclass
class Facets:
    """The non-redundant rows of ``plnet.region(net, x)``.

    All arrays run over facets (K of them); rows are scaled to unit l2 norm and written
    around x: the region is ``{y : normals @ (y - x) >= -distances}``.

    Attributes:
        rows: ``[K]`` indices into the rows of ``plnet.region(net, x)``.
        normals: ``[K, D]`` unit-norm inward normals.
        offsets: ``[K]`` so that the facet's halfspace is ``normals @ y >= offsets``.
        distances: ``[K]`` l2 distance from x to each facet's hyperplane.
        units: ``(node, unit)`` each facet row comes from (unit indexes that node's units).
        coincident: ``[K]`` arrays of every row on the same hyperplane, the facet's own row
            first: it is the earliest unit (in topological order), which crossing the facet
            always flips; a later one (e.g. a ReLU of that unit) may flip or bend instead.
        point: x, flattened.
        linearization: ``plnet.linearize(net, x)``, reused by neighbours and explore.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> F = plnet.regions.facets(net, x[0])
        >>> F.rows, F.distances, F.units
        (array([1, 0]), array([0.25, 0.5 ]), [('relu_2', 1), ('relu_2', 0)])
    """

    rows: np.ndarray
    normals: np.ndarray
    offsets: np.ndarray
    distances: np.ndarray
    units: list[tuple[str, int]]
    coincident: list[np.ndarray]
    point: np.ndarray
    linearization: Linearization

    def __len__(self) -> int:
        return int(self.rows.size)


def unit_of_row(lin: Linearization, row: int) -> tuple[str, int]:
    """The ``(node, unit)`` that row ``row`` of S(x) comes from."""
    for node, sl in lin.unit_slices.items():
        if sl.start <= row < sl.stop:
            return node, row - sl.start
    raise PlnetError(f"row {row} is not a unit of this network ({lin.z.shape[1]} units)")


def normalized_rows(lin: Linearization) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of S(x) around x: ``(a [N, D] unit-norm or zero, distance [N], norms [N])``.

    ``a @ (y - x) >= -distance`` is row i of S(x) divided by its norm.
    """
    a = lin.signs[0][:, None] * lin.grad[0]
    norms = np.linalg.norm(a, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return a / safe[:, None], lin.slack[0] / safe, norms


def _coincident_groups(a, dist, candidates):
    """Group candidate rows on one hyperplane; returns representative -> members."""
    groups: dict[int, list[int]] = {}
    order = candidates[np.lexsort((candidates, dist[candidates]))]
    for i in order:
        for rep, members in groups.items():
            if (abs(dist[i] - dist[rep]) <= COINCIDENT_RTOL * (1 + abs(dist[rep]))
                    and np.abs(a[i] - a[rep]).max() <= COINCIDENT_RTOL):
                members.append(int(i))
                break
        else:
            groups[int(i)] = [int(i)]
    # the earliest row (units are in topological order) stands for its hyperplane
    return {min(members): sorted(members) for members in groups.values()}


def _sure_facets(a, dist, reps):
    """Representatives whose foot point (closest point to x) satisfies all others strictly."""
    feet = -dist[reps, None] * a[reps]  # [R, D] offsets from x
    slack = feet @ a[reps].T + dist[reps][None, :]  # [R, R]
    np.fill_diagonal(slack, np.inf)
    return (slack > FACET_LP_ATOL * (1 + np.abs(dist[reps]))[None, :]).all(axis=1)


def lp_redundant(a_others, dist_others, a_i, dist_i) -> tuple[bool, np.ndarray | None]:
    """Whether ``a_i . d >= -dist_i`` is implied by ``a_others @ d >= -dist_others``.

    Returns:
        ``(redundant, witness)``: the witness is the program's minimizer d (None when the
        program is unbounded), a point of the other rows' polyhedron.
    """
    d = a_i.size
    res = linprog(a_i, A_ub=-a_others, b_ub=dist_others, bounds=[(None, None)] * d,
                  method="highs")
    if res.status == 3:
        return False, None
    if res.status != 0:
        raise PlnetError(f"plnet.regions: HiGHS ended with status {res.status} "
                         f"({res.message}) on a redundancy program")
    return bool(res.fun >= -dist_i - FACET_LP_ATOL * (1 + abs(dist_i))), res.x


def facets(net: Network, x: npt.ArrayLike) -> Facets:
    """The facets (minimal H-representation) of the linear region S(x).

    Args:
        net: a :class:`plnet.Network`.
        x: one point, of shape ``net.input_shape``.

    Returns:
        A :class:`Facets`; its rows are in order of increasing distance from x.

    Raises:
        ShapeError: x is not one point of the network's input shape.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> len(plnet.regions.facets(net, x[0]))     # both ReLU boundaries are facets
        2
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape != net.input_shape:
        raise ShapeError(f"facets takes one point of shape {net.input_shape}, got {x.shape}")
    lin = linearize(net, x[None])
    return facets_of(lin)


def facets_of(lin: Linearization) -> Facets:
    """:func:`facets` from a one-point linearization."""
    a, dist, norms = normalized_rows(lin)
    groups = _coincident_groups(a, dist, np.flatnonzero(norms > 0))
    reps = np.array(sorted(groups), dtype=np.int64)
    keep = np.zeros(reps.size, dtype=bool)
    if reps.size:
        keep = _sure_facets(a, dist, reps)
    for k in np.flatnonzero(~keep):
        others = np.delete(reps, k)
        keep[k] = not lp_redundant(a[others], dist[others], a[reps[k]], dist[reps[k]])[0]
    rows = reps[keep]
    rows = rows[np.argsort(dist[rows], kind="stable")]
    x = lin.x[0]
    return Facets(rows=rows, normals=a[rows], offsets=a[rows] @ x - dist[rows],
                  distances=dist[rows], units=[unit_of_row(lin, int(i)) for i in rows],
                  coincident=[np.array(groups[int(i)]) for i in rows], point=x.copy(),
                  linearization=lin)
