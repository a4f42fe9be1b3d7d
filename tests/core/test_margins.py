"""Closed-form margins (Proposition 6) certify what they claim, on random networks.

Inside the certified l_p ball (and on the surface of the ball shrunk by INSIDE_SHRINK) the
activation pattern is x's and the network equals x's affine map; just beyond the margin,
along the binding unit's steepest direction, the point leaves S(x).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet.analysis import binding_units, margin_from, unit_distances
from plnet.testing import strategies as pst
from plnet.testing.sampling import ball_points, steepest_exit
from plnet.tolerances import CONTAINS_RTOL, INSIDE_SHRINK, REFERENCE_RTOL

PS = (1, 2, np.inf)
#: where a margin is infinite, balls of this radius are probed instead
FAR = 10.0


def assert_affine(net, lin, i, points):
    w, c = lin.affine_map(i)
    y = net(points.reshape((-1,) + net.input_shape)).reshape(len(points), -1)
    scale = 1.0 + np.abs(y).max() + np.abs(w).sum(axis=1).max(initial=0) * np.abs(points).max()
    np.testing.assert_allclose(y, points @ w.T + c, rtol=0, atol=REFERENCE_RTOL * scale)


def row_scale(poly, k, x):
    """The size of round-off in row k's slack near x (as Polyhedron.contains counts it)."""
    return 1 + abs(poly.b[k]) + np.abs(poly.A[k]).sum() * np.abs(x).max() * 2


def beyond_factor(poly, lin, i, k, x):
    """How far past the margin (relative) a point must go to be outside beyond round-off."""
    return 1 + max(1e-6, 100 * CONTAINS_RTOL * row_scale(poly, k, x) / lin.slack[i, k])


@settings(max_examples=50)
@given(pst.network_and_points(batch_size=2), st.integers(0, 2**32 - 1), st.booleans())
def test_points_inside_the_certified_ball_keep_the_pattern_and_the_affine_map(net_x, seed,
                                                                               surface):
    net, x = net_x
    lin = plnet.linearize(net, x)
    keys = lin.pattern_keys()
    rng = np.random.default_rng(seed)
    for p in PS:
        eps = margin_from(lin, p)
        for i in range(len(x)):
            assert not lin.ties[i]
            radius = (1 - INSIDE_SHRINK) * (eps[i] if np.isfinite(eps[i]) else FAR)
            points = ball_points(x[i], radius, p, 24, rng, surface=surface)
            pattern = plnet.activation_pattern(net, points.reshape((-1,) + net.input_shape))
            assert pattern.keys() == [keys[i]] * len(points), f"p={p}, point {i}"
            assert plnet.region(net, x[i]).contains(points).all()
            assert_affine(net, lin, i, points)


@settings(max_examples=50)
@given(pst.network_and_points(batch_size=3))
def test_just_beyond_the_margin_along_the_binding_normal_the_point_leaves_the_region(net_x):
    net, x = net_x
    lin = plnet.linearize(net, x)
    keys = lin.pattern_keys()
    for p in PS:
        eps, binding = margin_from(lin, p), binding_units(lin, p)
        assert ((binding >= 0) == np.isfinite(eps)).all()
        for i in np.flatnonzero(binding >= 0):
            k = binding[i]
            u = steepest_exit(lin.grad[i, k], lin.signs[i, k], p)
            assert np.isclose(np.linalg.norm(u, ord=p), 1.0)
            poly = plnet.region(net, x[i])
            scale = row_scale(poly, k, x[i])
            beyond = beyond_factor(poly, lin, i, k, x[i])
            outside = x[i].ravel() + eps[i] * beyond * u
            inside = x[i].ravel() + eps[i] * (1 - INSIDE_SHRINK) * u
            assert not poly.contains(outside)[0], f"p={p}: still inside beyond the margin"
            assert poly.contains(inside)[0]
            pattern = plnet.activation_pattern(net, np.stack([inside, outside]).reshape(
                (2,) + net.input_shape))
            assert pattern.keys()[0] == keys[i]
            assert pattern.keys()[1] != keys[i], f"p={p}: the pattern survived the margin"
            # the margin point itself lies on the binding unit's hyperplane
            on = poly.slack(x[i].ravel() + eps[i] * u)[0, k]
            assert abs(on) <= 1e-8 * scale


@settings(max_examples=60)
@given(pst.network_and_points(batch_size=4))
def test_margins_are_ordered_inf_2_1(net_x):
    net, x = net_x
    e_inf, e_2, e_1 = (plnet.margin(net, x, p) for p in (np.inf, 2, 1))
    slack = 1 + 1e-12
    assert (e_inf <= e_2 * slack).all() and (e_2 <= e_1 * slack).all()
    assert (e_inf > 0).all()  # no ties are drawn


