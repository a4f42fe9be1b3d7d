"""The regions on the other side of each facet of S(x)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from plnet.analysis import Linearization, linearize
from plnet.errors import PlnetError
from plnet.regions.facets import Facets, facets, unit_of_row
from plnet.regions.programs import Ball, chebyshev, dual_norms
from plnet.tolerances import NEIGHBOUR_STEP_RTOL, REGION_MAP_RTOL

if TYPE_CHECKING:
    from plnet.network import Network

#: how often the step across a facet is halved before the crossing is given up
_HALVINGS = 40


@dataclasses.dataclass
class Neighbour:
    """The region across one facet of S(x).

    Attributes:
        facet: the facet's index in :class:`Facets`.
        row: the facet's row of ``plnet.region(net, x)``.
        unit: ``(node, unit)`` whose boundary the facet is.
        point: a point of the neighbouring region just across the facet (input shape); its
            pattern is x's with exactly the facet's unit crossed (a max-pool comparison:
            the argmax moves to the compared position); later units on the same hyperplane
            and units constant zero on S(x) may take either side (see
            :func:`crossing_matches`).
        key: its pattern key (as :meth:`plnet.ActivationPattern.keys`).
        jacobian: ``[L, D]`` output Jacobian on the neighbouring region.
        offset: ``[L]``: the network is ``jacobian @ y + offset`` there.
        affine_across: True when the map is x's own (to ``REGION_MAP_RTOL``): both regions
            lie in one complete linear region.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> across = plnet.regions.neighbours(net, x[0])[0]   # across the nearest facet, y1 = 0
        >>> across.unit, across.jacobian, across.affine_across
        (('relu_2', 1), array([[ 1., -1.]]), False)
    """

    facet: int
    row: int
    unit: tuple[str, int]
    point: np.ndarray
    key: bytes
    jacobian: np.ndarray
    offset: np.ndarray
    affine_across: bool


def same_map(a: Linearization, b: Linearization) -> bool:
    """Whether two one-point linearizations have one affine map (to ``REGION_MAP_RTOL``)."""
    (wa, ca), (wb, cb) = a.affine_map(0), b.affine_map(0)
    scale = max(1.0, np.abs(wa).max(initial=0), np.abs(wb).max(initial=0),
                np.abs(ca).max(initial=0), np.abs(cb).max(initial=0))
    return bool(np.abs(wa - wb).max(initial=0) <= REGION_MAP_RTOL * scale
                and np.abs(ca - cb).max(initial=0) <= REGION_MAP_RTOL * scale)


def _positions(net: Network, lin: Linearization, rows) -> dict[str, dict[int, int]]:
    """node -> {indicator position: its value across} for the given rows' units."""
    out: dict[str, dict[int, int]] = {}
    for row in rows:
        node, unit = unit_of_row(lin, int(row))
        in_shape = net.shapes[net.inputs_of(node)[0]]
        position, value = net.op(node).crossed(in_shape, lin.indicators[node][0], unit)
        out.setdefault(node, {})[position] = value
    return out


def crossing_matches(net: Network, found: Facets, k: int, across: Linearization) -> bool:
    """Whether the pattern ``across`` is x's with exactly facet ``k``'s units crossed.

    Free to take either side are the later units on the facet's hyperplane (a unit fed by
    the facet's unit may flip with it or bend) and units that are zero with a zero gradient
    on S(x) (e.g. a ReLU fed only by dead units): they draw no boundary there.
    """
    lin = found.linearization
    crossed = _positions(net, lin, found.coincident[k][:1])
    constant = (lin.z[0] == 0) & (np.abs(lin.grad[0]).max(axis=1, initial=0.0) == 0)
    free = _positions(net, lin, np.union1d(np.flatnonzero(constant), found.coincident[k][1:]))
    for node, before in lin.indicators.items():
        before, after = before[0].reshape(-1), across.indicators[node][0].reshape(-1)
        expected = before.copy()
        for position, value in crossed.get(node, {}).items():
            expected[position] = value
        differ = set(np.flatnonzero(after != expected).tolist())
        if not differ <= set(free.get(node, {})):
            return False
    return True


def cross(net: Network, found: Facets, k: int, ball: Ball | None = None) -> Neighbour | None:
    """Step across facet ``k`` from its Chebyshev centre (inside ``ball`` if given).

    Returns:
        The :class:`Neighbour`, or None when the facet does not meet the open ball.

    Raises:
        PlnetError: no step, down to round-off, reaches a point with the expected pattern.
    """
    x = found.point
    cap = 1.0 + np.abs(x).max(initial=0)
    centre, radius = chebyshev(x, found.normals, found.distances, on=k, ball=ball, cap=cap)
    if centre is None or radius <= 0:
        if ball is None:
            raise PlnetError(f"plnet.regions: facet {found.units[k]} has no interior point")
        return None
    p = 2 if ball is None else ball.p
    normal = found.normals[k]
    direction = -normal / dual_norms(normal[None], {1: np.inf, 2: 2, np.inf: 1}[p])[0]
    step = min(radius / 2, NEIGHBOUR_STEP_RTOL * (1 + np.abs(centre).max()))
    for _ in range(_HALVINGS):
        y = centre + step * direction
        lin = linearize(net, y.reshape((1,) + net.input_shape))
        if not lin.ties[0] and crossing_matches(net, found, k, lin):
            return Neighbour(facet=k, row=int(found.rows[k]), unit=found.units[k],
                             point=y.reshape(net.input_shape), key=lin.pattern_keys()[0],
                             jacobian=lin.jacobian[0], offset=lin.offset[0],
                             affine_across=same_map(found.linearization, lin))
        step /= 2
    raise PlnetError(f"plnet.regions: no point just across the facet of unit "
                     f"{found.units[k]} has the pattern with only that unit crossed")


def neighbours(net: Network, x: npt.ArrayLike) -> list[Neighbour]:
    """The region across each facet of S(x).

    Args:
        net: a :class:`plnet.Network`.
        x: one point, of shape ``net.input_shape``.

    Returns:
        One :class:`Neighbour` per facet, in the order of :func:`facets`.

    Raises:
        PlnetError: a facet could not be crossed to a verified pattern (e.g. another
            unit's boundary meets the facet everywhere).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> [n.unit for n in plnet.regions.neighbours(net, x[0])]
        [('relu_2', 1), ('relu_2', 0)]
    """
    found = facets(net, x)
    return [cross(net, found, k) for k in range(len(found))]
