"""Appendix B: bisection certificates bracket the closed forms within their gap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet.analysis import bisect_directions, directional_margin_from
from plnet.analysis.margins import directional_rates
from plnet.errors import InvalidInputError
from plnet.testing import strategies as pst
from plnet.tolerances import BISECTION_GAP, INSIDE_SHRINK

#: round-off allowed at the ends of a bracket (relative to the margin)
ROUND_OFF = 1e-9


def assert_brackets(bracket, exact):
    lower, upper = bracket.lower, bracket.upper
    finite = np.isfinite(exact)
    np.testing.assert_array_equal(np.isfinite(lower), finite)
    tol = ROUND_OFF * (1 + np.where(finite, exact, 0))
    assert (lower[finite] <= exact[finite] + tol[finite]).all()
    assert (upper[finite] >= exact[finite] - tol[finite]).all()
    assert (upper[finite] - lower[finite] <= BISECTION_GAP * (1 + 1e-9)).all()


@settings(max_examples=40)
@given(pst.network_and_points(batch_size=2, max_input_size=24), st.sampled_from(
    ["halfspaces", "forward"]))
def test_l1_bisection_brackets_the_closed_form(net_x, check):
    net, x = net_x
    bracket = plnet.l1_margin_bisection(net, x, check=check)
    assert_brackets(bracket, plnet.margin(net, x, 1))


@settings(max_examples=40)
@given(st.data(), st.sampled_from(["halfspaces", "forward"]))
def test_directional_bisection_brackets_the_ratio_test(data, check):
    net, x = data.draw(pst.network_and_points(batch_size=2))
    v = data.draw(pst.directions_for(net, batch_size=2))
    lin = plnet.linearize(net, x)
    exact = directional_margin_from(lin, v)
    bracket = bisect_directions(net, lin, v.reshape(2, 1, -1), check=check)
    assert_brackets(plnet.analysis.Bracket(bracket.lower[:, 0], bracket.upper[:, 0]), exact)
    np.testing.assert_array_equal(plnet.directional_margin(net, x, v, method="bisection"),
                                  bisect_directions(net, lin, v.reshape(2, 1, -1)).lower[:, 0])


@settings(max_examples=50)
@given(st.data())
def test_directional_margin_is_tight_just_inside_and_just_outside(data):
    net, x = data.draw(pst.network_and_points(batch_size=1))
    v = data.draw(pst.directions_for(net))
    t = plnet.directional_margin(net, x, v)[0]
    key = plnet.linearize(net, x).pattern_keys()[0]
    poly = plnet.region(net, x[0])
    v = v.ravel()
    if not np.isfinite(t):
        far = x[0].ravel() + np.array([[10.0], [1e3]]) * v
        assert plnet.activation_pattern(net, far.reshape((2,) + net.input_shape)).keys() == [key] * 2
        return
    lin = plnet.linearize(net, x)
    rates = directional_rates(lin, v)[0]
    k = int(np.argmin(np.where(rates < 0, lin.slack[0] / -np.where(rates < 0, rates, 1), np.inf)))
    # go far enough past t that the crossed unit's slack is negative beyond round-off
    scale = 1 + np.abs(lin.z[0]).max() + np.abs(lin.grad[0]).sum(axis=1).max() * np.abs(x).max()
    beyond = 1 + max(1e-6, 1e-7 * scale / lin.slack[0, k])
    inside = x[0].ravel() + t * (1 - INSIDE_SHRINK) * v
    outside = x[0].ravel() + t * beyond * v
    keys = plnet.activation_pattern(net, np.stack([inside, outside]).reshape(
        (2,) + net.input_shape)).keys()
    assert keys[0] == key and poly.contains(inside)[0]
    assert keys[1] != key


def test_directional_margin_of_a_hand_built_region():
    # S(x) for x in the positive quadrant of relu(x0), relu(x1): the quadrant itself
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.input))
    x = np.array([[1.0, 3.0]])
    assert plnet.directional_margin(net, x, np.array([-1.0, 0.0]))[0] == 1.0
    assert plnet.directional_margin(net, x, np.array([-1.0, -1.0]))[0] == 1.0
    assert plnet.directional_margin(net, x, np.array([0.0, -2.0]))[0] == 1.5
    assert plnet.directional_margin(net, x, np.array([1.0, 1.0]))[0] == np.inf
    bracket = plnet.l1_margin_bisection(net, x)
    assert bracket.lower[0] <= 1.0 <= bracket.upper[0]
    assert plnet.directional_margin(net, x, np.array([1.0, 0.0]), method="bisection")[0] == np.inf


def test_bad_bisection_options_are_refused():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.input))
    lin = plnet.linearize(net, np.ones((1, 2)))
    with pytest.raises(InvalidInputError, match="check must be 'halfspaces' or 'forward'"):
        bisect_directions(net, lin, np.ones((1, 1, 2)), check="exact")
    with pytest.raises(InvalidInputError, match="gap must be positive"):
        bisect_directions(net, lin, np.ones((1, 1, 2)), gap=0.0)
    with pytest.raises(InvalidInputError, match="method must be 'ratio' or 'bisection'"):
        plnet.directional_margin(net, np.ones((1, 2)), np.ones(2), method="newton")
