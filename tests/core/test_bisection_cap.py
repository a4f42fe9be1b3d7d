"""Appendix B's search brackets margins of any size: reaching its cap is never 'unbounded'."""

from __future__ import annotations

import numpy as np

import plnet
from plnet.analysis import bisect_directions


def tiny_slope_net(weight=1e-13):
    """One ReLU unit z = weight * x + 1: at x = 0 the margin is 1 / weight."""
    b = plnet.NetworkBuilder((1,))
    h = b.relu(b.dense(b.input, np.array([[weight]]), np.array([1.0])))
    return b.build(b.dense(h, np.ones((1, 1))))


def test_l1_bisection_brackets_a_margin_far_beyond_1e12():
    net, x = tiny_slope_net(), np.zeros((1, 1))
    bracket = plnet.l1_margin_bisection(net, x)
    assert bracket.lower[0] <= 1e13 <= bracket.upper[0]
    assert bracket.upper[0] - bracket.lower[0] <= 1e13 * 1e-12
    assert not bracket.capped[0]


def test_directional_bisection_finds_a_margin_far_beyond_1e12():
    net, x = tiny_slope_net(), np.zeros((1, 1))
    found = plnet.directional_margin(net, x, -np.ones(1), method="bisection")
    np.testing.assert_allclose(found, 1e13, rtol=1e-12)
    assert found[0] <= plnet.directional_margin(net, x, -np.ones(1))[0]


def test_a_ray_along_which_no_unit_decreases_is_unbounded():
    net, x = tiny_slope_net(), np.zeros((1, 1))
    assert plnet.directional_margin(net, x, np.ones(1), method="bisection")[0] == np.inf


def test_units_with_zero_gradient_leave_the_margin_unbounded():
    net = tiny_slope_net(weight=0.0)
    bracket = plnet.l1_margin_bisection(net, np.zeros((1, 1)))
    assert bracket.lower[0] == bracket.upper[0] == np.inf
    assert not bracket.capped[0]


def test_a_network_without_units_has_an_unbounded_margin():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.dense(b.input, np.ones((1, 2))))
    assert plnet.l1_margin_bisection(net, np.zeros((1, 2))).lower[0] == np.inf


def test_reaching_the_cap_is_flagged_with_the_cap_as_lower_bound():
    net, x = tiny_slope_net(), np.zeros((1, 1))
    lin = plnet.linearize(net, x)
    bracket = bisect_directions(net, lin, -np.ones((1, 1, 1)), max_radius=1e9)
    assert bracket.capped[0, 0]
    assert bracket.lower[0, 0] == 1e9 and bracket.upper[0, 0] == np.inf


def test_forward_check_agrees_far_beyond_1e12():
    net, x = tiny_slope_net(), np.zeros((1, 1))
    bracket = plnet.l1_margin_bisection(net, x, check="forward")
    assert bracket.lower[0] <= 1e13 <= bracket.upper[0]
