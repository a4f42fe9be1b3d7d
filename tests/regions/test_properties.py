"""Properties of facets and neighbours on small random networks of every family.

Facets are checked row by row with an independent program (removing a facet enlarges the
region, removing any other row does not); each neighbour's point has the pattern with exactly
the facet's units crossed and the network equals the neighbour's affine map there.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import plnet
from plnet.regions import facets, neighbours
from plnet.regions.facets import unit_of_row
from plnet.testing import strategies as pst
from plnet.tolerances import FACET_LP_ATOL

POOLED_CNNS = pst.networks(families=("cnn1d",), input_shapes=[(1, 3), (1, 4)],
                           ops=["conv", "max_pool", "relu", "dense", "flatten"], max_units=24)
RNNS = pst.networks(families=("rnn",), input_shapes=[(2, 1), (3, 1), (2, 2)], max_units=24)

BOX = 1e6


def _deepest_violation(poly, removed):
    """min over the other rows' polyhedron (in a large box) of row i's normalized slack."""
    a, b = poly.A, poly.b
    norms = np.linalg.norm(a, axis=1)
    keep = (norms > 0) & ~np.isin(np.arange(len(b)), removed)
    i = removed[0]
    an, bn = a / np.where(norms > 0, norms, 1)[:, None], b / np.where(norms > 0, norms, 1)
    x = poly.point
    res = linprog(an[i], A_ub=-an[keep], b_ub=-(bn[keep] - an[keep] @ x),
                  bounds=[(-BOX, BOX)] * x.size, method="highs")
    assert res.status == 0
    witness = x + res.x
    return an[i] @ witness - bn[i], witness, an[keep], bn[keep]


def _check_rows(net, x):
    poly = plnet.region(net, x)
    found = facets(net, x)
    assert len(found.units) == len(found) == found.normals.shape[0]
    in_groups = set()
    for k, row in enumerate(found.rows):
        group = found.coincident[k]
        assert row in group
        in_groups.update(group.tolist())
        violation, witness, others_a, others_b = _deepest_violation(poly, group)
        # removing a facet enlarges the polytope: a witness violates it, keeps all others
        assert violation < -FACET_LP_ATOL * (1 + abs(found.offsets[k]))
        assert (others_a @ witness - others_b >= -1e-7 * (1 + np.abs(witness).max())).all()
    for row in range(len(poly)):
        if row in in_groups or not np.abs(poly.A[row]).any():
            continue
        # removing a redundant row changes nothing
        violation, *_ = _deepest_violation(poly, np.array([row]))
        assert violation >= -1e-6 * (1 + np.abs(poly.point).max())
    np.testing.assert_allclose(found.distances,
                               np.abs(found.normals @ x.ravel() - found.offsets), atol=1e-9)


def _position(net, node, indicators, unit):
    in_shape = net.shapes[net.inputs_of(node)[0]]
    return net.op(node).crossed(in_shape, indicators[node][0], unit)[0]


def _check_neighbours(net, x):
    found = facets(net, x)
    found_neighbours = neighbours(net, x)
    assert len(found_neighbours) == len(found)
    poly = plnet.region(net, x)
    own = plnet.activation_pattern(net, x[None]).indicators
    for k, other in enumerate(found_neighbours):
        pattern = plnet.activation_pattern(net, other.point[None])
        assert pattern.keys()[0] == other.key
        assert not plnet.linearize(net, other.point[None]).ties[0]
        # the facet's unit crosses; only later units on its hyperplane and units constant
        # on S(x) may change with it
        lin = found.linearization
        constant = np.flatnonzero((lin.z[0] == 0) & (np.abs(lin.grad[0]).max(axis=1) == 0))
        crossed = {found.units[k]}
        free = {unit_of_row(lin, int(r)) for r in np.append(constant, found.coincident[k][1:])}
        allowed = {(node, _position(net, node, own, unit)) for node, unit in crossed | free}
        changed = {(node, int(pos)) for node in own
                   for pos in np.flatnonzero(pattern.indicators[node] != own[node])}
        assert changed <= allowed
        assert (other.unit[0], _position(net, other.unit[0], own, other.unit[1])) in changed
        # the point lies across exactly the facet's rows of S(x)
        outside = np.flatnonzero(poly.slack(other.point)[0] < 0)
        assert sorted(outside.tolist()) == sorted(found.coincident[k].tolist())
        # the network is the neighbour's affine map there
        y = net(other.point[None]).reshape(-1)
        np.testing.assert_allclose(other.jacobian @ other.point.ravel() + other.offset, y,
                                   rtol=1e-9, atol=1e-9 * (1 + np.abs(y).max()))
        assert other.unit == found.units[k] and other.row == found.rows[k]


@settings(max_examples=15)
@given(pst.network_and_points(families=("mlp",), input_shapes=[(2,), (3,), (4,)],
                              max_units=24, max_depth=2))
def test_facets_are_exact_and_each_neighbour_crosses_only_its_facet_on_mlps(net_x):
    net, x = net_x
    _check_rows(net, x[0])
    _check_neighbours(net, x[0])


@pytest.mark.slow
@settings(max_examples=8)
@given(net=POOLED_CNNS | RNNS, seed=st.integers(0, 2**16))
def test_facets_and_neighbours_on_max_pool_and_recurrent_networks(net, seed):
    x = np.random.default_rng(seed).normal(size=net.input_shape)
    _check_rows(net, x)
    _check_neighbours(net, x)
