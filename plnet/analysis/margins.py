"""Closed-form certified margins (paper, Proposition 6 and its footnote 4).

``eps_p(x) = min over units of |z| / ||grad z||_q`` with q the dual exponent of p. A unit
with a zero gradient is constant on the region and adds no constraint; a unit exactly on its
boundary (z = 0) gives a margin of 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from plnet.analysis.arguments import choice
from plnet.analysis.bisection import bisect_directions
from plnet.analysis.budget import batch_slices
from plnet.analysis.linearize import Linearization, linearize
from plnet.analysis.norms import dual_norms, safe_ratio
from plnet.analysis.sequences import over_lengths, scatter_rows
from plnet.errors import InvalidInputError

if TYPE_CHECKING:  # annotations only: the network module imports the analyses
    from plnet.network import Network

#: p -> the order of its dual norm q (1/p + 1/q = 1)
DUAL = {1: np.inf, 2: 2, np.inf: 1}


def check_p(p) -> float:
    """Accept 1, 2, inf (also ``"inf"``) and return it as a float; else raise."""
    if isinstance(p, (bool, np.bool_)):
        raise InvalidInputError(f"p must be 1, 2 or inf, got the bool {p!r}")
    if isinstance(p, str) and p.lower() in ("inf", "infinity", "linf"):
        return np.inf
    try:
        value = float(p)
    except (TypeError, ValueError):
        value = None
    if value not in (1.0, 2.0, np.inf):
        raise InvalidInputError(f"p must be 1, 2 or inf, got {p!r}")
    return value


def unit_distances(lin: Linearization, p=2) -> np.ndarray:
    """Distance from each point to each unit's hyperplane in l_p, ``[B, N]`` (inf: none).

    Args:
        lin: :func:`plnet.linearize` of the points.
        p: 1, 2 or inf (distances in l_p, so gradients are measured in the dual norm).

    Returns:
        ``[B, N]`` float64 ``|z| / ||grad z||_q``; inf for a unit with a zero gradient.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.analysis.unit_distances(plnet.linearize(net, x), p=2)
        array([[0.5 , 0.25]])
    """
    return safe_ratio(np.abs(lin.z), dual_norms(lin.grad, DUAL[check_p(p)]))


def margin_from(lin: Linearization, p=2) -> np.ndarray:
    """:func:`margin` for an existing linearization.

    Args:
        lin: :func:`plnet.linearize` of the points.
        p: 1, 2 or inf.

    Returns:
        ``[B]`` float64 margins, as :func:`margin` gives them.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.analysis.margin_from(plnet.linearize(net, x), p=2)
        array([0.25])
    """
    dist = unit_distances(lin, p)
    return dist.min(axis=1) if dist.shape[1] else np.full(dist.shape[0], np.inf)


@over_lengths(scatter_rows)
def margin(net: Network, x: npt.ArrayLike, p: float | str = 2, budget: int | None = None) -> np.ndarray:
    """Certified l_p margin of each point: the radius of the largest l_p ball around x
    inside its linear region S(x).

    Args:
        net: a :class:`plnet.Network`.
        x: ``[B, *net.input_shape]``.
        p: 1, 2 or inf.
        budget: memory budget in bytes; the batch is linearized in chunks that fit it
            (see :mod:`plnet.analysis.budget`).

    Returns:
        ``[B]`` float64 (inf when no unit constrains the region, 0 at a tie).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.margin(net, x, p=2)      # z = (0.5, -0.25): the nearest boundary is 0.25 away
        array([0.25])
    """
    check_p(p)
    x = net.check_input(x)
    return np.concatenate([margin_from(linearize(net, x[s]), p)
                           for s in batch_slices(net, x.shape[0], budget)])


def margin_percentile(values, q: float) -> float:
    """numpy's (linear) percentile of margins, keeping +inf (no constraining unit) as inf.

    numpy interpolates as ``a + (b - a) * frac``, which gives nan when b is inf and frac is
    0, or when a and b are both inf.
    """
    ordered = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if ordered.size == 0:
        raise InvalidInputError("margin_percentile: no values")
    position = q / 100.0 * (ordered.size - 1)
    low, high = int(np.floor(position)), int(np.ceil(position))
    frac = position - low
    if frac == 0 or ordered[low] == ordered[high]:
        return float(ordered[low])
    if np.isinf(ordered[high]):
        return np.inf
    return float(ordered[low] + (ordered[high] - ordered[low]) * frac)


def binding_units(lin: Linearization, p=2) -> np.ndarray:
    """Index of the unit attaining each point's margin, ``[B]`` (-1 if none).

    Args:
        lin: :func:`plnet.linearize` of the points.
        p: 1, 2 or inf.

    Returns:
        ``[B]`` int indices into the unit axis of ``lin.z``.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.analysis.binding_units(plnet.linearize(net, x), p=2)   # the second ReLU
        array([1])
    """
    dist = unit_distances(lin, p)
    if dist.shape[1] == 0:
        return np.full(dist.shape[0], -1)
    idx = dist.argmin(axis=1)
    return np.where(np.isfinite(dist[np.arange(len(idx)), idx]), idx, -1)


def check_directions(v, b: int, d: int) -> np.ndarray:
    """``v`` as ``[B, D]`` float64 directions (one shared or one per point), or raise."""
    try:
        v = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"directions must be real numbers, got {type(v).__name__}") \
            from None
    if v.size == d:
        v = np.broadcast_to(v.reshape(1, d), (b, d))
    elif v.ndim >= 1 and v.shape[0] == b and v.size == b * d:
        v = v.reshape(b, d)
    else:
        raise InvalidInputError(f"directions of shape {v.shape}: expected one input-shaped "
                                f"vector for every point, or one per point ({b} x {d} values)")
    if not np.isfinite(v).all():
        raise InvalidInputError("directions hold NaN or inf")
    if (np.abs(v).max(axis=1) == 0).any():
        raise InvalidInputError("a direction is the zero vector: a directional margin needs "
                                "a non-zero direction")
    return v


def directional_rates(lin: Linearization, v) -> np.ndarray:
    """``signs * (grad . v)``: how fast each unit's slack changes along v, ``[B, N]``."""
    v = check_directions(v, *lin.x.shape)
    return lin.signs * np.einsum("bnd,bd->bn", lin.grad, v)