@settings(max_examples=40)
@given(pst.network_and_points(batch_size=3))
def test_margin_is_the_smallest_unit_distance_and_batches_agree(net_x):
    net, x = net_x
    lin = plnet.linearize(net, x)
    for p in PS:
        dist = unit_distances(lin, p)
        np.testing.assert_array_equal(plnet.margin(net, x, p), dist.min(axis=1, initial=np.inf))
        for i in range(3):
            np.testing.assert_allclose(plnet.margin(net, x[i:i + 1], p)[0],
                                       plnet.margin(net, x, p)[i], rtol=1e-12)


def test_margin_of_a_single_relu_is_the_distance_to_its_hyperplane():
    w = np.array([[3.0, -4.0]])
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.dense(b.input, w, np.array([1.0]))))
    x = np.array([[2.0, 1.0]])  # z = 3
    assert plnet.margin(net, x, 2)[0] == 3.0 / 5.0
    assert plnet.margin(net, x, np.inf)[0] == 3.0 / 7.0
    assert plnet.margin(net, x, 1)[0] == 3.0 / 4.0
    assert plnet.margin(net, x, "inf")[0] == 3.0 / 7.0


def test_a_tie_has_margin_zero_and_a_constant_unit_adds_no_constraint():
    b = plnet.NetworkBuilder((2,))
    # unit 0: x0 - x1 (a tie at x0 == x1); unit 1: 0 * x + 2 (constant, never binds)
    net = b.build(b.relu(b.dense(b.input, np.array([[1.0, -1.0], [0.0, 0.0]]),
                                 np.array([0.0, 2.0]))))
    assert plnet.margin(net, np.array([[1.0, 1.0]]), 2)[0] == 0.0
    assert plnet.linearize(net, np.array([[1.0, 1.0]])).ties[0]
    assert np.isclose(plnet.margin(net, np.array([[2.0, 1.0]]), 2)[0], np.sqrt(0.5), rtol=1e-15)
    only_constant = plnet.NetworkBuilder((2,))
    net = only_constant.build(only_constant.relu(only_constant.dense(
        only_constant.input, np.zeros((1, 2)), np.array([1.0]))))
    assert plnet.margin(net, np.zeros((1, 2)), 1)[0] == np.inf
    assert binding_units(plnet.linearize(net, np.zeros((1, 2))), 1)[0] == -1


def test_a_network_without_units_has_infinite_margins():
    b = plnet.NetworkBuilder((3,))
    net = b.build(b.dense(b.input, np.ones((2, 3))))
    assert net.num_units == 0
    for p in PS:
        assert plnet.margin(net, np.zeros((2, 3)), p).tolist() == [np.inf, np.inf]


@pytest.mark.slow
@settings(max_examples=60)
@given(pst.network_and_points(batch_size=2, max_depth=5, max_width=16), st.integers(0, 2**32 - 1))
def test_deeper_networks_keep_the_pattern_inside_and_lose_it_beyond(net_x, seed):
    net, x = net_x
    lin = plnet.linearize(net, x)
    keys = lin.pattern_keys()
    rng = np.random.default_rng(seed)
    for p in PS:
        eps, binding = margin_from(lin, p), binding_units(lin, p)
        for i in range(len(x)):
            radius = (1 - INSIDE_SHRINK) * (eps[i] if np.isfinite(eps[i]) else FAR)
            points = ball_points(x[i], radius, p, 16, rng, surface=True)
            pattern = plnet.activation_pattern(net, points.reshape((-1,) + net.input_shape))
            assert pattern.keys() == [keys[i]] * len(points)
            assert_affine(net, lin, i, points)
            k = binding[i]
            if k >= 0:
                u = steepest_exit(lin.grad[i, k], lin.signs[i, k], p)
                beyond = beyond_factor(plnet.region(net, x[i]), lin, i, k, x[i])
                outside = (x[i].ravel() + eps[i] * beyond * u).reshape((1,) + net.input_shape)
                assert plnet.activation_pattern(net, outside).keys()[0] != keys[i]


def test_margin_percentiles_match_numpy_and_keep_unbounded_margins_infinite():
    from plnet.analysis.margins import margin_percentile

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 20):
        values = rng.exponential(size=n)
        for q in (0, 25, 50, 75, 100):
            np.testing.assert_allclose(margin_percentile(values, q), np.percentile(values, q))
    assert margin_percentile([1.0, np.inf], 50) == np.inf
    assert margin_percentile([1.0, np.inf], 0) == 1.0
    assert margin_percentile([np.inf, np.inf], 25) == np.inf
