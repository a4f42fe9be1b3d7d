"""Assertions for testing certificates: probe inside, on and just beyond an l_p ball.

For users who test their own certificates (a new relaxation, a new op, a new margin
algorithm), typically under hypothesis::

    from hypothesis import given
    from plnet.testing import strategies
    from plnet.testing.assertions import assert_margin_is_exact

    @given(strategies.network_and_points())
    def test_my_margin(net_and_x):
        net, x = net_and_x
        assert_margin_is_exact(net, x[0], my_margin(net, x[0]), p=2)

Each raises ``AssertionError`` with the offending point's distance and unit.
"""

from __future__ import annotations

import numpy as np

from plnet.analysis.linearize import linearize
from plnet.analysis.margins import check_p, unit_distances
from plnet.analysis.region import region
from plnet.network import Network
from plnet.testing.sampling import ball_points, steepest_exit
from plnet.tolerances import REFERENCE_RTOL

#: how many of the closest units get a deterministic probe along their steepest exit
EXIT_PROBES = 16


def _closest_exits(lin, p, count: int):
    """``[(unit, distance, direction)]`` of the ``count`` units nearest to the point."""
    distances = unit_distances(lin, p)[0]
    live = np.flatnonzero(np.isfinite(distances))
    order = live[np.argsort(distances[live], kind="stable")[:count]]
    return [(int(u), float(distances[u]), steepest_exit(lin.grad[0, u], float(lin.signs[0, u]), p))
            for u in order]


def assert_ball_in_region(net: Network, x, eps: float, p=2, *, samples: int = 64,
                          seed: int = 0) -> None:
    """Assert the closed l_p ball of radius ``eps`` around ``x`` lies in x's linear region.

    Probes: ``samples`` random points inside the ball, as many on its surface, its extreme
    points, and the surface points along the steepest exits of the closest units (these
    find a too-large ``eps`` deterministically). Each probe must satisfy every halfspace
    of S(x) (up to float64 round-off), and there the network must equal x's affine map.

    Args:
        net: the network.
        x: one point, shaped like ``net.input_shape`` (or flattened).
        eps: the claimed certified radius (finite, >= 0).
        p: 1, 2 or inf.
        samples: random probes inside, and again on the surface.
        seed: seed of the probes.

    Raises:
        AssertionError: a probe leaves the region, or the network is not affine there.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([0.5, -0.25])                 # its l2 margin is 0.25
        >>> from plnet.testing import assertions
        >>> assertions.assert_ball_in_region(net, x, 0.25, p=2)
        >>> assertions.assert_ball_in_region(net, x, 0.3, p=2)
        Traceback (most recent call last):
        ...
        AssertionError: ...
    """
    p = check_p(p)
    x = np.asarray(x, np.float64).reshape(net.input_shape)
    if not (np.isfinite(eps) and eps >= 0):
        raise AssertionError(f"eps must be finite and >= 0 to be probed, got {eps!r}")
    rng = np.random.default_rng(seed)
    lin, poly = linearize(net, x[None]), region(net, x)
    flat = x.ravel()
    exits = [flat + eps * v for _, _, v in _closest_exits(lin, p, EXIT_PROBES)]
    probes = np.concatenate([ball_points(flat, eps, p, samples, rng),
                             ball_points(flat, eps, p, samples, rng, surface=True),
                             np.reshape(exits, (-1, flat.size))])
    inside = poly.contains(probes)
    if not inside.all():
        bad = probes[np.argmin(inside)]
        unit = int(np.argmin(poly.slack(bad)[0]))
        raise AssertionError(
            f"a point at l_{p:g} distance {np.linalg.norm(bad - flat, ord=p):.6g} <= eps = "
            f"{eps:.6g} leaves the linear region of x (unit {unit}, slack "
            f"{poly.slack(bad)[0, unit]:.3g}): eps is not certified")
    w, c = lin.affine_map(0)
    got = net(probes.reshape(-1, *net.input_shape)).reshape(len(probes), -1)
    want = probes @ w.T + c
    scale = 1.0 + np.abs(want).max()
    if not np.allclose(got, want, rtol=0, atol=REFERENCE_RTOL * 1e3 * scale):
        raise AssertionError(f"the network differs from x's affine map inside the ball by "
                             f"{np.abs(got - want).max():.3g}")


def assert_leaves_region_beyond(net: Network, x, eps: float, p=2, *,
                                beyond: float = 1e-6) -> None:
    """Assert some point at l_p distance ``eps * (1 + beyond)`` is outside x's region.

    Together with :func:`assert_ball_in_region` this says that ``eps`` is the exact
    margin, not merely a safe one. The probe moves along the steepest exit of the unit
    closest to ``x`` and must violate that unit's halfspace strictly.

    Args:
        net: the network.
        x: one point, shaped like ``net.input_shape`` (or flattened).
        eps: the claimed margin.
        p: 1, 2 or inf.
        beyond: how far past ``eps`` to probe, relative to ``eps``.

    Raises:
        AssertionError: every probe stays inside (``eps`` under-claims the margin), or no
            unit constrains the region (the margin is infinite).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([0.5, -0.25])                 # its l2 margin is 0.25
        >>> from plnet.testing import assertions
        >>> assertions.assert_leaves_region_beyond(net, x, 0.25, p=2)
        >>> assertions.assert_leaves_region_beyond(net, x, 0.2, p=2)   # under-claims
        Traceback (most recent call last):
        ...
        AssertionError: ...
    """
    p = check_p(p)
    x = np.asarray(x, np.float64).reshape(net.input_shape)
    lin, poly = linearize(net, x[None]), region(net, x)
    exits = _closest_exits(lin, p, 1)
    if not exits:
        raise AssertionError("no unit constrains the region of x: its margin is infinite")
    unit, distance, direction = exits[0]
    probe = x.ravel() + eps * (1 + beyond) * direction
    if poly.slack(probe)[0, unit] >= 0:
        raise AssertionError(f"the point at l_{p:g} distance {eps * (1 + beyond):.6g} along "
                             f"the closest unit's steepest exit is still inside the region: "
                             f"eps = {eps:.6g} is below the exact margin {distance:.6g}")


def assert_margin_is_exact(net: Network, x, eps: float, p=2, *, samples: int = 64,
                           seed: int = 0, beyond: float = 1e-6) -> None:
    """Assert ``eps`` is x's exact l_p margin: the ball lies in the region, and a point just
    beyond it does not (:func:`assert_ball_in_region` and
    :func:`assert_leaves_region_beyond`).

    Args:
        net: the network.
        x: one point, shaped like ``net.input_shape`` (or flattened).
        eps: the claimed exact margin (finite, >= 0).
        p: 1, 2 or inf.
        samples: random probes inside the ball, and again on its surface.
        seed: seed of the probes.
        beyond: how far past ``eps`` the outside probe lies, relative to ``eps``.

    Raises:
        AssertionError: the ball leaves the region, or a point just beyond it does not.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([0.5, -0.25])                 # its l2 margin is 0.25
        >>> from plnet.testing import assertions
        >>> assertions.assert_margin_is_exact(net, x, plnet.margin(net, x[None], p=2)[0])
    """
    assert_ball_in_region(net, x, eps, p, samples=samples, seed=seed)
    assert_leaves_region_beyond(net, x, eps, p, beyond=beyond)