def directional_margin_from(lin: Linearization, v) -> np.ndarray:
    """Exact ratio test: the largest t with x + t v in S(x), ``[B]`` (inf if unbounded).

    Args:
        lin: :func:`plnet.linearize` of the points.
        v: ``[B, D]`` (or ``[D]``, shared) directions, flattened.

    Returns:
        ``[B]`` float64, inf where the ray never leaves the region.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.analysis.directional_margin_from(plnet.linearize(net, x), np.array([1.0, 1.0]))
        array([0.25])
    """
    rates = directional_rates(lin, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(rates < 0, lin.slack / -rates, np.inf)
    return t.min(axis=1) if t.shape[1] else np.full(t.shape[0], np.inf)


@over_lengths(scatter_rows, per_sample=("v",))
def directional_margin(net: Network, x: npt.ArrayLike, v: npt.ArrayLike,
                       method: str = "ratio", budget: int | None = None) -> np.ndarray:
    """Largest t >= 0 with ``x + t v`` in S(x), for each point.

    Args:
        net: a :class:`plnet.Network`.
        x: ``[B, *net.input_shape]``.
        v: one direction (input-shaped) for every point, or one per point.
        method: ``"ratio"`` (exact ratio test) or ``"bisection"`` (the paper's Appendix B;
            returns the certified lower end, within 1e-7 of the exact value; where the
            search reaches the largest float64 still inside, that radius).
        budget: memory budget in bytes (see :func:`margin`).

    Returns:
        ``[B]`` float64, inf where the ray never leaves the region.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.directional_margin(net, x, np.array([1.0, 1.0]))   # x + t v leaves at t = 0.25
        array([0.25])
    """
    choice("method", method, ("ratio", "bisection"))
    x = net.check_input(x)
    v = check_directions(v, x.shape[0], net.input_size)
    out = []
    for s in batch_slices(net, x.shape[0], budget):
        lin = linearize(net, x[s])
        if method == "ratio":
            out.append(directional_margin_from(lin, v[s]))
        else:
            out.append(bisect_directions(net, lin, v[s][:, None, :]).lower[:, 0])
    return np.concatenate(out)
