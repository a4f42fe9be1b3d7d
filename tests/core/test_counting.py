"""#CLR bounds (Lemma 7) on networks whose regions are known, and their tie handling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.errors import InvalidInputError, TieError
from plnet.testing import strategies as pst


def breakpoint_net(out_weights):
    """f(x) = sum_k w_k relu(x - k), k = 1, 2, 3: breakpoints at 1, 2, 3 (x in R^1)."""
    b = plnet.NetworkBuilder((1,))
    h = b.relu(b.dense(b.input, np.ones((3, 1)), np.array([-1.0, -2.0, -3.0])))
    return b.build(b.dense(h, np.array([out_weights], dtype=float)))


def test_counts_equal_the_intervals_hit_when_every_slope_differs():
    net = breakpoint_net([1.0, -2.0, 3.0])  # slopes 0, 1, -1, 2 on the four intervals
    X = np.array([[0.5], [1.5], [2.5], [3.5], [0.7], [3.9]])
    count = plnet.count_linear_regions(net, X)
    assert (count.lower, count.upper, count.n_points) == (4, 4, 6)
    lo, hi = plnet.count_linear_regions(net, X[[0, 4, 1]])
    assert (lo, hi) == (2, 2)
    assert tuple(plnet.count_linear_regions(net, np.array([[-5.0], [0.1]]))) == (1, 1)


def test_lower_is_below_upper_when_two_regions_share_a_jacobian():
    net = breakpoint_net([0.0, 1.0, 0.0])  # slopes 0, 0, 1, 1: four patterns, two maps
    X = np.array([[0.5], [1.5], [2.5], [3.5]])
    lo, hi = plnet.count_linear_regions(net, X)
    assert (lo, hi) == (2, 4)


def test_ties_are_refused_or_excluded():
    net = breakpoint_net([1.0, -2.0, 3.0])
    X = np.array([[0.5], [2.0], [2.5], [1.0]])  # 2.0 and 1.0 lie on breakpoints
    with pytest.raises(TieError, match="2 point\\(s\\) lie on a region boundary") as info:
        plnet.count_linear_regions(net, X)
    assert info.value.points == (1, 3)
    count = plnet.count_linear_regions(net, X, on_tie="exclude")
    assert (count.lower, count.upper, count.n_points, count.tied_points) == (2, 2, 2, (1, 3))
    with pytest.raises(TieError, match="every point lies on a region boundary"):
        plnet.count_linear_regions(net, X[[1, 3]], on_tie="exclude")
    with pytest.raises(InvalidInputError, match="on_tie must be 'raise' or 'exclude'"):
        plnet.count_linear_regions(net, X, on_tie="ignore")
    # tied points keep their dataset index across batches
    split = plnet.count_linear_regions(net, X, on_tie="exclude", batch_size=3)
    assert (split.lower, split.upper, split.tied_points) == (2, 2, (1, 3))


def test_batches_do_not_change_the_count():
    net = breakpoint_net([1.0, -2.0, 3.0])
    X = np.linspace(-1, 5, 61)[:, None] + 1e-3
    whole = plnet.count_linear_regions(net, X)
    assert tuple(whole) == (4, 4)
    assert tuple(plnet.count_linear_regions(net, X, batch_size=7)) == (4, 4)


@settings(max_examples=40)
@given(pst.network_and_points(batch_size=12, scale=2.0))
def test_bounds_are_ordered_and_upper_counts_the_distinct_patterns(net_x):
    net, X = net_x
    count = plnet.count_linear_regions(net, X)
    assert 1 <= count.lower <= count.upper <= count.n_points == len(X)
    assert count.upper == len(set(plnet.activation_pattern(net, X).keys()))
    jacobians = plnet.linearize(net, X).jacobian.reshape(len(X), -1)
    assert count.lower <= len({row.tobytes() for row in jacobians})
