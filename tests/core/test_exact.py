"""Closed-form margins equal independent convex programs (plnet.exact, cvxpy)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet.analysis import binding_units, unit_distances
from plnet.errors import InvalidInputError
from plnet.testing import strategies as pst
from plnet.tolerances import INSIDE_SHRINK, SOLVER_ATOL, SOLVER_RTOL

pytest.importorskip("cvxpy")
exact = pytest.importorskip("plnet.exact")

PS = (1, 2, np.inf)


def assert_solver_close(actual, expected):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=SOLVER_RTOL,
                               atol=SOLVER_ATOL)


@settings(max_examples=30)
@given(pst.network_and_points(batch_size=1), st.sampled_from(PS))
def test_closed_form_margins_and_facet_distances_equal_convex_programs(net_x, p):
    net, x = net_x
    lin = plnet.linearize(net, x)
    assert_solver_close(exact.facet_distances(net, x[0], p), unit_distances(lin, p)[0])
    assert_solver_close(exact.exact_margin(net, x[0], p), plnet.margin(net, x, p)[0])


@settings(max_examples=30)
@given(pst.network_and_points(batch_size=1), st.sampled_from(PS))
def test_verify_ball_accepts_the_certified_ball_and_refuses_a_larger_one(net_x, p):
    net, x = net_x
    eps = plnet.margin(net, x, p)[0]
    if not np.isfinite(eps):
        assert exact.verify_ball(net, x[0], 1e6, p).verified
        return
    assert exact.verify_ball(net, x[0], eps * (1 - INSIDE_SHRINK), p).verified
    larger = exact.verify_ball(net, x[0], eps * 1.001, p)
    assert not larger.verified
    assert larger.worst_slack < 0
    # the row that fails first is the binding unit (or one at the same distance)
    dist = unit_distances(plnet.linearize(net, x), p)[0]
    assert dist[larger.worst_row] <= eps * 1.001


@settings(max_examples=25)
@given(pst.network_and_points(batch_size=1), st.sampled_from(PS))
def test_the_chebyshev_ball_is_at_least_the_certified_ball_and_lies_in_the_region(net_x, p):
    net, x = net_x
    eps = plnet.margin(net, x, p)[0]
    center, radius = exact.chebyshev_center(net, x[0], p)
    assert center.shape == net.input_shape
    if np.isinf(radius):
        return
    assert radius >= eps * (1 - SOLVER_RTOL) - SOLVER_ATOL
    # the ball around the centre, slightly shrunk, is inside S(x): check with the solver
    poly = plnet.region(net, x[0])
    rows = poly.nonzero_rows()
    dual = np.linalg.norm(poly.A[rows], ord={1: np.inf, 2: 2, np.inf: 1}[p], axis=1)
    worst = poly.A[rows] @ center.ravel() - radius * dual - poly.b[rows]
    scale = np.linalg.norm(poly.A[rows], axis=1)
    assert (worst >= -SOLVER_ATOL * scale).all()


def _box_net():
    """relu(x), relu(1 - x) on [0, 1]^2 plus relu(x0 + x1 - 0.5): the region of the centre
    (0.6, 0.6) is the box cut by x0 + x1 >= 0.5."""
    b = plnet.NetworkBuilder((2,))
    w = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]])
    return b.build(b.relu(b.dense(b.input, w, np.array([0.0, 0.0, 1.0, 1.0, -0.5]))))


def test_exact_values_on_a_hand_built_polytope():
    net = _box_net()
    x = np.array([0.6, 0.7])
    np.testing.assert_allclose(exact.facet_distances(net, x, 2),
                               [0.6, 0.7, 0.4, 0.3, 0.8 / np.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(exact.facet_distances(net, x, np.inf),
                               [0.6, 0.7, 0.4, 0.3, 0.4], rtol=1e-6)
    assert np.isclose(exact.exact_margin(net, x, 1), 0.3, rtol=1e-6)
    center, radius = exact.chebyshev_center(net, x, np.inf)
    # c_i in [r, 1 - r] and c0 + c1 >= 0.5 + 2r: r = 0.375 at the unique centre (0.625, 0.625)
    np.testing.assert_allclose(center, [0.625, 0.625], atol=1e-6)
    assert np.isclose(radius, 0.375, rtol=1e-6)
    result = exact.verify_ball(net, x, 0.31, 2)
    assert not result and result.worst_row == 3 and np.isclose(result.worst_slack, -0.01)


def test_unbounded_regions_have_an_infinite_chebyshev_radius():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.input))  # a quadrant
    center, radius = exact.chebyshev_center(net, np.array([1.0, 2.0]), 2)
    assert radius == np.inf and np.array_equal(center, [1.0, 2.0])
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.dense(b.input, np.ones((1, 2))))  # no units at all
    assert exact.exact_margin(net, np.zeros(2), 2) == np.inf
    assert exact.verify_ball(net, np.zeros(2), 5.0).verified


def test_verify_ball_refuses_bad_radii_and_norms():
    net = _box_net()
    with pytest.raises(InvalidInputError, match="eps must be finite and >= 0"):
        exact.verify_ball(net, np.array([0.6, 0.7]), -1.0)
    with pytest.raises(InvalidInputError, match="p must be 1, 2 or inf"):
        exact.facet_distances(net, np.array([0.6, 0.7]), p=3)


def test_the_worst_row_of_a_failing_ball_is_the_binding_unit():
    net = _box_net()
    x = np.array([[0.6, 0.7]])
    lin = plnet.linearize(net, x)
    for p in PS:
        eps = plnet.margin(net, x, p)[0]
        assert exact.verify_ball(net, x[0], eps * 1.01, p).worst_row == binding_units(lin, p)[0]
