"""Breadth-first search over the linear regions that meet an l_p ball."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import numpy.typing as npt

from plnet.analysis import linearize
from plnet.errors import PlnetError, ShapeError
from plnet.regions.facets import facets_of
from plnet.regions.neighbours import cross
from plnet.regions.programs import Ball, chebyshev

if TYPE_CHECKING:
    from plnet.network import Network


def explore(net: Network, x: npt.ArrayLike, radius: float, p=2, limit: int = 1000,
            progress: bool = False) -> nx.Graph:
    """Every linear region that meets the open l_p ball of ``radius`` around x.

    Starting from S(x), each region's facets that meet the ball are crossed (one Chebyshev
    program per facet, inside the ball) and the regions found are visited in turn. Needs
    cvxpy (``pip install "plnet[exact]"``) for the programs inside the ball.

    Args:
        net: a :class:`plnet.Network`.
        x: one point, of shape ``net.input_shape``.
        radius: the ball's radius (> 0, finite).
        p: 1, 2 or inf.
        limit: the most regions visited.
        progress: show a tqdm bar of regions visited (when tqdm is installed).

    Returns:
        A ``networkx.Graph`` whose nodes are pattern keys, with attributes ``point`` (a
        point of the region inside the ball), ``jacobian`` and ``offset`` (the affine map),
        ``chebyshev_center`` and ``chebyshev_radius`` (the largest l_p ball inside the region
        and the ball), ``facets`` (how many). Edges join regions that share a facet; their
        ``units`` attribute lists the ``(node, unit)`` crossed. ``graph.graph["complete"]``
        is False when ``limit`` stopped the search.

    Raises:
        ShapeError: x is not one point of the network's input shape.
        PlnetError: x lies on a region boundary, or a facet could not be crossed.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> G = plnet.regions.explore(net, x[0], radius=1.0)   # the four quadrants
        >>> G.number_of_nodes(), G.number_of_edges(), G.graph["complete"]
        (4, 4, True)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape != net.input_shape:
        raise ShapeError(f"explore takes one point of shape {net.input_shape}, got {x.shape}")
    ball = Ball.of(x, radius, p)
    start = linearize(net, x[None])
    if start.ties[0]:
        raise PlnetError("plnet.regions.explore: x lies on a region boundary; move it off "
                         "the boundary (its region is not full-dimensional there)")
    graph = nx.Graph(complete=True, radius=ball.radius, p=ball.p)
    queue = collections.deque([start])
    graph.add_node(start.pattern_keys()[0], point=x.copy())
    bar = _bar(progress, limit)
    while queue:
        lin = queue.popleft()
        key = lin.pattern_keys()[0]
        found = facets_of(lin)
        centre, cheb = chebyshev(found.point, found.normals, found.distances, ball=ball)
        graph.nodes[key].update(jacobian=lin.jacobian[0], offset=lin.offset[0],
                                chebyshev_center=centre.reshape(net.input_shape),
                                chebyshev_radius=cheb, facets=len(found))
        if bar is not None:
            bar.update(1)
        for k in range(len(found)):
            other = cross(net, found, k, ball)
            if other is None:
                continue
            if other.key not in graph:
                if graph.number_of_nodes() >= limit:
                    graph.graph["complete"] = False
                    continue
                graph.add_node(other.key, point=other.point)
                queue.append(linearize(net, other.point[None]))
            units = graph.edges[key, other.key]["units"] if graph.has_edge(key, other.key) else []
            if other.unit not in units:
                graph.add_edge(key, other.key, units=units + [other.unit])
    if bar is not None:
        bar.close()
    return graph


def _bar(progress, limit):
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=limit, desc="regions", unit="region")
