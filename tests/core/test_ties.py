"""Points exactly on a boundary: reported as ties, margin 0, refused by counting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.errors import TieError
from plnet.testing import strategies as pst


@settings(max_examples=40)
@given(pst.tied_network_and_point())
def test_a_point_on_a_boundary_is_a_tie_with_margin_zero(net_x):
    net, x = net_x
    lin = plnet.linearize(net, x)
    assert lin.ties[0]
    assert plnet.activation_pattern(net, x).ties[0]
    for p in (1, 2, np.inf):
        assert plnet.margin(net, x, p)[0] == 0.0
    assert plnet.l1_margin_bisection(net, x).lower[0] <= 1e-7
    with pytest.raises(TieError) as info:
        plnet.count_linear_regions(net, x)
    assert info.value.points == (0,)


@settings(max_examples=15)
@given(pst.tied_network_and_point())
def test_the_exact_margin_of_a_tie_is_zero(net_x):
    exact = pytest.importorskip("plnet.exact")
    net, x = net_x
    assert exact.exact_margin(net, x[0], 2) <= 1e-9
    assert not exact.verify_ball(net, x[0], 1e-3, np.inf).verified


def test_a_degenerate_tie_draws_no_boundary():
    # two dead ReLUs in one max-pool window: equal maxima, but the comparison is constant
    b = plnet.NetworkBuilder((1, 2))
    net = b.build(b.max_pool(b.relu(b.input), 2))
    x = np.array([[[-1.0, -2.0]]])
    assert plnet.activation_pattern(net, x).ties[0]
    lin = plnet.linearize(net, x)
    assert not lin.ties[0]
    assert plnet.margin(net, x, 2)[0] == 1.0
    assert tuple(plnet.count_linear_regions(net, x)) == (1, 1)
