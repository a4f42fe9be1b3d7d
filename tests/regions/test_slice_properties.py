"""Properties of exact slices on random networks of every family (plnet.testing strategies).

Every polygon's interior points have its pattern and the network equals its affine map
there; just beyond every inner edge the pattern is another one (so neighbours differ);
areas sum to the box's; on a grid every point has the pattern of the polygon holding it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from plnet.regions import slice1d, slice2d
from plnet.testing import strategies as pst
from tests.regions.slice_checks import check_edges, check_grid, check_partition

SMALL = dict(max_units=40, max_depth=3)


@st.composite
def planes(draw, **network_kwargs):
    net = draw(pst.networks(**network_kwargs))
    x0 = draw(pst.points_for(net))[0]
    u = draw(pst.directions_for(net))
    v = draw(pst.directions_for(net))
    flat = np.stack([u.ravel(), v.ravel()])
    assume(abs(np.linalg.det(flat @ flat.T)) > 1e-3)
    scale = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return net, x0, u, v, scale


@settings(max_examples=20)
@given(planes(**SMALL))
def test_slice_polygons_are_exact_regions_of_any_network(case):
    net, x0, u, v, scale = case
    s = slice2d(net, x0, u, v, bounds=(-scale, scale, -scale, scale))
    check_partition(net, s)
    check_edges(net, s)


@settings(max_examples=10)
@given(planes(families=("cnn1d", "cnn2d"), ops=["conv", "max_pool", "avg_pool", "relu",
                                               "leaky_relu", "prelu", "add", "dense", "flatten",
                                               "pad"], **SMALL))
def test_pooled_cnn_slices_match_a_dense_grid(case):
    net, x0, u, v, scale = case
    s = slice2d(net, x0, u, v, bounds=(-scale, scale, -scale, scale))
    check_partition(net, s)
    check_grid(net, s, n=30)


@settings(max_examples=15)
@given(planes(**SMALL))
def test_line_slices_are_exact_regions_of_any_network(case):
    net, x0, u, _, scale = case
    s = slice1d(net, x0, u, bounds=(-scale, 2 * scale))
    check_partition(net, s)
    check_edges(net, s)
