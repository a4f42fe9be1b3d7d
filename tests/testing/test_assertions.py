"""plnet.testing's certificate assertions: they pass on exact margins and catch wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import plnet
from plnet.demo import relu_mlp
from plnet.testing import (assert_ball_in_region, assert_leaves_region_beyond,
                           assert_margin_is_exact)
from plnet.testing import strategies as pst

P_VALUES = (1, 2, np.inf)


@given(pst.network_and_points(), st.sampled_from(P_VALUES))
def test_the_exact_margin_passes_on_random_networks(net_and_x, p):
    net, x = net_and_x
    eps = float(plnet.margin(net, x[:1], p=p)[0])
    if np.isfinite(eps) and eps > 0:
        assert_margin_is_exact(net, x[0], eps, p=p, samples=16)


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_too_large_eps_is_caught(p, seed):
    net = relu_mlp((6, 16, 16, 3), seed)
    x = np.random.default_rng(seed).normal(size=6)
    eps = float(plnet.margin(net, x[None], p=p)[0])
    assert_ball_in_region(net, x, eps, p)
    with pytest.raises(AssertionError, match="leaves the linear region"):
        assert_ball_in_region(net, x, eps * 1.01, p)


@pytest.mark.parametrize("p", P_VALUES)
def test_a_too_small_eps_is_caught_by_the_point_just_beyond(p):
    net = relu_mlp((6, 16, 16, 3), 4)
    x = np.random.default_rng(4).normal(size=6)
    eps = float(plnet.margin(net, x[None], p=p)[0])
    assert_leaves_region_beyond(net, x, eps, p)
    with pytest.raises(AssertionError, match="still inside"):
        assert_margin_is_exact(net, x, eps * 0.99, p)
